"""Build -> parse -> authenticate with freshly generated keys (no reference data needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcc.gbcs import (
    BoostPeriod,
    DeviceAlert,
    Ecs47Request,
    GbcsAuthenticationError,
    GbcsError,
    PreCommandMismatch,
    UserInterfaceCommand,
    authenticate_alert,
    authenticate_response,
    boost_alert_build,
    check_pre_command,
    ecs47_response_build,
    ecs61a_response_build,
    ecs61c_command_build,
    ecs61c_response_build,
    ecs62_command_build,
    ecs62_response_build,
    parse,
    parse_pre_command,
    pre_command_build,
    sign_pre_command,
    signed_command_wrap,
    verify_mac,
    verify_signed,
)

NOW = datetime(2025, 11, 20, 17, 30, tzinfo=UTC)


def _request(user, esme, service="7.6", **fields) -> Ecs47Request:
    defaults = {"7.5": {"duration_minutes": 30}, "7.6": {"duration_minutes": 45}, "7.8": {}}.get(
        service, {"level": 40, "start": NOW, "end": NOW + timedelta(minutes=30)}
    )
    return Ecs47Request(
        service=service,
        originator=user.eui,
        device=esme.eui,
        counter=1_763_659_800_123,
        switch_index=2,
        **{**defaults, **fields},
    )


@pytest.mark.parametrize("service", ["7.5", "7.6", "7.8", "7.13", "7.16"])
def test_pre_command_round_trips_and_its_signature_verifies(user, esme, service):
    request = _request(user, esme, service)

    pre_command = pre_command_build(request)
    signed = sign_pre_command(pre_command, expected=request, private_key=user.ds)

    assert check_pre_command(pre_command, request).service == service
    assert signed.startswith(pre_command) and signed[len(pre_command)] == 0x40
    verify_signed(signed, user.ds.public_key())
    assert parse(signed).signature == signed[-64:]


def test_signing_is_deterministic_so_a_retry_sends_the_same_bytes(user, esme):
    request = _request(user, esme)
    pre_command = pre_command_build(request)

    assert sign_pre_command(pre_command, expected=request, private_key=user.ds) == sign_pre_command(
        pre_command, expected=request, private_key=user.ds
    )


def test_signature_by_another_key_does_not_verify(user, esme):
    request = _request(user, esme)
    signed = sign_pre_command(pre_command_build(request), expected=request, private_key=esme.ds)

    with pytest.raises(GbcsAuthenticationError, match="does not verify"):
        verify_signed(signed, user.ds.public_key())


def test_an_already_signed_command_is_not_signed_again(user, esme):
    request = _request(user, esme)
    signed = sign_pre_command(pre_command_build(request), expected=request, private_key=user.ds)

    with pytest.raises(GbcsError, match="already signed"):
        sign_pre_command(signed, expected=request, private_key=user.ds)


def test_a_future_dated_pre_command_is_refused(user, esme):
    """GIVEN a pre-command whose grouping header carries an execution date-time THEN it is
    refused: the device would act later than the immediate switch asked for."""
    request = _request(user, esme)
    command = parse_pre_command(pre_command_build(request))
    future = replace(command, frame=replace(command.frame, header=replace(command.header, date_time=NOW)))

    with pytest.raises(PreCommandMismatch, match="execution date-time"):
        check_pre_command(future, request)


_services = st.sampled_from(["7.5", "7.6", "7.8", "7.13", "7.16"])


@st.composite
def _requests(draw, user_eui: str, device_eui: str) -> Ecs47Request:
    service = draw(_services)
    fields: dict = {}
    if service in ("7.5", "7.6"):
        fields["duration_minutes"] = draw(st.integers(0, 0xFFFF))
    if service in ("7.13", "7.16"):
        start = draw(st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)))
        start = start.replace(microsecond=0)
        fields.update(
            level=draw(st.integers(0, 100)),
            start=start,
            end=start + timedelta(minutes=draw(st.integers(1, 24 * 60))),
            input_from_controlled_load=draw(st.booleans()),
        )
    return Ecs47Request(
        service=service,
        originator=user_eui,
        device=draw(st.sampled_from([device_eui, "00-DB-12-34-56-78-90-A1"])),
        counter=draw(st.integers(0, 2**64 - 1)),
        switch_index=draw(st.integers(1, 5)),
        **fields,
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_pre_command_is_signed_only_when_it_says_exactly_what_was_asked(user, esme, data):
    asked = data.draw(_requests(user.eui, esme.eui), label="asked")
    returned = data.draw(st.one_of(st.just(asked), _requests(user.eui, esme.eui)), label="returned by the DCC")
    pre_command = pre_command_build(returned)

    if returned == asked:
        signed = sign_pre_command(pre_command, expected=asked, private_key=user.ds)
        verify_signed(signed, user.ds.public_key())
        assert parse_pre_command(pre_command).switch_index == asked.switch_index
    else:
        with pytest.raises(PreCommandMismatch):
            sign_pre_command(pre_command, expected=asked, private_key=user.ds)


@pytest.mark.parametrize(("service", "codes"), [("7.6", [0, 0]), ("7.6", [1, 250]), ("7.8", [3]), ("7.16", [0, 0, 13])])
def test_ecs47_response_round_trips_with_its_outcome(user, esme, service, codes):
    response = ecs47_response_build(
        service=service, originator=user.eui, device=esme.eui, counter=77, results=codes, device_ds_private_key=esme.ds
    )

    parsed = authenticate_response(response, device_ds_key=esme.ds.public_key())

    assert parsed.counter == 77 and parsed.originator == esme.eui and parsed.recipient == user.eui
    assert parsed.outcome.success is (set(codes) == {0})
    assert parsed.outcome.error_code == next((code for code in codes if code), None)


def test_ecs47_response_signed_by_another_key_is_refused(user, esme):
    response = ecs47_response_build(
        service="7.6", originator=user.eui, device=esme.eui, counter=1, device_ds_private_key=user.ds
    )

    with pytest.raises(GbcsAuthenticationError):
        authenticate_response(response, device_ds_key=esme.ds.public_key())


def test_ecs47_response_needs_the_device_key(user, esme):
    response = ecs47_response_build(
        service="7.8", originator=user.eui, device=esme.eui, counter=1, device_ds_private_key=esme.ds
    )

    with pytest.raises(ValueError, match="DS key"):
        authenticate_response(response)


def test_ecs62_response_round_trips_and_its_mac_needs_the_right_keys(user, esme):
    response = ecs62_response_build(
        originator=user.eui,
        device=esme.eui,
        counter=5,
        results=[0, 0, 0, 0, 4],
        device_ka_private_key=esme.ka,
        recipient_ka_public_key=user.ka.public_key(),
    )

    parsed = authenticate_response(response, device_ka_key=esme.ka.public_key(), recipient_ka_private_key=user.ka)
    assert parsed.outcome.reason == "boost association 5: object-undefined (4)"
    with pytest.raises(GbcsAuthenticationError, match="MAC does not verify"):
        authenticate_response(response, device_ka_key=esme.ds.public_key(), recipient_ka_private_key=user.ka)


def test_ecs62_command_says_the_membership_asked(user, esme, acb):
    command = ecs62_command_build(
        originator=user.eui,
        device=esme.eui,
        counter=9,
        boost_membership={2: True, 4: False},
        acb_ka_private_key=acb.ka,
        device_ka_public_key=esme.ka.public_key(),
    )

    assert parse(command).boost_membership == {2: True, 4: False}
    verify_mac(command, private_key=esme.ka, peer_public_key=acb.ka.public_key())


def test_ecs61c_round_trips_the_boost_log_and_membership(user, esme, acb):
    periods = (
        BoostPeriod(NOW, NOW + timedelta(hours=1)),
        BoostPeriod(NOW + timedelta(days=1), NOW + timedelta(days=1, minutes=20)),
    )
    command = ecs61c_command_build(
        originator=user.eui,
        device=esme.eui,
        counter=3,
        start=NOW - timedelta(days=7),
        end=NOW + timedelta(days=7),
        acb_ka_private_key=acb.ka,
        device_ka_public_key=esme.ka.public_key(),
    )
    response = ecs61c_response_build(
        originator=user.eui,
        device=esme.eui,
        counter=3,
        boost_available=True,
        boost_periods=periods,
        boost_membership={1: True, 2: False, 3: True},
        results=[0, 0, 0, 0, 0, 0, 11],
        device_ka_private_key=esme.ka,
        recipient_ka_public_key=user.ka.public_key(),
    )

    assert (parse(command).start, parse(command).end) == (NOW - timedelta(days=7), NOW + timedelta(days=7))
    parsed = authenticate_response(response, device_ka_key=esme.ka.public_key(), recipient_ka_private_key=user.ka)
    assert parsed.boost_periods == periods
    assert parsed.boost_membership == {1: True, 2: False, 3: True, 4: False, 5: None}
    assert parsed.outcome.reason == "switch 5 boost association: object-unavailable (11)"


def test_ecs61a_response_round_trips_labels_devices_and_states(user, esme):
    response = ecs61a_response_build(
        originator=user.eui,
        device=esme.eui,
        counter=4,
        labels={n: f"EV charger {n}" for n in range(1, 6)},
        hcalcs_devices={3: "00-DB-12-34-56-78-90-C3"},
        output_states={3: False},
        device_ka_private_key=esme.ka,
        recipient_ka_public_key=user.ka.public_key(),
    )

    parsed = authenticate_response(response, device_ka_key=esme.ka.public_key(), recipient_ka_private_key=user.ka)
    assert parsed.labels[3] == "EV charger 3"
    assert parsed.hcalcs_devices == {1: None, 2: None, 3: "00-DB-12-34-56-78-90-C3", 4: None, 5: None}
    assert parsed.output_states == {1: True, 2: True, 3: False, 4: True, 5: True}
    assert parsed.outcome.success


def test_signed_command_wrapped_by_the_dcc_verifies_for_the_device(user, esme, acb):
    request = _request(user, esme)
    signed = sign_pre_command(pre_command_build(request), expected=request, private_key=user.ds)

    command = signed_command_wrap(signed, acb_ka_private_key=acb.ka, device_ka_public_key=esme.ka.public_key())

    verify_mac(command, private_key=esme.ka, peer_public_key=acb.ka.public_key())
    assert parse(command).frame.general_signing == signed


@pytest.mark.parametrize(
    ("command", "actioned", "pressed"),
    [
        (UserInterfaceCommand.ACTIVATE_BOOST_PERIOD, True, True),
        (UserInterfaceCommand.EXTEND_BOOST_PERIOD, True, True),
        (UserInterfaceCommand.CANCEL_BOOST_PERIOD, True, False),
        (UserInterfaceCommand.ACTIVATE_BOOST_PERIOD, False, False),
    ],
)
def test_boost_alert_round_trips(user, esme, command, actioned, pressed):
    alert = boost_alert_build(
        device=esme.eui,
        recipient=user.eui,
        counter=12,
        timestamp=NOW,
        command=command,
        actioned=actioned,
        device_ka_private_key=esme.ka,
        recipient_ka_public_key=user.ka.public_key(),
    )

    parsed = authenticate_alert(alert, device_ka_key=esme.ka.public_key(), recipient_ka_private_key=user.ka)
    assert isinstance(parsed, DeviceAlert)
    assert parsed.alert_code == (0x8161 if actioned else 0x8162)
    assert (parsed.timestamp, parsed.originator, parsed.recipient) == (NOW, esme.eui, user.eui)
    assert parsed.boost_action is command
    assert parsed.boost_pressed is pressed


def test_boost_alert_for_another_recipient_does_not_authenticate(user, esme, acb):
    alert = boost_alert_build(
        device=esme.eui,
        recipient=user.eui,
        counter=12,
        timestamp=NOW,
        device_ka_private_key=esme.ka,
        recipient_ka_public_key=user.ka.public_key(),
    )

    with pytest.raises(GbcsAuthenticationError):
        authenticate_alert(alert, device_ka_key=esme.ka.public_key(), recipient_ka_private_key=acb.ka)
