"""Writes of the feeders app (a package: the module outgrew 500 lines).

* :mod:`feeders.services.feeder`: monitor tokens, feeder status, the offline sweep, the
  operator's changes (automatic curtailment, alert acknowledgement);
* :mod:`feeders.services.ingest`: telemetry ingest (validation, idempotent bulk insert);
* :mod:`feeders.services.detection`: at-risk detection, alerts, announcing them to the
  engine (``feeders.hooks``).

Everything other apps use is re-exported here: import from ``feeders.services``.
"""

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
