"""Where the engine's database use differs between PostgreSQL (production) and SQLite (the
embedded demo, one process): the services call these and hold no dialect branch."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def postgresql() -> bool:
    return connection.vendor == "postgresql"


ACTION_LOCK_NAMESPACE = 0x43414354  # "CACT"
_held_locally: set[int] = set()
_held_lock = threading.Lock()


@contextmanager
def action_lease(action_id: int) -> Iterator[bool]:
    """Exclusive right to talk to the DCC about one action, or False when another task
    holds it (yielded, never waited for).

    On PostgreSQL a session advisory lock: a worker that dies mid-dispatch drops its
    connection and with it the lock, so a re-queued task can take over at once, while two
    live tasks (a redelivered message, a re-check resuming a slow dispatch) can never send
    the same action's requests side by side. Elsewhere (embedded SQLite, one process) a
    process-local set does the same job.
    """
    if not postgresql():
        with _held_lock:
            if action_id in _held_locally:
                acquired = False
            else:
                _held_locally.add(action_id)
                acquired = True
        try:
            yield acquired
        finally:
            if acquired:
                with _held_lock:
                    _held_locally.discard(action_id)
        return
    key = (ACTION_LOCK_NAMESPACE << 32) | (action_id & 0xFFFFFFFF)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
