"""The GBCS the simulated DCC and devices speak: real bytes, built and checked with :mod:`dcc.gbcs`
(checked against the DCC's RTDS vectors). Critical commands are user-signed pre-commands the DCC
wraps with its ACB MAC; non-critical ones the DCC builds and MACs; devices answer signed (ECS47) or
MAC'd (ECS61/62, alerts)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from dcc import gbcs
from dcc.duis.documents import DuisRequest, request_parameters
from dcc.duis.errors import DccArgumentError, DccSignatureError

from .devices import SimulatedDevice
from .users import SimulatedUser

ECS47_SERVICES = ("7.6", "7.8", "7.13", "7.16")
BOOST_PERIOD = dt.timedelta(minutes=30)  # how long a press lets the charger run (the meter's setting)
# DLMS results a device answers with when it cannot act (GBCS carries them per request).
OBJECT_UNDEFINED = 4
RESULTS_PER_SERVICE = {"7.6": 2, "7.8": 1, "7.13": 3, "7.16": 3}


def _moment(seconds: float) -> dt.datetime:
    """A UTC moment to the 1/100 s GBCS date-times carry."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.replace(microsecond=moment.microsecond // 10_000 * 10_000)


def pre_command_for(request: DuisRequest, *, stretch: bool = False) -> bytes:
    """The ECS47-family pre-command for a CV 4 7.6/7.8/7.13/7.16; ``stretch`` is the fault lengthening
    it by a minute."""
    params = request_parameters(request.srv, request.body)
    if stretch and params.get("duration_minutes") is not None:
        params = {**params, "duration_minutes": params["duration_minutes"] + 1}
    if stretch and params.get("end") is not None:
        params = {**params, "end": params["end"] + dt.timedelta(minutes=1)}
    rid = request.request_id
    return gbcs.pre_command_build(
        gbcs.Ecs47Request(
            service=request.srv,
            originator=rid.originator,
            device=rid.target,
            counter=rid.counter,
            switch_index=params["index"],
            duration_minutes=params.get("duration_minutes"),
            level=params.get("level"),
            start=params.get("start"),
            end=params.get("end"),
            input_from_controlled_load=params.get("input_from_controlled_load", False),
        )
    )


def signed_command_check(signed: bytes, *, issued: bytes, user: SimulatedUser) -> None:
    """What the DCC checks of a CV 5/6/7: its own pre-command, signed by the user's GBCS DS key."""
    if not signed.startswith(issued) or len(signed) != len(issued) + 1 + gbcs.frames.SIGNATURE_LENGTH:
        raise DccSignatureError("the signed command is not the pre-command issued for this request")
    try:
        gbcs.verify_signed(signed, user.gbcs_cert)
    except (gbcs.GbcsError, ValueError) as exc:
        raise DccSignatureError(f"pre-command signature: {exc}") from exc


def device_command(signed: bytes, *, acb_ka_key: ec.EllipticCurvePrivateKey, device: SimulatedDevice) -> bytes:
    """The signed command wrapped for the device (General Ciphering, the DCC's MAC)."""
    return gbcs.signed_command_wrap(
        signed, acb_ka_private_key=acb_ka_key, device_ka_public_key=device.ka_key.public_key()
    )


def non_critical_command(
    request: DuisRequest, *, acb_ka_key: ec.EllipticCurvePrivateKey, device: SimulatedDevice
) -> bytes:
    """The ECS61a/61c/62 command the DCC builds for a 7.7, 7.11, 7.9 or 7.10."""
    rid = request.request_id
    common = {
        "originator": rid.originator,
        "device": device.eui64,
        "counter": rid.counter,
        "acb_ka_private_key": acb_ka_key,
        "device_ka_public_key": device.ka_key.public_key(),
    }
    params = request_parameters(request.srv, request.body)
    if request.srv == "7.7":
        return gbcs.ecs61a_command_build(**common)
    if request.srv == "7.11":
        return gbcs.ecs61c_command_build(start=_moment(params["start"]), end=_moment(params["end"]), **common)
    membership = {index: request.srv == "7.9" for index in params["indexes"]}
    return gbcs.ecs62_command_build(boost_membership=membership, **common)


@dataclass(frozen=True)
class DeviceCommand:
    """What a device read from a command handed to it: whose, which service, its arguments."""

    originator: str
    counter: int
    srv: str
    body: dict[str, Any]


def device_command_read(
    command: bytes, *, device: SimulatedDevice, acb_ka_public_key: ec.EllipticCurvePublicKey, users: dict
) -> DeviceCommand:
    """A device checks the DCC's MAC (and the user's signature if critical), then reads the command."""
    try:
        gbcs.verify_mac(command, private_key=device.ka_key, peer_public_key=acb_ka_public_key)
        parsed = gbcs.parse(command)
    except (gbcs.GbcsError, ValueError) as exc:
        raise DccSignatureError(f"local command refused by the device: {exc}") from exc
    if parsed.recipient != device.eui64:
        raise DccArgumentError("target", "command is for another device")
    user = users.get(parsed.originator)
    if user is None:
        raise DccSignatureError(f"command from unknown user {parsed.originator}")
    if isinstance(parsed, gbcs.Ecs47Command):
        try:
            gbcs.verify_signed(command, user.gbcs_cert)
        except (gbcs.GbcsError, ValueError) as exc:
            raise DccSignatureError(f"critical command signature: {exc}") from exc
        body: dict[str, Any] = {"index": parsed.switch_index}
        if parsed.duration_minutes is not None:
            body["duration_minutes"] = parsed.duration_minutes
        if parsed.level is not None:
            body.update(
                level=parsed.level,
                start=parsed.start,
                end=parsed.end,
                input_from_controlled_load=parsed.input_from_controlled_load,
            )
        return DeviceCommand(parsed.originator, parsed.counter, parsed.service, body)
    if isinstance(parsed, gbcs.Ecs62Command):
        membership = parsed.boost_membership
        srv = "7.9" if all(membership.values()) else "7.10"
        return DeviceCommand(parsed.originator, parsed.counter, srv, {"indexes": sorted(membership)})
    if isinstance(parsed, gbcs.Ecs61cCommand):
        body = {"start": parsed.start.timestamp(), "end": parsed.end.timestamp()}
        return DeviceCommand(parsed.originator, parsed.counter, "7.11", body)
    return DeviceCommand(parsed.originator, parsed.counter, "7.7", {})


def device_response(
    *,
    device: SimulatedDevice,
    user: SimulatedUser,
    srv: str,
    counter: int,
    body: dict[str, Any],
    result: dict[str, Any],
    now: float,
) -> bytes:
    """The device's GBCS answer to a command it ran, ``result`` being its own account of it."""
    failed = result.get("status") != "success"
    common = {"originator": user.eui64, "device": device.eui64, "counter": counter}
    if srv in ECS47_SERVICES:
        results = [OBJECT_UNDEFINED] * RESULTS_PER_SERVICE[srv] if failed else None
        return gbcs.ecs47_response_build(service=srv, device_ds_private_key=device.ds_key, results=results, **common)
    mac = {"device_ka_private_key": device.ka_key, "recipient_ka_public_key": user.gbcs_ka_cert.public_key()}
    membership = {index: index in device.boost_button for index in range(1, 6)}
    if srv in ("7.9", "7.10"):
        return gbcs.ecs62_response_build(request_count=len(body.get("indexes") or ()), **common, **mac)
    if srv == "7.11":
        presses = (result.get("detail") or {}).get("presses") or []
        periods = [gbcs.BoostPeriod(start=_moment(t), end=_moment(t) + BOOST_PERIOD) for t in presses]
        return gbcs.ecs61c_response_build(
            boost_available=True, boost_periods=periods, boost_membership=membership, **common, **mac
        )
    # An APC's output is on while it is limited; an HCALCS held below 100 % is off.
    states = {index: device.switch_state(index, now) != "off" for index in device.switch_indexes}
    labels = {index: "EV charger" for index in device.switch_indexes}
    return gbcs.ecs61a_response_build(labels=labels, output_states=states, **common, **mac)


def boost_alert(*, device: SimulatedDevice, user: SimulatedUser, now: float) -> bytes:
    """The meter's alert 0x8161 for a boost-button press (MAC'd for ``user``)."""
    return gbcs.boost_alert_build(
        device=device.eui64,
        recipient=user.eui64,
        counter=device.next_alert_counter(now),
        timestamp=_moment(now),
        device_ka_private_key=device.ka_key,
        recipient_ka_public_key=user.gbcs_ka_cert.public_key(),
    )
