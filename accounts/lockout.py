"""django-axes counts failed logins; the audit trail (invariant 6) must show them too, beside
everything else. An unknown username is recorded as unknown, not as typed: people type their
password into the username box, and the trail is append-only and exported."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.contrib.auth import get_user_model

from core.audit import audit_record

RULE = "login-throttle"


def _account(username: str | None):
    if not username:
        return None
    return get_user_model().objects.filter(username=username).first()


def _who(username: str | None, account) -> str:
    return repr(username) if account is not None else "an unknown username"


class AuditedAxesHandler(AxesDatabaseHandler):
    """Writes each failed login and lockout to the audit trail too."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        # Locked before this try: axes' backend refused it without checking the password.
        refused_while_locked = request is not None and self.is_locked(request, credentials)
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None:
            return
        login_failure_audit(request=request, credentials=credentials, refused_while_locked=refused_while_locked)


def login_failure_audit(*, request, credentials: dict, refused_while_locked: bool) -> None:
    username = get_client_username(request, credentials)
    account = _account(username)
    address = getattr(request, "axes_ip_address", None)
    limit = get_failure_limit(request, credentials)
    failures = getattr(request, "axes_failures_since_start", None)
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else None
    inputs = {
        "username": username if account is not None else None,
        "ip_address": address,
        "failures": failures,
        "limit": limit,
        "cool_off_minutes": minutes,
    }
    who = _who(username, account)
    if refused_while_locked:
        audit_record(
            action="login.refused_locked_out",
            rule=RULE,
            target=account,
            reason=f"login as {who} from {address} refused: locked out (password not checked); the lockout restarts",
            inputs=inputs,
        )
        return
    audit_record(
        action="login.failed",
        rule=RULE,
        target=account,
        reason=f"failed login as {who} from {address} ({failures} of {limit})",
        inputs=inputs,
    )
    if getattr(request, "axes_locked_out", False):
        audit_record(
            action="login.locked_out",
            rule=RULE,
            target=account,
            reason=f"{failures} failed logins as {who} from {address}: locked out for {minutes} minutes",
            inputs=inputs,
        )


def login_unlock_audit(*, attempt, unlocked_by, how: str) -> None:
    account = _account(attempt.username)
    audit_record(
        action="login.unlocked",
        actor_user=unlocked_by,
        target=account,
        reason=f"failed logins as {_who(attempt.username, account)} from {attempt.ip_address} cleared {how}",
        inputs={
            "username": attempt.username if account is not None else None,
            "ip_address": attempt.ip_address,
            "failures": attempt.failures_since_start,
        },
    )
