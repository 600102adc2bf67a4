"""403, 404 and 500 pages in the dashboard's theme with its navigation, the favicon, and
refused requests logged without a traceback."""

import logging
import re

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from dnoctl.log_filters import ClientErrorsWithoutTraceback
from feeders.models import Feeder
from tests.feeders.factories import FeederFactory
from tests.processes import wait_for_log_line
from tests.test_processes import login

NAVIGATION = ['href="/curtailment/events/"', 'href="/curtailment/compliance/"', 'href="/consent/"']
THEME = re.compile(r'<link rel="stylesheet" href="/static/css/dnoctl\.[0-9a-f]{12}\.css">')


def _themed_with_navigation(html: str) -> None:
    assert THEME.search(html), html[:1500]
    for link in NAVIGATION:
        assert link in html, link


def _templates(response) -> list[str]:
    return [t.name for t in response.templates]


@pytest.mark.django_db
def test_a_missing_page_is_a_themed_404_with_navigation(viewer_client):
    response = viewer_client.get("/feeders/999999/")
    assert response.status_code == 404
    assert "404.html" in _templates(response)
    html = response.content.decode()
    _themed_with_navigation(html)
    assert "vera.viewer" in html  # the usual header, logged in


@pytest.mark.django_db
def test_a_refused_page_is_a_themed_403_with_navigation(viewer_client):
    response = viewer_client.get("/consent/import/")  # engineers only
    assert response.status_code == 403
    assert "403.html" in _templates(response)
    _themed_with_navigation(response.content.decode())


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_is_a_themed_403_and_changes_nothing(engineer):
    feeder = FeederFactory(automatic_curtailment=False)
    client = Client(enforce_csrf_checks=True)
    client.force_login(engineer)
    response = client.post(
        f"/feeders/{feeder.pk}/automatic/", {"auto-enabled": "1", "auto-reason": "test", "auto-confirm": "on"}
    )
    assert response.status_code == 403
    assert "403_csrf.html" in _templates(response)
    _themed_with_navigation(response.content.decode())
    assert Feeder.objects.get(pk=feeder.pk).automatic_curtailment is False


def test_the_500_page_needs_no_database_and_no_request_context():
    """No django_db mark: any query here fails the test."""
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    _themed_with_navigation(html)
    assert "Something went wrong" in html


@pytest.mark.django_db
@pytest.mark.urls("tests.dashboard.failing_urls")
def test_a_failing_view_shows_the_themed_500_page(viewer_client):
    viewer_client.raise_request_exception = False
    response = viewer_client.get("/failing/")
    assert response.status_code == 500
    _themed_with_navigation(response.content.decode())


@pytest.mark.django_db
def test_favicon_is_linked_and_favicon_ico_leads_to_it(client, viewer_client):
    page = viewer_client.get("/").content.decode()
    icon = re.search(r'<link rel="icon" href="(/static/favicon\.[0-9a-f]{12}\.svg)" type="image/svg\+xml">', page)
    assert icon, page[:1500]
    redirect = client.get("/favicon.ico")  # anonymous, as browsers and tools ask
    assert redirect.status_code == 302 and redirect["Location"] == icon.group(1)
    served = client.get(icon.group(1))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(served.streaming_content)


def _record(status: int) -> logging.LogRecord:
    try:
        raise PermissionError("refused")
    except PermissionError as error:
        record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "x", (), (type(error), error, None))
    record.status_code = status
    return record


@pytest.mark.parametrize(("status", "keeps_traceback"), [(403, False), (400, False), (500, True)])
def test_client_errors_lose_their_traceback_server_errors_keep_it(status, keeps_traceback):
    record = _record(status)
    assert ClientErrorsWithoutTraceback().filter(record) is True  # the line itself is kept
    assert (record.exc_info is not None) is keeps_traceback


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_the_live_server_logs_a_403_in_one_line_without_a_traceback(live_stack, viewer):
    log = live_stack.web.log
    already = len(log.read_text(errors="replace"))
    session = login(live_stack.web_url, viewer.username, "correct-horse-battery")
    assert session.get(f"{live_stack.web_url}/consent/import/", timeout=10).status_code == 403
    refused_form = session.post(f"{live_stack.web_url}/feeders/1/automatic/", data={}, timeout=10)
    assert refused_form.status_code == 403  # no CSRF token

    wait_for_log_line(log, "Forbidden (Permission denied): /consent/import/", live_stack.web.proc)
    wait_for_log_line(log, "Forbidden (CSRF", live_stack.web.proc)
    written = log.read_text(errors="replace")[already:]
    assert "Traceback" not in written, written
