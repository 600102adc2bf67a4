"""Where the engine's database use differs between PostgreSQL and SQLite (the embedded demo)."""

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
    """Exclusive right to talk to the DCC about one action, or False when another task holds it.

    On PostgreSQL a session advisory lock: a worker dying mid-dispatch drops it with its connection,
    so a re-queued task can take over at once. Embedded SQLite (one process) uses a process-local
    set.
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
