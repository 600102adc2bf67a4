"""Heartbeats of the worker and beat processes, and what ``/healthz`` makes of them.

A worker that died, or lost the broker, stops every dispatch, re-check and release without
a word; beat that died stops the re-checks. Each writes a heartbeat to the cache (Redis in
production, shared by every process; the local-memory cache in the embedded demo, where
everything runs in one process):

* the worker from a consumer bootstep (:class:`WorkerHeartbeat`): a timer in the consumer's
  own loop, so it beats only while the worker is connected and consuming;
* beat from its scheduler (:class:`HeartbeatScheduler`), on every tick (at least every
  ``CELERY_BEAT_MAX_LOOP_INTERVAL`` seconds).

``/healthz`` reads both and answers 503 naming the process not seen for longer than
``DNOCTL_HEARTBEAT_STALE_S``. Writing a heartbeat never raises: a lost Redis must not stop
the process that beats (it is then simply not seen).
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass

from celery import bootsteps
from celery.beat import PersistentScheduler
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
KEY_PREFIX = "dnoctl:heartbeat:"
KINDS = ("worker", "beat")


def heartbeat_write(kind: str, *, name: str) -> None:
    """Record that ``kind`` (worker or beat) named ``name`` is alive now."""
    try:
        cache.set(f"{KEY_PREFIX}{kind}", {"at": time.time(), "name": name}, timeout=None)
    except Exception as exc:  # Redis lost: the process goes on, unseen until it is back
        logger.warning("could not write the %s heartbeat: %s", kind, exc)


@dataclass(frozen=True)
class Liveness:
    kind: str
    name: str | None
    age_s: float | None  # None: never seen

    @property
    def stale(self) -> bool:
        return self.age_s is None or self.age_s > settings.DNOCTL["HEARTBEAT_STALE_S"]

    def as_json(self) -> dict:
        return {"seen_s_ago": None if self.age_s is None else round(self.age_s, 1), "name": self.name}

    @property
    def reason(self) -> str:
        if self.age_s is None:
            return f"no {self.kind} has been seen"
        return f"{self.kind} last seen {self.age_s:.0f} s ago"


def liveness_read() -> dict[str, Liveness]:
    """Each kind's last heartbeat (raises what the cache raises when Redis is down)."""
    beats = cache.get_many([f"{KEY_PREFIX}{kind}" for kind in KINDS])
    now = time.time()
    found = {}
    for kind in KINDS:
        beat = beats.get(f"{KEY_PREFIX}{kind}")
        found[kind] = Liveness(
            kind=kind,
            name=beat["name"] if beat else None,
            age_s=max(0.0, now - beat["at"]) if beat else None,
        )
    return found


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: beat from the consumer's timer while it is connected."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self._timer_entry = None

    def start(self, parent) -> None:
        name = parent.hostname or socket.gethostname()
        heartbeat_write("worker", name=name)
        self._timer_entry = parent.timer.call_repeatedly(HEARTBEAT_S, heartbeat_write, ("worker",), {"name": name})

    def stop(self, parent) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None

    shutdown = stop


class HeartbeatScheduler(PersistentScheduler):
    """Celery's own file-backed beat scheduler that also writes beat's heartbeat."""

    def tick(self, *args, **kwargs):
        heartbeat_write("beat", name=socket.gethostname())
        return super().tick(*args, **kwargs)
