"""How long a login lasts, by role (set once, at login).

* Operators and engineers (and staff): a control-room shift, ``CONTROL_SESSION_HOURS``
  (12 h) from the login, absolute: activity does not extend it, so a console left logged
  in does not carry one person's authority into the next shift.
* Everyone else (viewers): until the browser closes, and never longer than
  ``SESSION_COOKIE_AGE`` (12 h) without activity. A viewer's screen is often a shared or
  office machine.

Django's default was two weeks for everyone.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from core.roles import CONTROL_CURTAILMENT


def session_has_control(user) -> bool:
    """Whether ``user`` logs in to a control-room session (may curtail, or is staff)."""
    return user.is_staff or user.has_perm(CONTROL_CURTAILMENT)


def session_lifetime_set(*, session, user) -> None:
    """Fix the session's lifetime for ``user``'s role (see the module docstring)."""
    if session_has_control(user):
        hours = settings.DNOCTL["CONTROL_SESSION_HOURS"]
        session.set_expiry(timezone.now() + dt.timedelta(hours=hours))  # a datetime: absolute
    else:
        session.set_expiry(0)  # the browser forgets it on close; SESSION_COOKIE_AGE caps it


def session_lifetime_on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver."""
    if request is not None and hasattr(request, "session"):
        session_lifetime_set(session=request.session, user=user)
