"""The codec against the DCC's RTDS 4.5.0 vectors and test keystore (``../shared``; CI has it).

Pre-commands are built from the DUIS request alone and must equal the DCC's byte for byte;
dnoctl's signature of each must be the RTDS command's but for the 64 signature bytes; every
response must parse to its outcome and authenticate with the device's certificate.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dcc.gbcs import (
    Cra,
    Ecs47Command,
    Ecs47Response,
    Ecs61aCommand,
    Ecs61aResponse,
    Ecs61cCommand,
    Ecs61cResponse,
    Ecs62Command,
    Ecs62Response,
    FirmwareTransferAlert,
    GbcsAuthenticationError,
    PreCommandMismatch,
    authenticate_alert,
    authenticate_response,
    certificate_entity_id,
    ecs47_response_build,
    ecs61a_command_build,
    ecs61a_response_build,
    ecs61c_command_build,
    ecs61c_response_build,
    ecs62_command_build,
    ecs62_response_build,
    firmware_transfer_alert_build,
    parse,
    parse_pre_command,
    pre_command_build,
    sign_pre_command,
    signed_command_wrap,
    verify_mac,
    verify_signed,
)
from dcc.gbcs.codes import FirmwareTransferResult

from .rtds_vectors import (
    ALL_NAMES,
    BOOST_LOG_END,
    BOOST_LOG_START,
    CCS08_ALERT,
    CCS08_ORIGINATOR,
    CRITICAL,
    DCC,
    ESME,
    NON_CRITICAL,
    SUPPLIER,
    CriticalVector,
    NonCriticalVector,
)

critical = pytest.mark.parametrize("vector", CRITICAL, ids=lambda v: v.name)
non_critical = pytest.mark.parametrize("vector", NON_CRITICAL, ids=lambda v: v.name)


def test_every_vector_for_the_services_is_covered_here(reference):
    assert reference.vector_names() == ALL_NAMES


@pytest.mark.parametrize("name", sorted(ALL_NAMES))
def test_every_vector_parses_to_its_kind(reference, name):
    message = parse(reference.vector(name))

    expected_cra = Cra.ALERT if name.endswith("ALERT") else Cra.RESPONSE if name.endswith("RESPONSE") else Cra.COMMAND
    assert message.cra is expected_cra
    assert message.raw == reference.vector(name)


@critical
def test_pre_command_says_what_the_duis_request_asked(reference, vector: CriticalVector):
    command = parse_pre_command(reference.vector(f"{vector.name}_PRECOMMAND"))

    request = vector.request
    assert (command.originator, command.recipient, command.counter) == (request.originator, ESME, request.counter)
    assert command.service == request.service
    assert command.use_case == request.message_code.use_case
    assert command.switch_index == request.switch_index
    assert command.duration_minutes == request.duration_minutes
    assert command.level == request.level
    assert (command.start, command.end) == (request.start, request.end)
    assert command.input_from_controlled_load == request.input_from_controlled_load
    assert command.date_time is None and command.signature is None


@critical
def test_pre_command_built_from_the_request_is_the_dccs_byte_for_byte(reference, vector: CriticalVector):
    assert pre_command_build(vector.request) == reference.vector(f"{vector.name}_PRECOMMAND")


@critical
def test_signed_pre_command_is_the_rtds_command_but_for_the_signature(reference, vector: CriticalVector):
    originator = vector.request.originator
    signed = sign_pre_command(
        reference.vector(f"{vector.name}_PRECOMMAND"),
        expected=vector.request,
        private_key=reference.private_key(originator, "DS"),
    )
    inside_command = parse(reference.vector(f"{vector.name}_COMMAND")).frame.general_signing

    assert len(signed) == len(inside_command)
    assert signed[:-64] == inside_command[:-64]
    verify_signed(signed, reference.certificate(originator, "DS"))
    verify_signed(inside_command, reference.certificate(originator, "DS"))


@critical
def test_a_pre_command_with_a_zero_signature_length_signs_the_same(reference, vector: CriticalVector):
    """GIVEN the pre-command as a current DCC Boxed returns it (ending in a 0x00 signature
    length) THEN the byte is dropped before signing: the result equals the RTDS form's."""
    pre_command = reference.vector(f"{vector.name}_PRECOMMAND")
    key = reference.private_key(vector.request.originator, "DS")

    boxed = sign_pre_command(pre_command + b"\x00", expected=vector.request, private_key=key)

    assert boxed == sign_pre_command(pre_command, expected=vector.request, private_key=key)


@critical
def test_command_is_the_signed_pre_command_macd_by_the_dcc(reference, vector: CriticalVector):
    command = reference.vector(f"{vector.name}_COMMAND")
    parsed = parse(command)
    assert isinstance(parsed, Ecs47Command) and parsed.signature is not None

    verify_mac(command, private_key=reference.private_key(DCC, "KA"), peer_public_key=reference.certificate(ESME, "KA"))
    rebuilt = signed_command_wrap(
        parsed.frame.general_signing,
        acb_ka_private_key=reference.private_key(DCC, "KA"),
        device_ka_public_key=reference.certificate(ESME, "KA"),
    )
    assert rebuilt == command


@critical
def test_response_parses_to_its_outcome_and_authenticates(reference, vector: CriticalVector):
    response = authenticate_response(
        reference.vector(f"{vector.name}_RESPONSE"), device_ds_key=reference.certificate(ESME, "DS")
    )

    assert isinstance(response, Ecs47Response)
    assert (response.originator, response.recipient, response.counter) == (
        ESME,
        vector.request.originator,
        vector.request.counter,
    )
    assert response.outcome.success is vector.success
    if not vector.success:
        assert "hardware-fault (1)" in response.outcome.reason
        assert response.outcome.failures


@critical
def test_response_does_not_authenticate_with_another_devices_certificate(reference, vector: CriticalVector):
    with pytest.raises(GbcsAuthenticationError, match="certificate is for 00-DB-12-34-56-78-90-A1"):
        authenticate_response(
            reference.vector(f"{vector.name}_RESPONSE"),
            device_ds_key=reference.certificate("00-DB-12-34-56-78-90-A1", "DS"),
        )


@critical
def test_response_built_with_the_same_inputs_is_the_rtds_one_but_for_the_signature(reference, vector, esme):
    rtds = reference.vector(f"{vector.name}_RESPONSE")
    codes = [result.code for result in parse(rtds).results]

    built = ecs47_response_build(
        service=vector.request.service,
        originator=vector.request.originator,
        device=ESME,
        counter=vector.request.counter,
        results=codes,
        device_ds_private_key=esme.ds,
    )

    assert built[:-64] == rtds[:-64]
    verify_signed(built, esme.ds.public_key())


@non_critical
def test_dcc_command_verifies_and_is_rebuilt_byte_for_byte(reference, vector: NonCriticalVector):
    command = reference.vector(f"{vector.name}_COMMAND")
    keys = {
        "acb_ka_private_key": reference.private_key(DCC, "KA"),
        "device_ka_public_key": reference.certificate(ESME, "KA"),
    }
    identity = {"originator": SUPPLIER, "device": ESME, "counter": vector.counter}
    parsed = parse(command)

    verify_mac(command, private_key=keys["acb_ka_private_key"], peer_public_key=keys["device_ka_public_key"])
    if vector.service == "7.7":
        assert isinstance(parsed, Ecs61aCommand)
        rebuilt = ecs61a_command_build(**identity, **keys)
    elif vector.service == "7.11":
        assert isinstance(parsed, Ecs61cCommand)
        assert (parsed.start, parsed.end) == (BOOST_LOG_START, BOOST_LOG_END)
        rebuilt = ecs61c_command_build(**identity, start=BOOST_LOG_START, end=BOOST_LOG_END, **keys)
    else:
        assert isinstance(parsed, Ecs62Command)
        adding = vector.service == "7.9"
        assert parsed.boost_membership == dict.fromkeys(range(1, 6), adding)
        rebuilt = ecs62_command_build(**identity, boost_membership=dict.fromkeys(range(1, 6), adding), **keys)
    assert rebuilt == command


@non_critical
def test_non_critical_response_parses_to_its_outcome_and_authenticates_by_mac(reference, vector: NonCriticalVector):
    response = authenticate_response(
        reference.vector(f"{vector.name}_RESPONSE"),
        device_ka_key=reference.certificate(ESME, "KA"),
        recipient_ka_private_key=reference.private_key(SUPPLIER, "KA"),
    )

    assert (response.originator, response.recipient, response.counter) == (ESME, SUPPLIER, vector.counter)
    assert response.outcome.success is vector.success
    if not vector.success:
        assert [f.result.code for f in response.outcome.failures] == [1, 250]


@non_critical
def test_non_critical_response_is_refused_with_another_recipients_key(reference, vector: NonCriticalVector):
    with pytest.raises(GbcsAuthenticationError, match="MAC does not verify"):
        authenticate_response(
            reference.vector(f"{vector.name}_RESPONSE"),
            device_ka_key=reference.certificate(ESME, "KA"),
            recipient_ka_private_key=reference.private_key("90-B3-D5-1F-30-02-00-00", "KA"),
        )


@non_critical
def test_non_critical_response_built_from_its_content_is_the_rtds_one_byte_for_byte(reference, vector):
    """The MAC is reproduced too: the supplier's KA private key with the device's KA
    certificate agrees the same key as the device's private key with the supplier's."""
    rtds = reference.vector(f"{vector.name}_RESPONSE")
    parsed = parse(rtds)
    common = {
        "originator": SUPPLIER,
        "device": ESME,
        "counter": vector.counter,
        "results": [result.code for result in parsed.results],
        "device_ka_private_key": reference.private_key(SUPPLIER, "KA"),
        "recipient_ka_public_key": reference.certificate(ESME, "KA"),
    }
    if isinstance(parsed, Ecs61aResponse):
        built = ecs61a_response_build(
            **common,
            labels=parsed.labels,
            hcalcs_devices=parsed.hcalcs_devices,
            output_states={n: bool(state) for n, state in parsed.output_states.items()},
            special_days=parsed.special_days,
            schedule=parsed.schedule,
        )
    elif isinstance(parsed, Ecs61cResponse):
        built = ecs61c_response_build(
            **common,
            boost_available=bool(parsed.boost_available),
            boost_periods=parsed.boost_periods,
            boost_membership={n: bool(member) for n, member in parsed.boost_membership.items()},
        )
    else:
        assert isinstance(parsed, Ecs62Response)
        built = ecs62_response_build(**common)
    assert built == rtds


def test_ecs61a_response_reads_labels_devices_and_states(reference):
    response = parse(reference.vector("ECS61a_7.7_ALL_OPTIONALS_ERROR_RESPONSE"))

    assert isinstance(response, Ecs61aResponse)
    assert response.labels[2] == "HCALCS_2_Description"
    assert response.hcalcs_devices == {1: None, 2: "00-DB-12-34-56-78-90-97", 3: None, 4: None, 5: None}
    assert response.output_states == {1: True, 2: True, 3: True, 4: None, 5: None}
    assert (
        response.outcome.reason
        == "switch 4 output state: hardware-fault (1); switch 5 output state: other-reason (250)"
    )


def test_ecs61c_response_reads_the_boost_log_in_the_period_asked(reference):
    response = parse(reference.vector("ECS61c_7.11_SUCCESS_RESPONSE"))

    assert isinstance(response, Ecs61cResponse)
    assert response.boost_available is True
    assert response.boost_membership == dict.fromkeys(range(1, 6), True)
    assert len(response.boost_periods) == 6
    assert all(BOOST_LOG_START <= p.start < p.end <= BOOST_LOG_END for p in response.boost_periods)


def test_ccs08_alert_parses_and_authenticates(reference):
    alert = authenticate_alert(
        reference.vector(CCS08_ALERT), device_ds_key=reference.certificate(CCS08_ORIGINATOR, "DS")
    )

    assert isinstance(alert, FirmwareTransferAlert)
    assert (alert.alert_code, alert.success, alert.device) == (0x8F8A, True, "00-DB-12-34-56-78-90-A4")
    assert alert.originator == CCS08_ORIGINATOR and alert.recipient == DCC


def test_ccs08_alert_built_from_its_content_is_the_rtds_one_but_for_the_signature(reference, esme):
    rtds = reference.vector(CCS08_ALERT)
    alert = parse(rtds)

    built = firmware_transfer_alert_build(
        originator=alert.originator,
        recipient=alert.recipient,
        counter=alert.counter,
        executed_at=alert.executed_at,
        device=alert.device,
        firmware_version=alert.firmware_version,
        result=FirmwareTransferResult(alert.result),
        originator_ds_private_key=esme.ds,
    )

    assert built[:-64] == rtds[:-64]


def test_keystore_certificates_name_their_entity(reference):
    assert certificate_entity_id(reference.certificate(ESME, "DS")) == ESME
    assert certificate_entity_id(reference.certificate(SUPPLIER, "KA")) == SUPPLIER


@critical
def test_pre_command_for_anything_else_is_never_signed(reference, vector: CriticalVector):
    """Each field of the request changed in turn: the DCC's pre-command no longer says it."""
    request = vector.request
    changes = {
        "device": {"device": "00-DB-12-34-56-78-90-A1"},
        "originator": {"originator": "90-B3-D5-1F-30-02-00-00"},
        "counter": {"counter": request.counter + 1},
        "switch index": {"switch_index": request.switch_index % 5 + 1},
    }
    if request.duration_minutes is not None:
        changes["duration"] = {"duration_minutes": request.duration_minutes + 1}
        changes["service"] = {"service": "7.6" if request.service == "7.5" else "7.5"}
    if request.level is not None:
        changes["level"] = {"level": (request.level + 1) % 101}
        changes["start"] = {"start": request.start.replace(minute=1)}
        changes["end"] = {"end": request.end.replace(minute=1)}
        changes["input from controlled load"] = {"input_from_controlled_load": not request.input_from_controlled_load}
        changes["use case"] = {"service": "7.16" if request.service == "7.13" else "7.13"}
    if request.service == "7.8":
        changes["service"] = {"service": "7.6", "duration_minutes": 60}
    pre_command = reference.vector(f"{vector.name}_PRECOMMAND")
    for field, change in changes.items():
        with pytest.raises(PreCommandMismatch) as refused:
            sign_pre_command(
                pre_command,
                expected=replace(request, **change),
                private_key=reference.private_key(request.originator, "DS"),
            )
        assert refused.value.field == field


def test_a_ka_certificate_cannot_stand_in_for_the_ds_one(reference):
    with pytest.raises(GbcsAuthenticationError, match="not a DS certificate"):
        authenticate_response(
            reference.vector("ECS47Deactivate_7.6_SUCCESS_RESPONSE"), device_ds_key=reference.certificate(ESME, "KA")
        )


def test_a_mac_key_from_a_party_outside_the_message_is_refused(reference):
    with pytest.raises(GbcsAuthenticationError, match="not a party to this message"):
        verify_mac(
            reference.vector("ECS62Add_7.9_SUCCESS_RESPONSE"),
            private_key=reference.private_key(SUPPLIER, "KA"),
            peer_public_key=reference.certificate("00-DB-12-34-56-78-90-A1", "KA"),
        )
