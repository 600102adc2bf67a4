"""Hooks from the DCC integration (``curtailment.service_requests``) into the engine.

Connected once from ``curtailment.apps.CurtailmentConfig.ready()`` so that every process
that applies DCC responses (the web server's ``/dcc/responses/``, a worker delivering
locally) moves the actions they concern.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from curtailment.services.common import logger


def on_device_response(sender, *, service_request, response=None, result=None, **kwargs) -> None:
    from curtailment.services.action import service_request_outcome

    try:
        service_request_outcome(service_request=service_request, result=result or {})
    except Exception:  # the response is stored; the minute re-check reconciles the action
        logger.exception("applying the device response to %s failed", service_request.request_id)


def on_device_alert(sender, *, target_eui64, alert_code, response_id=None, detail=None, **kwargs) -> None:
    from curtailment.service_requests import BOOST_ALERT_CODE
    from curtailment.services.action import hcalcs_boost_pressed

    if alert_code != BOOST_ALERT_CODE:
        logger.info("device alert %s from %s ignored", alert_code, target_eui64)
        return
    detail = detail or {}
    pressed = detail.get("pressed_at")
    pressed_at = _moment(pressed) or timezone.now()
    try:
        hcalcs_boost_pressed(
            esme_eui64=target_eui64,
            switch_indexes=detail.get("restored"),
            pressed_at=pressed_at,
            source=f"device alert {response_id or ''}".strip(),
        )
    except Exception:
        logger.exception("applying the boost alert %s from %s failed", response_id, target_eui64)


def _moment(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def connect() -> None:
    from curtailment.service_requests import device_alert_received, device_response_received

    device_response_received.connect(on_device_response, dispatch_uid="curtailment.engine.device_response")
    device_alert_received.connect(on_device_alert, dispatch_uid="curtailment.engine.device_alert")
