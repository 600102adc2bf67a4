"""Queueing Celery tasks so that a broker outage never undoes, or hides, committed work.

Raising when the broker is down would turn an accepted, stored action into a 500, so
:func:`task_send` logs and returns False and the sweep that owns the work picks it up later."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What publishing raises when the broker is unreachable: Celery wraps the transport's
# connection errors in kombu's OperationalError once its publish retries are used up.
BROKER_ERRORS = (OperationalError, RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)

_failures: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("dnoctl_queueing_failures", default=None)


def task_send(task, args: tuple = (), kwargs: dict | None = None, **options: Any) -> bool:
    """False (logged, noted for :func:`queueing_failures`) when the broker cannot be reached."""
    try:
        task.apply_async(args, kwargs, **options)
    except BROKER_ERRORS as exc:
        reason = f"the task queue (Redis) is unreachable: {exc}"
        logger.warning("could not queue %s%r: %s; its sweep will pick the work up", task.name, tuple(args), reason)
        failures = _failures.get()
        if failures is not None:
            failures.append(reason)
        _broker_state.update(checked_at=time.monotonic(), probe=reason)
        return False
    return True


def task_send_on_commit(task, args: tuple = (), kwargs: dict | None = None, **options: Any) -> None:
    transaction.on_commit(lambda: task_send(task, args, kwargs, **options))


@contextlib.contextmanager
def queueing_failures() -> Iterator[list[str]]:
    """Reasons of every :func:`task_send` that failed inside the block, for a view to tell the operator."""
    collected: list[str] = []
    token = _failures.set(collected)
    try:
        yield collected
    finally:
        _failures.reset(token)


# The last broker failure this process saw, so a page can say why work is waiting without
# asking Redis on every render.
_broker_state: dict[str, Any] = {"checked_at": None, "probe": None}
BROKER_PROBE_EVERY_S = 5.0


def broker_problem() -> str | None:
    """Asks the broker at most every ``BROKER_PROBE_EVERY_S`` per process, so a busy page stays cheap."""
    from dnoctl.celery import app

    checked_at = _broker_state.get("checked_at")
    if checked_at is not None and time.monotonic() - checked_at < BROKER_PROBE_EVERY_S:
        return _broker_state.get("probe")
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=2)
        probe = None
    except Exception as exc:  # any failure to connect is the answer
        probe = f"the task queue (Redis) is unreachable: {exc}"
    _broker_state.update(checked_at=time.monotonic(), probe=probe)
    return probe
