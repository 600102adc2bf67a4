"""Who acts on what the DCC tells us, installed by ``CurtailmentConfig.ready()`` so every process
applying DCC documents uses it."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from consent.boost import boost_device_answered
from curtailment.services.action import hcalcs_boost_pressed, service_request_outcome
from curtailment.services.common import logger
from dcc.duis.alert_codes import BOOST_ALERT_CODE
from dcc.models import ServiceRequest
from dcc.services import DeviceAlert


def _engine(service_request: ServiceRequest, result: dict) -> None:
    service_request_outcome(service_request=service_request, result=result)


def _boost_button(service_request: ServiceRequest, result: dict) -> None:
    boost_device_answered(service_request=service_request, result=result)


def _engine_and_boost_button(service_request: ServiceRequest, result: dict) -> None:
    service_request_outcome(service_request=service_request, result=result)
    boost_device_answered(service_request=service_request, result=result)


RESPONSE_HANDLERS = {
    "7.6": _engine,  # confirms or fails the action
    "7.7": _engine,  # switch data: logged against the action
    "7.8": _engine,  # the charger is back on: the action ends
    "7.9": _engine_and_boost_button,  # the action page updates; the HCALCS is on the boost button
    "7.10": _boost_button,  # the HCALCS is off the boost button
    "7.11": _engine_and_boost_button,  # presses found end actions; the premise page shows the log
    "7.16": _engine,  # a limit confirmed or failed, a level change applied, a lift ended
}


def boost_pressed(alert: DeviceAlert) -> None:
    """The customer pressed boost: end the live actions on the meter's boost-button switches (the alert names none)."""
    if not alert.detail.get("boost_pressed"):
        logger.info("alert %s from %s is not a boost press: logged only", alert.alert_code, alert.target_eui64)
        return
    pressed_at = _moment(alert.detail.get("pressed_at")) or timezone.now()
    hcalcs_boost_pressed(
        esme_eui64=alert.target_eui64,
        switch_indexes=None,
        pressed_at=pressed_at,
        source=f"device alert {alert.response_id or ''}".strip(),
    )


ALERT_HANDLERS = {BOOST_ALERT_CODE: boost_pressed}


def _moment(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        logger.warning("boost alert with an unreadable press time %r: using now", value)
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
