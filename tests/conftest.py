"""Shared fixtures: the session's collected static files, users in each role, and Django
test clients logged in as them."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings

from core.roles import ENGINEER, OPERATOR, VIEWER, role_grant, roles_ensure

pytest_plugins = ["tests.processes", "tests.browser_support"]


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory) -> Path:
    """The static files collected once per session into a temporary ``STATIC_ROOT``, as a
    deployment collects them (hashed names, brotli and gzip copies).

    Pages link static files through collectstatic's manifest, so the tests render them as
    production does: a template naming a missing file fails here too. The live web server
    (``tests.processes``) serves this same folder.
    """
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield root


def _user_in(group_name: str, username: str) -> User:
    roles_ensure()
    user = User.objects.create_user(username=username, password="correct-horse-battery")
    role_grant(user=user, role=group_name)
    return user


@pytest.fixture
def viewer(db) -> User:
    return _user_in(VIEWER, "vera.viewer")


@pytest.fixture
def operator(db) -> User:
    return _user_in(OPERATOR, "olly.operator")


@pytest.fixture
def engineer(db) -> User:
    return _user_in(ENGINEER, "erin.engineer")


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def engineer_client(client, engineer):
    client.force_login(engineer)
    return client


@pytest.fixture(autouse=True, scope="session")
def _api_replies_match_the_schema():
    """Every API reply any test gets through Django's test client is checked against the
    OpenAPI schema (``tests.api.conformance``)."""
    from django.conf import settings
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=["tests.api.conformance.SchemaConformanceMiddleware", *settings.MIDDLEWARE]):
        yield


@pytest.fixture
def queued_tasks():
    """The Celery messages waiting on the harness Redis broker: call for ``[(task, kwargs)]``.

    Reads the broker's queue (a process boundary), so the hand-over is checked for real."""
    import base64
    import json

    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")

    def read() -> list[tuple[str, dict]]:
        found = []
        for raw in broker.lrange("celery", 0, -1):
            message = json.loads(raw)
            body = json.loads(base64.b64decode(message["body"]))
            found.append((message["headers"]["task"], body[1]))
        return found

    yield read
    broker.delete("celery")
