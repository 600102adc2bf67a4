"""Heartbeats of the worker and beat, for ``/healthz``: a dead worker or beat stops dispatches
and re-checks without a word. The worker beats from its consumer's loop, so only while
consuming. Writing a heartbeat never raises: a lost Redis must not stop the process that beats."""

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
    def tick(self, *args, **kwargs):
        heartbeat_write("beat", name=socket.gethostname())
        return super().tick(*args, **kwargs)
