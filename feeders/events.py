"""What the feeders app pushes to Channels groups (``dnoctl.push``), as typed payloads.

Message types and their consumer handlers:

* ``feeder.reading`` -> ``feeder_reading``: the feeder's newest reading, to ``feeders.all``
  and ``feeders.feeder-<id>``. Sent once per feeder per ingest batch (its newest new
  reading), not once per row: a screen needs the latest value, and a head-end backlog of
  thousands of rows must not flood the channel layer.
* ``feeder.status`` -> ``feeder_status``: a status change (normal, at_risk, curtailing,
  offline), to the same two groups.
* ``feeder.alert`` -> ``feeder_alert``: an alert raised or cleared, to the same two groups.

Times are ISO 8601 in UTC (``...+00:00``); the page converts them to Europe/London.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypedDict

from dnoctl.push import FEEDERS_ALL, feeder_group, push_on_commit

READING = "feeder.reading"
STATUS = "feeder.status"
ALERT = "feeder.alert"


class FeederReadingPayload(TypedDict):
    feeder_id: int
    code: str
    measured_at: str
    amps: list[float]
    kw: float
    load_percent: float
    status: str


class FeederStatusPayload(TypedDict):
    feeder_id: int
    code: str
    status: str
    previous_status: str
    last_reading_at: str | None
    load_percent: float | None


class FeederAlertPayload(TypedDict):
    feeder_id: int
    code: str
    alert_id: int
    kind: str
    state: str  # "raised" or "cleared"
    raised_at: str
    cleared_at: str | None
    load_percent: float | None


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def feeder_groups(feeder_id: int) -> list[str]:
    return [FEEDERS_ALL, feeder_group(feeder_id)]


def reading_pushed(payload: FeederReadingPayload) -> None:
    """Queue a ``feeder.reading`` push for when the transaction commits."""
    push_on_commit(feeder_groups(payload["feeder_id"]), READING, payload)


def status_pushed(payload: FeederStatusPayload) -> None:
    """Queue a ``feeder.status`` push for when the transaction commits."""
    push_on_commit(feeder_groups(payload["feeder_id"]), STATUS, payload)


def alert_pushed(payload: FeederAlertPayload) -> None:
    """Queue a ``feeder.alert`` push for when the transaction commits."""
    push_on_commit(feeder_groups(payload["feeder_id"]), ALERT, payload)
