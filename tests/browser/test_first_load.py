"""The first load of each chart page is light, its static files cached for good, and every
chart on it drawn by the Plotly bundle we serve: measured in a real browser with an empty
cache, against the live web server."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from consent.models import HalfHourlyConsumption
from feeders.models import FeederReading
from tests.consent.factories import eligible_charger
from tests.feeders.factories import FeederFactory
from tests.reports.factories import EventFactory
from tests.test_processes import login

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]

FIRST_LOAD_BUDGET_BYTES = 1_000_000
ONE_YEAR_S = 365 * 24 * 3600

# Bytes over the wire (headers and encoded bodies) of the document and everything it
# loaded, from the browser's own Resource Timing entries.
TRANSFERRED_JS = """() => {
  const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
  return entries.map((e) => ({ name: e.name, bytes: e.transferSize }));
}"""

# Each server-built figure on the page (a JSON script with data) and what Plotly made of
# it: a trace type the bundle lacks is quietly drawn as another type (scattergl becomes
# scatter), so the types asked for are compared with the types drawn.
CHARTS_JS = """() => {
  const figures = [...document.querySelectorAll('script[type="application/json"]')]
    .map((node) => JSON.parse(node.textContent))
    .filter((spec) => spec && Array.isArray(spec.data) && spec.data.length && spec.layout);
  const plots = [...document.querySelectorAll(".js-plotly-plot")].map((gd) => {
    const drawn = new Set(gd._fullData.map((trace) => trace.type));
    const asked = gd.data.map((trace) => trace.type || "scatter");
    return { id: gd.id, types: asked, undrawn: asked.filter((type) => !drawn.has(type)) };
  });
  return { figures: figures.length, plots };
}"""


def _chart_pages() -> dict[str, str]:
    """One of each page with a chart, with data in each chart."""
    now = timezone.now().replace(second=0, microsecond=0)
    feeder = FeederFactory(rating_amps=400, last_load_percent=60.0)
    # A day of one-minute readings: the feeder page opens on the last hour; a day is the
    # heaviest range the operator picks.
    FeederReading.objects.bulk_create(
        FeederReading(
            feeder=feeder,
            measured_at=now - dt.timedelta(minutes=m),
            received_at=now - dt.timedelta(minutes=m),
            amps_l1=200.0 + m % 50,
            amps_l2=180.0,
            amps_l3=190.0,
            kw=130.0,
        )
        for m in range(24 * 60)
    )
    charger = eligible_charger(feeder=feeder)
    HalfHourlyConsumption.objects.bulk_create(
        HalfHourlyConsumption(mpan=mpan, period_start=now - dt.timedelta(minutes=30 * h), kwh=1.5)
        for mpan in charger.meter.mpans.all()
        for h in range(1, 48)
    )
    event = EventFactory(feeder=feeder, started_at=now - dt.timedelta(hours=3))
    return {
        # The overview has no chart: its network view is HTML.
        "feeder": f"/feeders/{feeder.pk}/",
        "feeder-day": f"/feeders/{feeder.pk}/?hours=24",
        "event": f"/curtailment/events/{event.pk}/",
        "compliance": "/curtailment/compliance/",
        "reports": "/reports/",
        "premise": f"/consent/premises/{charger.meter.premise.pk}/",
    }


def _first_load(chromium, web_url: str, cookies: list[dict], path: str) -> dict:
    """Open ``path`` in a new browser context (empty cache, logged in by cookie)."""
    context = chromium.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB")
    try:
        context.add_cookies(cookies)
        page = context.new_page()
        page.set_default_timeout(30_000)
        statics = []
        page.on("response", lambda response: statics.append(response) if "/static/" in response.url else None)
        page.goto(f"{web_url}{path}", wait_until="load")
        page.wait_for_load_state("networkidle")
        assert page.url == f"{web_url}{path}", f"{path} redirected to {page.url}"
        static_headers = [
            (response.url, response.request.all_headers(), response.all_headers()) for response in statics
        ]
        return {
            "transferred": page.evaluate(TRANSFERRED_JS),
            "charts": page.evaluate(CHARTS_JS),
            "statics": static_headers,
        }
    finally:
        context.close()


def test_each_chart_page_loads_under_a_megabyte_with_its_static_files_cached_for_good(chromium, live_stack, viewer):
    pages = _chart_pages()
    session = login(live_stack.web_url, viewer.username, "correct-horse-battery")
    cookies = [{"name": c.name, "value": c.value, "url": live_stack.web_url} for c in session.cookies]

    for name, path in pages.items():
        loaded = _first_load(chromium, live_stack.web_url, cookies, path)

        total = sum(entry["bytes"] for entry in loaded["transferred"])
        assert 0 < total <= FIRST_LOAD_BUDGET_BYTES, (name, total, loaded["transferred"])

        charts = loaded["charts"]
        assert charts["plots"], f"{name}: no chart drawn"
        assert len(charts["plots"]) == charts["figures"], (name, charts)
        for plot in charts["plots"]:
            assert plot["types"] and not plot["undrawn"], (name, plot)

        assert any("plotly" in url for url, _, _ in loaded["statics"]), name
        for url, request_headers, headers in loaded["statics"]:
            assert re.search(r"\.[0-9a-f]{12}\.\w+$", url), url  # a hashed name
            max_age = re.search(r"max-age=(\d+)", headers.get("cache-control", ""))
            assert max_age and int(max_age.group(1)) >= ONE_YEAR_S, (url, headers)
            assert "immutable" in headers["cache-control"], (url, headers)
            accepted = request_headers.get("accept-encoding", "")
            wanted = "br" if "br" in accepted else "gzip"
            if url.endswith((".js", ".css", ".svg")) and wanted in accepted:
                assert headers.get("content-encoding") == wanted, (url, accepted, headers)
