"""Fixtures of the consent tests."""

import pytest

from dnoctl.celery import app


@pytest.fixture
def celery_eager():
    """Run tasks queued with ``delay`` inline (retries too), as a worker would."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
