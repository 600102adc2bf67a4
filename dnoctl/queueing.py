"""Queueing Celery tasks so that a broker outage never undoes, or hides, committed work.

Redis may be lost (DESIGN.md: PostgreSQL is the truth). A task is queued after the
database work it follows has committed; if the broker cannot take it then, raising would
turn an operator's accepted action into a 500 (and skip the other on-commit callbacks)
although the event and its actions are stored. So :func:`task_send` logs the failure and
returns False, and the work is picked up by the sweep that owns it once the broker is back
(the minute re-check resumes planned dispatches and unanswered resets; the notices sweep,
the alert hand-over sweep and the boost-button reconcile do the same for theirs).

A view that wants to tell the operator wraps its work in :func:`queueing_failures` and
gets the list of what could not be queued, with the reason.
"""

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
    """``task.apply_async(args, kwargs, **options)``; False (logged, and noted for
    :func:`queueing_failures`) when the broker cannot be reached."""
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
    """:func:`task_send` once the current transaction commits (now, outside one)."""
    transaction.on_commit(lambda: task_send(task, args, kwargs, **options))


@contextlib.contextmanager
def queueing_failures() -> Iterator[list[str]]:
    """Collect the reasons of every :func:`task_send` that failed inside the block
    (including on-commit sends of a transaction that commits inside it)."""
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
    """Why the broker cannot take tasks now, or None when it can. Asks the broker at most
    every ``BROKER_PROBE_EVERY_S`` seconds per process (a page rendered often stays cheap)."""
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
