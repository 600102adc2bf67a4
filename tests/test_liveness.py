"""/healthz reports the worker's and beat's heartbeats; the embedded worker is restarted."""

from __future__ import annotations

import time

import pytest
from celery import Celery
from django.core.cache import cache

from dnoctl.embedded import WorkerSupervisor
from dnoctl.liveness import KEY_PREFIX, heartbeat_write


@pytest.fixture
def clean_heartbeats():
    cache.delete_many([f"{KEY_PREFIX}worker", f"{KEY_PREFIX}beat"])
    yield
    cache.delete_many([f"{KEY_PREFIX}worker", f"{KEY_PREFIX}beat"])


def _age(kind: str, seconds: float) -> None:
    cache.set(f"{KEY_PREFIX}{kind}", {"at": time.time() - seconds, "name": f"{kind}@test"}, timeout=None)


@pytest.mark.django_db
def test_healthz_is_ok_with_a_fresh_worker_and_beat_and_needs_no_login(client, clean_heartbeats):
    heartbeat_write("worker", name="celery@w1")
    heartbeat_write("beat", name="b1")
    reply = client.get("/healthz")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ok" and body["problems"] == []
    assert body["worker"]["name"] == "celery@w1" and body["worker"]["seen_s_ago"] < 5


@pytest.mark.django_db
def test_healthz_answers_503_naming_a_stale_worker_or_a_missing_beat(client, clean_heartbeats, settings):
    settings.DNOCTL = {**settings.DNOCTL, "HEARTBEAT_STALE_S": 60}
    _age("worker", 95)
    reply = client.get("/healthz")
    assert reply.status_code == 503
    body = reply.json()
    assert body["status"] == "unhealthy"
    assert body["problems"] == ["worker last seen 95 s ago", "no beat has been seen"]
    assert body["worker"]["seen_s_ago"] == pytest.approx(95, abs=2) and body["beat"]["seen_s_ago"] is None


@pytest.mark.django_db
def test_healthz_web_checks_only_the_web_process_and_database(client, clean_heartbeats):
    reply = client.get("/healthz/web")
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}


def test_the_embedded_worker_is_started_again_when_it_stops():
    app = Celery("supervisor-test", broker="memory://", set_as_current=False)
    app.conf.update(broker_transport_options={"polling_interval": 0.05}, task_ignore_result=True)
    done: list[int] = []

    @app.task(name="supervisor_test.record")
    def record(value: int) -> None:
        done.append(value)

    supervisor = WorkerSupervisor(app, concurrency=1).start()
    try:
        assert supervisor.wait_until_consuming()
        record.delay(1)
        deadline = time.monotonic() + 20
        while 1 not in done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done == [1]
        first = supervisor.worker
        first.stop(in_sighandler=False)  # the worker stops, unasked: the demo must not lose it
        deadline = time.monotonic() + 20
        while (supervisor.worker is first or supervisor.starts < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert supervisor.starts == 2 and supervisor.worker is not first
        assert supervisor.wait_until_consuming()
        record.delay(2)
        deadline = time.monotonic() + 20
        while 2 not in done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done == [1, 2]
    finally:
        supervisor.stop()
