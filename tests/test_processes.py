"""The live-process fixtures themselves: web, worker and simulator see the test database."""

import re

import pytest
import requests

from tests.consent.factories import eligible_charger


def login(web_url: str, username: str, password: str) -> requests.Session:
    """Log in through the real login form (CSRF token and all)."""
    session = requests.Session()
    page = session.get(f"{web_url}/accounts/login/", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    reply = session.post(
        f"{web_url}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{web_url}/accounts/login/"},
        timeout=5,
    )
    assert reply.status_code == 200 and "Log out" in reply.text, reply.text[:500]
    return session


@pytest.mark.django_db(transaction=True)
def test_live_stack_serves_the_test_database_and_knows_the_meters(live_stack, operator):
    charger = eligible_charger()
    feeder_code = charger.meter.premise.feeder.code
    assert requests.get(f"{live_stack.web_url}/healthz/web", timeout=5).json() == {"status": "ok"}
    # The worker (with its beat) started for this test has been seen by the web server.
    health = requests.get(f"{live_stack.web_url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    # The web server reads the same (test) database: the user and feeder made here show up.
    session = login(live_stack.web_url, operator.username, "correct-horse-battery")
    assert feeder_code in session.get(f"{live_stack.web_url}/", timeout=5).text
    assert live_stack.register_meters() == 1
    state = live_stack.simulator.device_state(charger.meter.esme_eui64)
    assert state is not None
    assert state["eui64"] == charger.meter.esme_eui64
