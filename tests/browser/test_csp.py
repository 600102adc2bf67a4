"""The Content-Security-Policy in a real browser: every main page, the admin, the API docs
and the error and lockout pages run under the policy the server sends with not one
violation (a blocked inline script or style, a fetch or WebSocket to somewhere not
allowed), each reported by chromium as a ``securitypolicyviolation`` event and on the
console."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from consent.choices import ConsentStatus
from core.audit import audit_record
from feeders.models import FeederAlert, FeederReading
from tests.browser_support import PASSWORD, screenshot
from tests.consent.factories import ConsentFactory, eligible_charger
from tests.feeders.factories import FeederFactory
from tests.reports.factories import EventFactory

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

# Runs before any page script (Playwright's init scripts are not subject to the page's CSP).
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _pages() -> dict[str, str]:
    """One of each page an operator or engineer works in, with data on it."""
    now = timezone.now().replace(second=0, microsecond=0)
    feeder = FeederFactory(rating_amps=400, last_load_percent=95.0)
    FeederReading.objects.bulk_create(
        FeederReading(
            feeder=feeder,
            measured_at=now - dt.timedelta(minutes=m),
            received_at=now - dt.timedelta(minutes=m),
            amps_l1=380.0,
            amps_l2=370.0,
            amps_l3=360.0,
            kw=250.0,
        )
        for m in range(60)
    )
    charger = eligible_charger(feeder=feeder)
    pending = ConsentFactory(status=ConsentStatus.PENDING, evidence_channel="", evidence_date=None)
    event = EventFactory(feeder=feeder, started_at=now - dt.timedelta(hours=1))
    FeederAlert.objects.create(feeder=feeder, kind="threshold", raised_at=now, load_percent=95.0)  # the alarm list
    return {
        "overview": "/",
        "alarms": "/alarms/",
        "feeder": f"/feeders/{feeder.pk}/",
        "events": "/curtailment/events/",
        "event": f"/curtailment/events/{event.pk}/",
        "compliance": "/curtailment/compliance/",
        "audit": "/curtailment/audit/",
        "reports": "/reports/",
        "premises": "/consent/premises/",
        "premise": f"/consent/premises/{charger.meter.premise.pk}/",
        "premise-pending": f"/consent/premises/{pending.tenancy.premise.pk}/",
        "tenancy": f"/consent/premises/{charger.meter.premise.pk}/tenancy/",
        "awaiting": "/consent/awaiting/",
        "import": "/consent/import/",
        "tenancy-feed": "/consent/tenancy-feed/",
        "notifications": "/consent/notifications/failed/",
        "not-found": "/no-such-page/",
        "admin": "/admin/",
        "admin-feeders": "/admin/feeders/feeder/",
        "admin-feeder": f"/admin/feeders/feeder/{feeder.pk}/change/",
        "admin-audit": "/admin/core/auditentry/",
        "admin-lockouts": "/admin/axes/accessattempt/",
        "api-docs": "/api/v1/docs",
    }


def _violations_on(page, url: str, *, live: bool) -> list[str]:
    console: list[str] = []
    page.on(
        "console",
        lambda message: console.append(message.text) if "Content Security Policy" in message.text else None,
    )
    response = page.goto(url, wait_until="load")
    assert "content-security-policy" in response.headers, url
    page.wait_for_load_state("networkidle")
    if live:  # the page's WebSocket is open: connect-src let it through
        page.wait_for_selector('body[data-live="live"]')
    return page.evaluate("window.__cspViolations") + console


def test_every_page_runs_under_the_policy_without_a_violation(chromium, live_stack, engineer):
    audit_record(action="event.start", actor_user=engineer, reason="for the audit page")
    pages = _pages()
    context = chromium.new_context(viewport={"width": 1600, "height": 1000}, locale="en-GB")
    try:
        context.add_init_script(COLLECT_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{live_stack.web_url}/accounts/login/")
        assert page.evaluate("window.__cspViolations") == []  # the login page too
        page.fill("#id_username", engineer.username)
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_selector("form.logout")

        found = {}
        for name, path in pages.items():
            live = name in ("overview", "alarms", "feeder", "event", "compliance")
            violations = _violations_on(page, f"{live_stack.web_url}{path}", live=live)
            if violations:
                screenshot(page, f"csp-{name}")
                found[name] = violations
        assert found == {}
    finally:
        context.close()


def test_the_lockout_page_runs_under_the_policy(chromium, live_stack, operator):
    context = chromium.new_context(locale="en-GB")
    try:
        context.add_init_script(COLLECT_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(30_000)
        for _ in range(5):
            page.goto(f"{live_stack.web_url}/accounts/login/")
            page.fill("#id_username", operator.username)
            page.fill("#id_password", "wrong-guess")
            page.click("form button[type=submit]")

        page.wait_for_selector("#locked-out")
        screenshot(page, "locked-out")
        assert page.evaluate("window.__cspViolations") == []
    finally:
        context.close()


def test_the_api_docs_work_under_their_own_policy(chromium, live_stack, engineer):
    """Swagger UI draws its icons as data: images, which only the docs page allows: opening
    an operation, trying it out and the Authorize dialog show them all without a violation."""
    context = chromium.new_context(viewport={"width": 1600, "height": 1000}, locale="en-GB")
    try:
        context.add_init_script(COLLECT_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{live_stack.web_url}/accounts/login/")
        page.fill("#id_username", engineer.username)
        page.fill("#id_password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_selector("form.logout")

        page.goto(f"{live_stack.web_url}/api/v1/docs")
        page.locator(".opblock-summary-path", has_text="/consent/grant/").click()
        page.locator("button.try-out__btn").click()
        page.locator("button.authorize").first.click()
        page.wait_for_selector(".modal-ux")
        page.wait_for_load_state("networkidle")

        screenshot(page, "api-docs-csp")
        assert page.evaluate("window.__cspViolations") == []
    finally:
        context.close()
