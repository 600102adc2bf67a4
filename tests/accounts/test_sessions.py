"""Session lifetimes by role, set at login: operators and engineers get 12 hours from the
login whatever they do (a shift); viewers' sessions end with the browser. Django's default
was two weeks for everyone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import timezone

from tests.browser_support import PASSWORD

pytestmark = pytest.mark.django_db

TWELVE_HOURS = dt.timedelta(hours=12)


def _logged_in_through_the_form(user) -> tuple[Client, object]:
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client, response.cookies[settings.SESSION_COOKIE_NAME]


def _close_to(value: dt.datetime, expected: dt.datetime) -> bool:
    return abs(value - expected) < dt.timedelta(minutes=1)


@pytest.mark.parametrize("role", ["operator", "engineer"])
def test_a_control_room_login_lasts_twelve_hours_from_the_login(request, role):
    user = request.getfixturevalue(role)
    logged_in_at = timezone.now()

    client, cookie = _logged_in_through_the_form(user)

    assert _close_to(client.session.get_expiry_date(), logged_in_at + TWELVE_HOURS)
    assert not client.session.get_expire_at_browser_close()
    assert abs(int(cookie["max-age"]) - TWELVE_HOURS.total_seconds()) < 60


def test_a_control_room_session_is_not_extended_by_activity(operator):
    client, _ = _logged_in_through_the_form(operator)
    first_expiry = client.session.get_expiry_date()

    # A change to the session (what messages and CSRF rotation do) saves it again.
    session = client.session
    session["touched"] = True
    session.save()

    assert SessionStore(session.session_key).get_expiry_date() == first_expiry


def test_a_viewer_login_ends_with_the_browser(viewer):
    client, cookie = _logged_in_through_the_form(viewer)

    assert client.session.get_expire_at_browser_close()
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a session cookie
    assert client.session.get_expiry_age() == 12 * 3600  # and the server's idle limit


def test_an_expired_control_room_session_is_logged_out(operator):
    client, _ = _logged_in_through_the_form(operator)
    assert client.get("/").status_code == 200
    # The shift ends (the expiry is a date, not a timer).
    session = client.session
    session.set_expiry(timezone.now() - dt.timedelta(seconds=1))
    session.save()

    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_no_session_lasts_two_weeks_any_more():
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.DNOCTL["CONTROL_SESSION_HOURS"] == 12
