"""Failed logins: five in a row for one username from one address lock that pair out for
15 minutes (django-axes); every failure, refusal and lockout is in the audit trail; an
engineer unlocks from the admin, audited. Through the real login form."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from core.models import AuditEntry
from tests.browser_support import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LIMIT = settings.AXES_FAILURE_LIMIT


def _login(client: Client, username: str, password: str, address: str = "192.0.2.10"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _actions() -> list[str]:
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


def test_the_limit_is_five_with_a_fifteen_minute_cool_off():
    assert LIMIT == 5
    assert dt.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


def test_sixty_wrong_passwords_then_the_right_one_is_refused(operator):
    """The issue's scenario: the right password no longer works after a guessing run."""
    client = Client()
    for _ in range(60):
        _login(client, operator.username, "wrong-guess")

    response = _login(client, operator.username, PASSWORD)

    assert response.status_code == 429
    assert b'id="locked-out"' in response.content
    assert not _logged_in(client)


def test_every_failure_and_the_lockout_are_audited(operator):
    client = Client()
    for _ in range(LIMIT):
        assert _login(client, operator.username, "wrong-guess").status_code in (200, 429)

    assert _actions() == ["login.failed"] * LIMIT + ["login.locked_out"]
    lockout = AuditEntry.objects.get(action="login.locked_out")
    assert lockout.actor == "rule:login-throttle"
    assert (lockout.target_type, lockout.target_id) == ("auth.user", str(operator.pk))
    assert lockout.inputs == {
        "username": operator.username,
        "ip_address": "192.0.2.10",
        "failures": LIMIT,
        "limit": LIMIT,
        "cool_off_minutes": 15,
    }
    assert "locked out for 15 minutes" in lockout.reason


def test_a_try_while_locked_out_is_refused_unchecked_and_audited(operator):
    client = Client()
    for _ in range(LIMIT):
        _login(client, operator.username, "wrong-guess")

    _login(client, operator.username, PASSWORD)

    refused = AuditEntry.objects.order_by("id").last()
    assert refused.action == "login.refused_locked_out"
    assert "password not checked" in refused.reason


def test_the_lock_is_per_username_and_address(operator, viewer):
    for _ in range(LIMIT):
        _login(Client(), operator.username, "wrong-guess")

    from_elsewhere = Client()
    _login(from_elsewhere, operator.username, PASSWORD, address="192.0.2.99")
    someone_else = Client()
    _login(someone_else, viewer.username, PASSWORD)

    assert _logged_in(from_elsewhere)
    assert _logged_in(someone_else)


def test_the_lock_ends_after_the_cool_off(operator):
    for _ in range(LIMIT):
        _login(Client(), operator.username, "wrong-guess")
    # Fifteen minutes pass (the attempts are dated, not timed).
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - dt.timedelta(minutes=16))

    client = Client()
    response = _login(client, operator.username, PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_a_good_login_resets_the_count(operator):
    client = Client()
    for _ in range(LIMIT - 1):
        _login(client, operator.username, "wrong-guess")
    _login(client, operator.username, PASSWORD)
    client.post(reverse("logout"))

    for _ in range(LIMIT - 1):
        _login(client, operator.username, "wrong-guess")
    _login(client, operator.username, PASSWORD)

    assert _logged_in(client)
    assert "login.locked_out" not in _actions()


def test_an_unknown_username_is_audited_without_what_was_typed(db):
    _login(Client(), "my-secret-password-typed-in-the-wrong-box", "x")

    entry = AuditEntry.objects.get(action="login.failed")
    assert entry.inputs["username"] is None
    assert "my-secret" not in entry.reason
    assert entry.target_type == ""


def test_an_engineer_unlocks_a_login_in_the_admin_audited(operator, engineer_client):
    for _ in range(LIMIT):
        _login(Client(), operator.username, "wrong-guess")
    attempt = AccessAttempt.objects.get()
    changelist = reverse("admin:axes_accessattempt_changelist")

    listed = engineer_client.get(changelist)
    unlocked = engineer_client.post(changelist, {"action": "unlock", "_selected_action": [attempt.pk]})

    assert listed.status_code == 200 and operator.username in listed.content.decode()
    assert unlocked.status_code == 302
    assert not AccessAttempt.objects.exists()
    entry = AuditEntry.objects.get(action="login.unlocked")
    assert entry.actor == "erin.engineer"
    assert (entry.target_type, entry.target_id) == ("auth.user", str(operator.pk))
    assert entry.inputs == {"username": operator.username, "ip_address": "192.0.2.10", "failures": LIMIT}
    client = Client()
    _login(client, operator.username, PASSWORD)
    assert _logged_in(client)


def test_deleting_an_attempt_in_the_admin_is_an_audited_unlock_too(operator, engineer_client):
    for _ in range(LIMIT):
        _login(Client(), operator.username, "wrong-guess")
    attempt = AccessAttempt.objects.get()

    engineer_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})

    assert not AccessAttempt.objects.exists()
    assert AuditEntry.objects.filter(action="login.unlocked", actor="erin.engineer").count() == 1


def test_operators_and_viewers_cannot_unlock(operator, viewer):
    for user in (operator, viewer):
        client = Client()
        client.force_login(user)
        response = client.get(reverse("admin:axes_accessattempt_changelist"))
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/")
