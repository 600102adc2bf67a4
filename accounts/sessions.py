"""How long a login lasts, by role. A control-room session ends a shift after login whatever the
activity, so a console left logged in does not carry one person's authority into the next shift;
a viewer's session ends with the browser."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from core.roles import CONTROL_CURTAILMENT


def session_has_control(user) -> bool:
    return user.is_staff or user.has_perm(CONTROL_CURTAILMENT)


def session_lifetime_set(*, session, user) -> None:
    if session_has_control(user):
        hours = settings.DNOCTL["CONTROL_SESSION_HOURS"]
        session.set_expiry(timezone.now() + dt.timedelta(hours=hours))  # a datetime: absolute
    else:
        session.set_expiry(0)  # the browser forgets it on close; SESSION_COOKIE_AGE caps it


def session_lifetime_on_login(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        session_lifetime_set(session=request.session, user=user)
