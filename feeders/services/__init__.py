"""Writes of the feeders app; other apps import them from here."""

from feeders.services.detection import (
    TREND_FLOOR_PERCENT,
    ExternalAlertResult,
    feeder_alert_raise_external,
)
from feeders.services.feeder import (
    alert_acknowledge,
    feeder_automatic_set,
    feeder_status_refresh,
    feeder_status_set,
    feeders_offline_sweep,
    monitor_token_issue,
)
from feeders.services.ingest import (
    FUTURE_SKEW,
    MAX_BATCH_ROWS,
    IngestResult,
    TelemetryRejected,
    telemetry_ingest,
)

__all__ = [
    "FUTURE_SKEW",
    "MAX_BATCH_ROWS",
    "TREND_FLOOR_PERCENT",
    "ExternalAlertResult",
    "IngestResult",
    "TelemetryRejected",
    "alert_acknowledge",
    "feeder_alert_raise_external",
    "feeder_automatic_set",
    "feeder_status_refresh",
    "feeder_status_set",
    "feeders_offline_sweep",
    "monitor_token_issue",
    "telemetry_ingest",
]
