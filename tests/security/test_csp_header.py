"""The Content-Security-Policy header each reply carries (django-csp, dnoctl.csp): the
site's strict policy everywhere, the page's own WebSocket origin in connect-src, and the
API docs' one addition. ``tests/browser/test_csp.py`` runs the pages under it in chromium."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'", "ws://testserver"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy_of(response) -> dict[str, list[str]]:
    directives = [part.strip().split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/", "/curtailment/compliance/", "/consent/premises/", "/reports/", "/admin/"])
def test_pages_carry_the_strict_policy(engineer_client, path):
    response = engineer_client.get(path)

    assert response.status_code == 200
    assert policy_of(response) == STRICT


def test_no_inline_script_or_eval_is_allowed_anywhere(engineer_client):
    header = engineer_client.get("/")["Content-Security-Policy"]

    assert "unsafe-inline" not in header
    assert "unsafe-eval" not in header
    assert "*" not in header


def test_the_login_and_error_pages_carry_it_too(client, viewer_client):
    assert policy_of(client.get("/accounts/login/")) == STRICT
    assert policy_of(viewer_client.get("/no-such-page/")) == STRICT


def test_over_https_the_websocket_origin_is_wss(engineer_client):
    response = engineer_client.get("/", secure=True)

    assert policy_of(response)["connect-src"] == ["'self'", "wss://testserver"]


def test_only_the_api_docs_may_load_data_images(viewer_client):
    docs = policy_of(viewer_client.get("/api/v1/docs"))

    assert docs == {**STRICT, "img-src": ["'self'", "data:"]}
