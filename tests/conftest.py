"""Shared fixtures: users in each role, and Django test clients logged in as them."""

import pytest
from django.contrib.auth.models import Group, User

from dnoctl.roles import ENGINEER, OPERATOR, VIEWER, roles_ensure

pytest_plugins = ["tests.processes", "tests.browser_support"]


def _user_in(group_name: str, username: str) -> User:
    roles_ensure()
    user = User.objects.create_user(username=username, password="correct-horse-battery")
    user.groups.add(Group.objects.get(name=group_name))
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
