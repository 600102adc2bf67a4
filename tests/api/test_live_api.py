"""A property-based run of the live APIs against their own schema (schemathesis).

The real uvicorn process of ``tests.processes``, on loopback, serves the schema and
answers every generated request, each API with valid credentials: a monitor token, a
consent API token, a session logged in through the login form (with its CSRF token).
Every reply must not be a 5xx and must match the schema for its operation and status; a
request the schema calls invalid must be refused (4xx); an operation that needs
credentials must refuse a request without them; a method an address does not take must
be a 405 with ``Allow``. Not checked: that every request the schema calls valid is
accepted, because valid-looking data can still be refused for good reasons (an unknown
feeder, a consent already granted). Path parameters mostly name real premises and
exports, so the bodies reach the code behind the 404s. A bounded number of examples per
operation keeps the run short.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from consent.api import token_hash
from consent.choices import ConsentStatus
from consent.models import ApiToken
from feeders.services import monitor_token_issue
from tests.api.conformance import openapi_schema
from tests.browser_support import PASSWORD
from tests.consent.factories import ConsentFactory, eligible_charger
from tests.feeders.factories import FeederFactory

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
    negative_data_rejection,
    unsupported_method,
]
CONSENT_TOKEN = "schemathesis-consent-token-0123456789"


@dataclass
class LiveApi:
    """Where the API runs, the credentials of each API, and real objects to name."""

    web_url: str
    monitor_token: str
    session: requests.Session
    premises: list[str]
    export_id: str

    def credentials(self, case) -> dict:
        """``case.call`` keyword arguments authenticating the case's operation."""
        if case.path in ("/api/v1/telemetry/", "/api/v1/alerts/"):
            return {"headers": {"Authorization": f"Bearer {self.monitor_token}"}}
        if case.path.startswith("/api/v1/consent/"):
            return {"headers": {"Authorization": f"Bearer {CONSENT_TOKEN}"}}
        if case.path.startswith("/api/v1/reports/"):
            cookies = self.session.cookies.get_dict()
            headers = {"X-CSRFToken": cookies["csrftoken"]}
            if case.meta is not None and case.meta.is_negative_at(ParameterLocation.COOKIE):
                return {"headers": headers}  # the case leaves the session cookie out on purpose
            return {"headers": headers, "cookies": cookies}
        return {}  # the DCC's endpoint: authenticated by the document's signature

    def name_real_objects(self, case) -> None:
        """Two cases in three name a real premise or export instead of the generated one
        (chosen from the generated values, so a failing example replays the same way)."""
        draw = zlib.crc32(repr(sorted(case.path_parameters.items())).encode())
        if draw % 3 == 0:
            return
        if "reference" in case.path_parameters:
            case.path_parameters["reference"] = self.premises[draw % len(self.premises)]
        if "export_id" in case.path_parameters:
            case.path_parameters["export_id"] = self.export_id


def _logged_in_session(web_url: str, user) -> requests.Session:
    """A session logged in through the real login form."""
    session = requests.Session()
    session.get(f"{web_url}/accounts/login/", timeout=10)
    reply = session.post(
        f"{web_url}/accounts/login/",
        data={"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{web_url}/accounts/login/"},
        timeout=10,
    )
    assert reply.ok and "sessionid" in session.cookies, reply.text[:500]
    return session


@pytest.fixture
def live_api(live_processes, engineer) -> LiveApi:
    ApiToken.objects.create(name="schemathesis", user=engineer, token_sha256=token_hash(CONSENT_TOKEN))
    # The feeder the schema's examples name, so the examples reach the stored-reading path.
    feeder = FeederFactory(code="SS001-F0001", monitor_device_id="MON-0001", rating_amps=400.0)
    granted = eligible_charger(feeder=feeder).meter.premise
    pending = ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)
    session = _logged_in_session(live_processes.web_url, engineer)
    export = session.post(
        f"{live_processes.web_url}/api/v1/reports/exports/",
        json={"format": "json", "month": "2026-06"},
        headers={"X-CSRFToken": session.cookies["csrftoken"]},
        timeout=10,
    )
    assert export.status_code == 202, export.text
    return LiveApi(
        web_url=live_processes.web_url,
        monitor_token=monitor_token_issue(name="schemathesis-head-end"),
        session=session,
        premises=[granted.reference, pending.tenancy.premise.reference],
        export_id=export.json()["id"],
    )


# Loaded when the tests are collected (schemathesis' fixture-loaded schemas need pytest < 9.2);
# the first test checks that the live server serves this very schema.
schema = schemathesis.openapi.from_dict(
    openapi_schema(),
    # 413 is how the telemetry API refuses a batch over its row limit (maxItems).
    config=schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 405, 409, 413, 415, 422]}}}
    ),
)


def test_the_live_server_serves_the_schema_under_test(live_api):
    served = live_api.session.get(f"{live_api.web_url}/api/v1/openapi.json", timeout=10)

    assert served.status_code == 200
    assert served.json() == openapi_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_the_live_api_keeps_to_its_schema_and_never_fails_with_a_5xx(case, live_api):
    live_api.name_real_objects(case)

    case.call_and_validate(base_url=live_api.web_url, checks=CHECKS, timeout=30, **live_api.credentials(case))
