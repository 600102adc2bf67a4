"""SRV 7.13 Set Auxiliary Controller State and 7.16 Limit APC Level, end to end.

- dnoctl's documents are the DCC's own request templates, pass the DCC signing tool's
  ``Validate`` and read as meant by the DCC's DUIS parser;
- what dnoctl expects of each template's pre-command is the RTDS ECS47a / ECS47e vector, which
  it signs as the RTDS command is signed; anything else it refuses to sign;
- through the real HTTP simulator (CV 4 -> GBCS pre-command checked and signed -> CV 5, or
  CV 7 with local delivery), an APC device follows its level, a later 7.16 replaces the
  limit, and the device reverts at EndDateTime by itself.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from lxml import etree

from dcc import gbcs
from dcc.choices import ServiceRequestState as State
from dcc.duis import DccArgumentError, DccPermanentError, DccResponseError, DuisSigner, GbcsSigner, RequestId, documents
from dcc.duis.client import pre_command_expectation
from dcc.duis.xmlsafe import parse_xml
from dcc.services import device_certificates_store, handlers_replaced, service_request_send
from dcc.simulator import WAN_POOR, SimulatedDevice
from tests.gbcs.conftest import GBCS_REFERENCE, Reference
from tests.gbcs.rtds_vectors import CRITICAL
from tests.judges import (
    NETWORK_OPERATOR,
    NETWORK_OPERATOR_XML_KEY,
    dcc_parse,
    dcc_tool_validate,
    duis_template,
    jar_identity,
    shared_reference,
)

from .conftest import OLD_FIRMWARE, wait_until
from .test_client_simulator import _device_answer, _responses_for

APC = "00-DB-12-34-56-78-90-D0"  # switch 1 an HCALCS, switch 2 an APC before a 7.4 kW charger
APC_POOR_WAN = "00-DB-12-34-56-78-90-D1"
TEMPLATES = [
    "ECS47a_7.13_ALCS_ACTIVATE_SUCCESS",
    "ECS47a_7.13_ALCS_DEACTIVATE_SUCCESS",
    "ECS47a_7.13_APC_INPUT_SUCCESS",
    "ECS47a_7.13_APC_OUTPUT_SUCCESS",
    "ECS47e_7.16_APC_INPUT_SUCCESS",
    "ECS47e_7.16_APC_OUTPUT_SUCCESS",
]
BUILDERS = {"7.13": documents.set_auxiliary_controller_state, "7.16": documents.limit_apc_level}
_SR = f"{{{documents.SR_NS}}}"


def _template(name: str) -> documents.DuisRequest:
    return documents.parse_request(parse_xml(duis_template(f"{name}_REQUEST_DUIS.XML").read_bytes()))


def _c14n(element: etree._Element) -> bytes:
    """Exclusive c14n without the templates' indentation (whitespace-only text is layout)."""
    element = copy.deepcopy(element)
    for node in element.iter():
        for name in ("text", "tail"):
            if not (getattr(node, name) or "").strip():
                setattr(node, name, None)
    return etree.tostring(element, method="c14n", exclusive=True)


# --------------------------------------------------------------------------- documents


@pytest.mark.parametrize("name", TEMPLATES)
def test_documents_are_the_dcc_templates(name):
    template = _template(name)
    body = documents.request_parameters(template.srv, template.body)

    ours = BUILDERS[template.srv](request_id=template.request_id, **body)

    theirs = template.body.getparent().getparent()
    for part in ("Header", "Body"):
        assert _c14n(ours.find(_SR + part)) == _c14n(theirs.find(_SR + part))


def test_the_dcc_tool_validates_them_and_its_parser_reads_them_as_meant():
    signer = DuisSigner.from_pem(*jar_identity(NETWORK_OPERATOR_XML_KEY))
    start = dt.datetime(2026, 12, 3, 17, 0, 0, 123456, tzinfo=dt.UTC)
    for counter, (srv, name) in enumerate([("7.13", "Set Auxiliary Controller State"), ("7.16", "Limit APC Level")]):
        rid = RequestId.build(originator=NETWORK_OPERATOR, target=APC, counter=1_764_000_000_000 + counter)
        signed = signer.sign(
            BUILDERS[srv](request_id=rid, index=2, level=57, start=start, end=start + dt.timedelta(hours=1))
        )

        verdict = dcc_tool_validate(signed)
        assert verdict.ok, verdict.stderr
        parsed = dcc_parse(signed)
        assert parsed["header"]["serviceReferenceVariant"]["Service Request Name"] == name
        [(element, fields)] = parsed["body"].items()
        assert element == documents.LEVEL_BODIES[srv]
        # The period to the 1/100 s the GBCS date-time carries, rounded down.
        assert fields == {
            "StartDateTime": "2026-12-03T17:00:00.12Z",
            "EndDateTime": "2026-12-03T18:00:00.12Z",
            "CommandedStateLevel": "57",
            "@_auxiliaryControllerN": "2",
        }


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"index": 6}, "index"),
        ({"level": 101}, "level"),
        ({"level": -1}, "level"),
        ({"level": True}, "level"),
        ({"level": 50.0}, "level"),
        ({"start": dt.datetime(2026, 12, 3, 17)}, "start"),  # no time zone: no guessing
        ({"end": dt.datetime(2026, 12, 3, 16, tzinfo=dt.UTC)}, "end"),  # before the start
        ({"end": dt.datetime(2026, 12, 3, 17, 0, 0, 5000, tzinfo=dt.UTC)}, "end"),  # the same 1/100 s
        ({"input_from_controlled_load": "yes"}, "input_from_controlled_load"),
    ],
)
@pytest.mark.parametrize("srv", ["7.13", "7.16"])
def test_bad_arguments_are_refused_naming_them(srv, arguments, named):
    rid = RequestId.build(originator=NETWORK_OPERATOR, target=APC, counter=1)
    start = dt.datetime(2026, 12, 3, 17, tzinfo=dt.UTC)
    good = {"index": 2, "level": 50, "start": start, "end": start + dt.timedelta(minutes=30)}
    with pytest.raises(DccArgumentError, match=rf"^{named}: "):
        BUILDERS[srv](request_id=rid, **{**good, **arguments})


# --------------------------------------------------------------------------- against the RTDS


def _reference() -> Reference:
    shared_reference("gbcs", "rtds", "7.16_ECS47e", what="the DCC's RTDS 4.5.0 GBCS vectors")
    return Reference(GBCS_REFERENCE)


@pytest.mark.parametrize("name", [name for name in TEMPLATES if name.replace("SUCCESS", "") != name])
def test_the_pre_command_dnoctl_expects_and_signs_is_the_rtds_one(name):
    reference = _reference()
    [vector] = [v for v in CRITICAL if v.name == name]
    template = _template(name)
    pre_command = reference.vector(f"{name}_PRECOMMAND")
    command = reference.vector(f"{name}_COMMAND")
    originator = template.request_id.originator
    signer = GbcsSigner(key=reference.private_key(originator, "DS"), cert=reference.certificate(originator, "DS"))

    expected = pre_command_expectation(template)

    assert expected == vector.request
    assert gbcs.pre_command_build(expected) == pre_command  # byte for byte
    signed = signer.sign_pre_command(pre_command, expected)
    start = command.index(pre_command)  # the RTDS command wraps the signed pre-command
    assert signed[:-64] == command[start : start + len(signed) - 64]
    gbcs.verify_signed(signed, reference.certificate(originator, "DS"))


def test_a_pre_command_for_another_level_or_period_is_never_signed():
    reference = _reference()
    signer = GbcsSigner(
        key=reference.private_key("90-B3-D5-1F-30-01-00-08", "DS"),
        cert=reference.certificate("90-B3-D5-1F-30-01-00-08", "DS"),
    )
    pre_command = reference.vector("ECS47e_7.16_APC_INPUT_SUCCESS_PRECOMMAND")
    template = _template("ECS47e_7.16_APC_INPUT_SUCCESS")
    body = documents.request_parameters(template.srv, template.body)
    for change, field in [
        ({"level": 49}, "level"),
        ({"end": body["end"] + dt.timedelta(minutes=1)}, "end"),
        ({"start": body["start"] - dt.timedelta(seconds=1)}, "start"),
        ({"input_from_controlled_load": False}, "input"),
        ({"index": 2}, "switch"),
    ]:
        with pytest.raises(gbcs.PreCommandMismatch, match=field):
            signer.sign_pre_command(pre_command, pre_command_expectation(template, {**body, **change}))


# --------------------------------------------------------------------------- through the simulator


@pytest.fixture
def apc(simulator):
    simulator.add_device(SimulatedDevice(eui64=APC, switch_indexes=(1, 2), apc_indexes=(2,), apc_max_kw=7.4))
    return simulator


def _switch(simulator, index: int, device: str = APC) -> dict:
    return simulator.device_state(device)["switches"][str(index)]


def _window(simulator, minutes: int = 30) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.fromtimestamp(simulator.now(), dt.UTC)
    return now, now + dt.timedelta(minutes=minutes)


def test_a_limited_apc_charger_follows_its_level_and_reverts_at_the_end(dcc_client, apc, receiver, user_gbcs_ka):
    start, end = _window(apc)

    outcome = dcc_client.limit_apc_level(target=APC, index=2, level=57, start=start, end=end)

    assert outcome.acknowledgement.response_code == "I0"
    pre_command = gbcs.parse_pre_command(outcome.pre_command)
    assert (pre_command.use_case, pre_command.switch_index, pre_command.level) == ("ECS47e", 2, 57)
    assert [(cv, code) for rid, cv, code in apc.received if rid == str(outcome.request_id)] == [(4, "I0"), (5, "I0")]
    [response] = wait_until(lambda: _responses_for(dcc_client, receiver, outcome.request_id))
    answer = _device_answer(response, apc, user_gbcs_ka, device=APC)  # signed by the ESME
    assert (answer.use_case, answer.outcome.success) == ("ECS47e", True)
    switch = _switch(apc, 2)
    assert (switch["kind"], switch["state"], switch["level"], switch["charger_kw"]) == ("apc", "limited", 57, 4.218)
    assert switch["limit"]["level"] == 57
    assert _switch(apc, 1)["state"] == "on"  # the HCALCS beside it is untouched

    apc.advance((end - start).total_seconds() + 1)

    switch = _switch(apc, 2)  # the device reverted by itself: nothing was sent
    assert (switch["state"], switch["level"], switch["charger_kw"], switch["limit"]) == ("on", 100, 7.4, None)


def test_a_later_limit_replaces_the_earlier_one_and_100_lifts_it(dcc_client, apc):
    start, end = _window(apc)
    levels = []
    for level in (40, 70, 30, 100):  # set, raise, lower, lift
        dcc_client.limit_apc_level(target=APC, index=2, level=level, start=start, end=end)
        wait_until(
            lambda level=level: apc.devices.get(APC).limits.get(2) and apc.devices.get(APC).limits[2].level == level
        )
        levels.append(_switch(apc, 2)["level"])

    assert levels == [40, 70, 30, 100]
    assert _switch(apc, 2)["state"] == "on"


def test_the_level_in_force_is_the_lower_of_state_and_limit_within_their_periods(dcc_client, apc):
    start, end = _window(apc, minutes=60)
    dcc_client.set_auxiliary_controller_state(target=APC, index=2, level=80, start=start, end=end)
    dcc_client.limit_apc_level(
        target=APC, index=2, level=50, start=start + dt.timedelta(minutes=10), end=start + dt.timedelta(minutes=20)
    )
    wait_until(lambda: len(apc.devices.get(APC).executions) == 2)

    seen = []
    for minutes in (0, 11, 21, 61):
        apc.advance(minutes * 60 - (seen[-1][0] * 60 if seen else 0))
        seen.append((minutes, _switch(apc, 2)["level"]))

    assert seen == [(0, 80), (11, 50), (21, 80), (61, 100)]


def test_a_7_13_below_100_switches_an_hcalcs_off_for_its_period(dcc_client, apc):
    start, end = _window(apc, minutes=15)
    dcc_client.set_auxiliary_controller_state(target=APC, index=1, level=0, start=start, end=end)
    wait_until(lambda: _switch(apc, 1)["state"] == "off")

    apc.advance(15 * 60 + 1)

    assert _switch(apc, 1)["state"] == "on"


def test_a_7_16_to_a_switch_that_is_no_apc_fails_on_the_device(dcc_client, apc, receiver, user_gbcs_ka):
    start, end = _window(apc)

    outcome = dcc_client.limit_apc_level(target=APC, index=1, level=50, start=start, end=end)

    [response] = wait_until(lambda: _responses_for(dcc_client, receiver, outcome.request_id))
    answer = _device_answer(response, apc, user_gbcs_ka, device=APC)
    assert not answer.outcome.success
    assert _switch(apc, 1)["state"] == "on"


def test_a_poor_wan_apc_is_limited_by_local_delivery(dcc_client, simulator):
    simulator.add_device(SimulatedDevice(eui64=APC_POOR_WAN, wan=WAN_POOR, apc_indexes=(1,)))
    start, end = _window(simulator)

    outcome = dcc_client.limit_apc_level(
        target=APC_POOR_WAN, index=1, level=60, start=start, end=end, command_variant=7
    )

    assert outcome.local_response_ack is not None and outcome.local_response_ack.response_code == "I0"
    answer = gbcs.parse_response(outcome.local_response_ack.gbcs_payload)
    assert (answer.use_case, answer.outcome.success) == ("ECS47e", True)
    assert _switch(simulator, 1, device=APC_POOR_WAN)["level"] == 60


def test_a_pre_command_for_a_longer_period_is_not_signed_or_sent(dcc_client, apc):
    apc.faults.stretch_pre_command = True
    start, end = _window(apc)

    with pytest.raises(DccPermanentError, match="pre-command does not match the request \\(end: "):
        dcc_client.limit_apc_level(target=APC, index=2, level=50, start=start, end=end)

    assert [cv for _rid, cv, _code in apc.received] == [4]
    assert _switch(apc, 2)["level"] == 100


def test_eligibility_under_both_rule_sets(dcc_client, apc):
    start, end = _window(apc)
    with pytest.raises(DccResponseError, match="E11"):  # no ENO firmware on the meter
        dcc_client.limit_apc_level(target=OLD_FIRMWARE, index=1, level=50, start=start, end=end)
    apc.set_rules("today")  # no role may send 7.16 today, and 7.13 is the supplier's
    for send in (dcc_client.limit_apc_level, dcc_client.set_auxiliary_controller_state):
        with pytest.raises(DccResponseError, match="E2"):
            send(target=APC, index=2, level=50, start=start, end=end)
    assert apc.devices.get(APC).executions == []


@pytest.mark.django_db
def test_a_7_16_through_the_service_layer_is_stored_acknowledged_and_its_answer_applied(
    dcc_settings, apc, receiver, client, django_capture_on_commit_callbacks
):
    device_certificates_store(certificates={APC: apc.device_certificates(APC)}, source="test")  # as SMKI has them
    start, end = _window(apc)
    heard = []
    with handlers_replaced(responses={"7.16": lambda request, result: heard.append(result)}):
        service_request = service_request_send(srv="7.16", target=APC, index=2, level=57, start=start, end=end)
        assert (service_request.state, service_request.command_variant) == (State.ACKNOWLEDGED, 5)
        [document] = wait_until(
            lambda: [d for d in list(receiver.documents) if service_request.request_id.encode() in d]
        )
        with django_capture_on_commit_callbacks(execute=True):
            reply = client.post("/dcc/responses/", data=document, content_type="application/xml")

    assert (reply.status_code, reply.content) == (200, b"applied\n")
    service_request.refresh_from_db()
    assert (service_request.state, service_request.device_outcome) == (State.RESPONDED, "ECS47e: success")
    assert [result["status"] for result in heard] == ["success"]
    assert b"<sr:CommandedStateLevel>57</sr:CommandedStateLevel>" in service_request.request_document.encode()
