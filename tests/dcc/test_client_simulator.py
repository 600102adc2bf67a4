"""The DUIS dcc_client against the DCC simulator over real HTTP on loopback."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from lxml import etree

from dcc import gbcs
from dcc.duis import (
    DCC_EUI64,
    DccArgumentError,
    DccPermanentError,
    DccSignatureError,
    DccTransientError,
    DuisVerifier,
    RequestId,
    documents,
)
from dcc.duis.signing import load_certificate, load_private_key
from dcc.duis.xmlsafe import parse_xml
from dcc.simulator import BOOST_ALERT_CODE, REPLAY_RESPONSE_CODE, DccSimulator, SimulatedDevice

from .conftest import HCALCS, OLD_FIRMWARE, ORIGINATOR, POOR_WAN, client_for, simulated_user, wait_until


def _responses_for(dcc_client, receiver, request_id):
    """Verified documents the simulator posted to our callback for ``request_id``."""
    found = []
    for document in list(receiver.documents):
        response = dcc_client.read_document(document)
        if response.request_id == str(request_id):
            found.append(response)
    return found


def _device_answer(response, simulator, user_gbcs_ka, device: str = HCALCS):
    """The device's GBCS answer, authenticated as dnoctl does: the device's own certificates
    (as SMKI publishes them) and our key-agreement key."""
    certificates = {
        usage: load_certificate(pem.encode()) for usage, pem in simulator.device_certificates(device).items()
    }
    return gbcs.authenticate_response(
        response.gbcs_payload,
        device_ds_key=certificates["DS"],
        device_ka_key=certificates["KA"],
        recipient_ka_private_key=load_private_key(user_gbcs_ka[0]),
    )


def test_deactivate_via_transform_and_send_ends_with_confirmed_device_response(
    dcc_client, simulator, receiver, user_gbcs_ka
):
    outcome = dcc_client.deactivate_auxiliary_load(target=HCALCS, index=3, duration_minutes=30)

    assert outcome.acknowledgement.response_code == "I0"
    pre_command = gbcs.parse_pre_command(outcome.pre_command)
    assert (pre_command.service, pre_command.recipient, pre_command.counter) == (
        "7.6",
        HCALCS,
        outcome.request_id.counter,
    )
    assert (pre_command.switch_index, pre_command.duration_minutes) == (3, 30)
    assert [(cv, code) for rid, cv, code in simulator.received if rid == str(outcome.request_id)] == [
        (4, "I0"),
        (5, "I0"),
    ]
    [response] = wait_until(lambda: _responses_for(dcc_client, receiver, outcome.request_id))
    assert response.response_code == "I0"
    assert response.response_id == outcome.request_id.response_id()
    answer = _device_answer(response, simulator, user_gbcs_ka)  # signed by the ESME's DS key
    assert isinstance(answer, gbcs.Ecs47Response)
    assert answer.outcome.success
    assert (answer.originator, answer.recipient, answer.counter) == (HCALCS, ORIGINATOR, outcome.request_id.counter)
    assert simulator.device_state(HCALCS)["switches"]["3"]["state"] == "off"
    assert simulator.device_state(HCALCS)["switches"]["1"]["state"] == "on"


def test_reset_switches_the_load_back_on_early(dcc_client, simulator, receiver, user_gbcs_ka):
    off = dcc_client.deactivate_auxiliary_load(target=HCALCS, index=2, duration_minutes=60)
    wait_until(lambda: _responses_for(dcc_client, receiver, off.request_id))
    assert simulator.device_state(HCALCS)["switches"]["2"]["state"] == "off"

    reset = dcc_client.reset_auxiliary_load(target=HCALCS, index=2)

    [response] = wait_until(lambda: _responses_for(dcc_client, receiver, reset.request_id))
    answer = _device_answer(response, simulator, user_gbcs_ka)
    assert (answer.counter, answer.outcome.success) == (reset.request_id.counter, True)
    assert simulator.device_state(HCALCS)["switches"]["2"]["state"] == "on"
    assert reset.request_id.counter > off.request_id.counter


def test_device_reverts_by_itself_when_the_duration_ends(dcc_client, simulator, receiver):
    outcome = dcc_client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=10)
    wait_until(lambda: _responses_for(dcc_client, receiver, outcome.request_id))
    simulator.advance(9 * 60)
    assert simulator.device_state(HCALCS)["switches"]["1"]["state"] == "off"
    simulator.advance(61)
    assert simulator.device_state(HCALCS)["switches"]["1"]["state"] == "on"


def test_replayed_request_id_is_rejected(dcc_client, simulator, receiver):
    first = dcc_client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=30)
    wait_until(lambda: _responses_for(dcc_client, receiver, first.request_id))
    executed = simulator.device_state(HCALCS)["commands_executed"]

    with pytest.raises(DccPermanentError) as same_id:
        dcc_client.reset_auxiliary_load(target=HCALCS, index=1, request_id=first.request_id)
    older = RequestId.build(originator=ORIGINATOR, target=HCALCS, counter=first.request_id.counter - 1)
    with pytest.raises(DccPermanentError) as older_id:
        dcc_client.reset_auxiliary_load(target=HCALCS, index=1, request_id=older)

    assert same_id.value.response_code == REPLAY_RESPONSE_CODE
    assert older_id.value.response_code == REPLAY_RESPONSE_CODE
    assert simulator.device_state(HCALCS)["commands_executed"] == executed
    assert simulator.device_state(HCALCS)["switches"]["1"]["state"] == "off"


def test_identical_retransmission_gets_the_same_answer_and_acts_once(dcc_client, simulator, receiver):
    request_id = dcc_client.new_request_id(HCALCS)
    document = dcc_client.sign(documents.read_auxiliary_load_switch_data(request_id=request_id))

    first = dcc_client.submit(document, command_variant=1, request_id=str(request_id))
    second = dcc_client.submit(document, command_variant=1, request_id=str(request_id))

    assert first.raw == second.raw
    wait_until(lambda: _responses_for(dcc_client, receiver, request_id))
    assert simulator.device_state(HCALCS)["commands_executed"] == 1
    assert [r for r in simulator.received if r[0] == str(request_id)] == [(str(request_id), 1, "I0")]


def test_electricity_distributor_needs_secmp0046_rules(dcc_client, simulator):
    simulator.set_rules("today")
    with pytest.raises(DccPermanentError) as today:
        dcc_client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=5)
    with pytest.raises(DccPermanentError):
        dcc_client.add_auxiliary_load_to_boost_button(target=HCALCS, indexes=[1])
    assert today.value.response_code == "E2"
    assert dcc_client.read_auxiliary_load_switch_data(target=HCALCS).acknowledgement.response_code == "I0"

    simulator.set_rules("secmp0046")
    assert (
        dcc_client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=5).acknowledgement.response_code
        == "I0"
    )


def test_device_without_the_new_firmware_is_rejected(dcc_client, simulator):
    with pytest.raises(DccPermanentError) as excinfo:
        dcc_client.deactivate_auxiliary_load(target=OLD_FIRMWARE, index=1, duration_minutes=5)
    assert excinfo.value.response_code == "E11"
    assert simulator.device_state(OLD_FIRMWARE)["commands_executed"] == 0


def test_unknown_device_is_rejected(dcc_client):
    with pytest.raises(DccPermanentError) as excinfo:
        dcc_client.deactivate_auxiliary_load(target="00-DB-00-00-00-00-00-01", index=1, duration_minutes=5)
    assert excinfo.value.response_code == "E19"


def test_poor_wan_device_is_reached_by_local_delivery_and_8_13(dcc_client, simulator, receiver, user_gbcs_ka):
    outcome = dcc_client.deactivate_auxiliary_load(target=POOR_WAN, index=1, duration_minutes=20, command_variant=7)

    assert outcome.acknowledgement.local_command is not None
    assert outcome.local_error is None
    assert outcome.local_response_ack.response_code == "I0"
    assert outcome.local_request_id.target == DCC_EUI64
    assert outcome.local_request_id.counter > outcome.request_id.counter
    local_answer = _device_answer(outcome.local_response_ack, simulator, user_gbcs_ka, POOR_WAN)
    assert (local_answer.originator, local_answer.counter) == (POOR_WAN, outcome.request_id.counter)
    assert simulator.device_state(POOR_WAN)["switches"]["1"]["state"] == "off"
    # The DCC forwards the device's response for the original request to our endpoint too.
    [response] = wait_until(lambda: _responses_for(dcc_client, receiver, outcome.request_id))
    assert _device_answer(response, simulator, user_gbcs_ka, POOR_WAN).outcome.success


def test_poor_wan_device_never_acts_on_a_wan_only_command_but_local_only_works(dcc_client, simulator):
    wan_only = dcc_client.deactivate_auxiliary_load(target=POOR_WAN, index=1, duration_minutes=20, command_variant=5)
    assert wan_only.acknowledgement.response_code == "I0"
    local_only = dcc_client.reset_auxiliary_load(target=POOR_WAN, index=1, command_variant=6)
    assert local_only.local_response_ack.response_code == "I0"
    state = simulator.device_state(POOR_WAN)
    assert state["commands_executed"] == 1  # only the locally delivered 7.8 ran
    assert state["switches"]["1"]["state"] == "on"


def test_local_delivery_needs_an_interface(dcc_client):
    dcc_client.local_delivery = None
    with pytest.raises(DccArgumentError, match=r"^command_variant: "):
        dcc_client.deactivate_auxiliary_load(target=POOR_WAN, index=1, duration_minutes=20, command_variant=6)


def test_boost_button_membership_press_alert_and_log(dcc_client, simulator, receiver, user_gbcs_ka):
    add = dcc_client.add_auxiliary_load_to_boost_button(target=HCALCS, indexes=[1])
    wait_until(lambda: _responses_for(dcc_client, receiver, add.request_id))
    off = dcc_client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=60)
    wait_until(lambda: _responses_for(dcc_client, receiver, off.request_id))

    reply = requests.post(f"{simulator.url}/sim/devices/{HCALCS}/boost", timeout=5)

    assert reply.status_code == 200 and reply.json() == {"restored": [1]}
    alerts = wait_until(
        lambda: [r for r in map(dcc_client.read_document, list(receiver.documents)) if r.kind == "device_alert"]
    )
    assert alerts[0].alert_code == BOOST_ALERT_CODE == "8161"
    certificates = {
        usage: load_certificate(pem.encode()) for usage, pem in simulator.device_certificates(HCALCS).items()
    }
    alert = gbcs.authenticate_alert(
        alerts[0].gbcs_payload,
        device_ka_key=certificates["KA"],
        recipient_ka_private_key=load_private_key(user_gbcs_ka[0]),
    )
    assert (alert.originator, alert.boost_pressed) == (HCALCS, True)
    assert simulator.device_state(HCALCS)["switches"]["1"]["state"] == "on"

    now = dt.datetime.now(dt.UTC)
    details = dcc_client.read_boost_button_details(
        target=HCALCS, start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=1)
    )
    [response] = wait_until(lambda: _responses_for(dcc_client, receiver, details.request_id))
    boost_log = _device_answer(response, simulator, user_gbcs_ka)  # MAC'd with the ESME's KA key
    assert isinstance(boost_log, gbcs.Ecs61cResponse)
    assert len(boost_log.boost_periods) == 1
    assert boost_log.boost_membership[1] is True

    remove = dcc_client.remove_auxiliary_load_from_boost_button(target=HCALCS, indexes=[1])
    wait_until(lambda: _responses_for(dcc_client, receiver, remove.request_id))
    assert simulator.device_state(HCALCS)["boost_button"] == []


def test_transient_503s_are_retried_with_the_same_request(dcc_client, simulator):
    simulator.faults.http_503 = 2
    outcome = dcc_client.read_auxiliary_load_switch_data(target=HCALCS)
    assert outcome.acknowledgement.response_code == "I0"
    assert simulator.faults.http_503 == 0
    assert [r for r in simulator.received if r[0] == str(outcome.request_id)] == [(str(outcome.request_id), 1, "I0")]


def test_persistent_503s_raise_a_transient_error_not_acknowledged(dcc_client, simulator):
    simulator.faults.http_503 = 10
    with pytest.raises(DccTransientError) as excinfo:
        dcc_client.read_auxiliary_load_switch_data(target=HCALCS)
    assert excinfo.value.acknowledged is False


@pytest.mark.parametrize(
    ("code", "error"), [("E20", DccTransientError), ("E5", DccPermanentError), ("E62", DccPermanentError)]
)
def test_error_codes_map_to_typed_errors(dcc_client, simulator, code, error):
    simulator.faults.force_code = code
    with pytest.raises(error) as excinfo:
        dcc_client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=5)
    assert excinfo.value.response_code == code
    assert simulator.device_state(HCALCS)["commands_executed"] == 0


def test_answer_signed_by_someone_else_is_refused(dcc_client, simulator, user_signer):
    dcc_client.dcc_verifier = DuisVerifier.trusting(user_signer.cert)
    with pytest.raises(DccSignatureError):
        dcc_client.read_auxiliary_load_switch_data(target=HCALCS)


def test_simulator_refuses_unsigned_forged_and_hostile_requests(simulator, dcc_signer):
    rid = RequestId.build(originator=ORIGINATOR, target=HCALCS, counter=1)
    unsigned = etree.tostring(documents.read_auxiliary_load_switch_data(request_id=rid))
    forged = dcc_signer.sign(documents.read_auxiliary_load_switch_data(request_id=rid))
    hostile = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    statuses = [
        requests.post(f"{simulator.url}/api/v1/serviceS", data=d, timeout=5).status_code
        for d in (unsigned, forged, hostile)
    ]
    assert statuses == [403, 403, 400]
    assert simulator.received == []


def test_pre_command_other_than_the_one_issued_is_refused(dcc_client, simulator):
    rid = dcc_client.new_request_id(HCALCS)
    transform = dcc_client.sign(documents.deactivate_auxiliary_load(request_id=rid, index=1, duration_minutes=5))
    dcc_client.submit(transform, command_variant=4, request_id=str(rid))
    # A user signing something else than the DCC issued (a longer curtailment) under the same RequestID.
    longer = gbcs.Ecs47Request(
        service="7.6", originator=ORIGINATOR, device=HCALCS, counter=rid.counter, switch_index=1, duration_minutes=500
    )
    signed = gbcs.sign_pre_command(
        gbcs.pre_command_build(longer), expected=longer, private_key=dcc_client.gbcs_signer.key
    )
    send = documents.signed_pre_command(request_id=rid, srv="7.6", command_variant=5, gbcs_payload=signed)
    answer = dcc_client.submit(dcc_client.sign(send), command_variant=5, request_id=str(rid))
    assert answer.response_code.startswith("E")
    assert simulator.device_state(HCALCS)["commands_executed"] == 0


def test_a_pre_command_that_says_something_else_is_never_signed(dcc_client, simulator):
    simulator.faults.stretch_pre_command = True  # the DCC returns 31 minutes for 30 asked
    with pytest.raises(
        DccPermanentError, match=r"pre-command does not match the request \(duration: asked 30, got 31\); not signed"
    ):
        dcc_client.deactivate_auxiliary_load(target=HCALCS, index=2, duration_minutes=30)
    assert [cv for _rid, cv, _code in simulator.received] == [4]  # nothing signed went back
    assert simulator.device_state(HCALCS)["commands_executed"] == 0


def test_request_to_the_wrong_service_is_refused(dcc_client):
    rid = dcc_client.new_request_id(HCALCS)
    document = dcc_client.sign(documents.deactivate_auxiliary_load(request_id=rid, index=1, duration_minutes=5))
    # CV 4 belongs to the transform service; post it to send-command instead.
    reply = requests.post(f"{dcc_client.base_url}/api/v1/serviceS", data=document, timeout=5)
    assert dcc_client.read_document(reply.content).response_code == "E13"


def test_duplicated_and_dropped_responses(dcc_client, simulator, receiver):
    simulator.faults.duplicate = 1.0
    duplicated = dcc_client.read_auxiliary_load_switch_data(target=HCALCS)
    responses = wait_until(
        lambda: (
            len(_responses_for(dcc_client, receiver, duplicated.request_id)) == 2
            and _responses_for(dcc_client, receiver, duplicated.request_id)
        )
    )
    assert responses[0].raw == responses[1].raw

    simulator.faults.duplicate = 0.0
    simulator.faults.drop = 1.0
    dropped = dcc_client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=5)
    wait_until(lambda: any(status == "dropped" for status, _ in simulator.deliveries))
    assert _responses_for(dcc_client, receiver, dropped.request_id) == []
    assert simulator.device_state(HCALCS)["switches"]["1"]["state"] == "off"  # the device acted; the answer was lost


def test_admin_endpoints_register_and_inspect_devices(simulator):
    new = "00-DB-12-34-56-78-90-D0"
    created = requests.post(
        f"{simulator.url}/sim/devices",
        json=[{"eui64": new.replace("-", "").lower(), "eno_firmware": False, "wan": "poor", "switch_indexes": [1, 2]}],
        timeout=5,
    )
    assert created.status_code == 201
    state = requests.get(f"{simulator.url}/sim/devices/{new}", timeout=5).json()
    assert state["eno_firmware"] is False and state["wan"] == "poor" and set(state["switches"]) == {"1", "2"}
    assert requests.get(f"{simulator.url}/sim/devices/00-00-00-00-00-00-00-99", timeout=5).status_code == 404
    assert requests.get(f"{simulator.url}/sim/devices/nonsense", timeout=5).status_code == 400
    assert requests.post(f"{simulator.url}/sim/devices", json={"eui64": "bad"}, timeout=5).status_code == 400
    assert requests.post(f"{simulator.url}/sim/faults", json={"explode": True}, timeout=5).status_code == 400
    assert requests.post(f"{simulator.url}/sim/rules", json={"rules": "today"}, timeout=5).json() == {"rules": "today"}
    assert simulator.rules == "today"


def test_reordered_responses_arrive_in_swapped_order(dcc_client, simulator, receiver):
    simulator.latency_s = (0.0, 0.0)  # responses produced in request order, then swapped by the fault
    simulator.faults.reorder = True
    first = dcc_client.read_auxiliary_load_switch_data(target=HCALCS)
    second = dcc_client.read_auxiliary_load_switch_data(target=HCALCS)
    wait_until(lambda: len(receiver.documents) == 2)
    arrived = [dcc_client.read_document(d).request_id for d in receiver.documents]
    assert arrived == [str(second.request_id), str(first.request_id)]


def test_latency_can_be_any_distribution(user_signer, user_gbcs_signer, user_gbcs_ka, dcc_signer, receiver, schema):
    drawn: list[float] = []

    def latency(rng) -> float:
        drawn.append(rng.expovariate(100.0))
        return drawn[-1]

    sim = DccSimulator(
        dcc_signer=dcc_signer,
        users=[simulated_user(user_signer, user_gbcs_signer, user_gbcs_ka)],
        callback_url=receiver.url,
        devices=[SimulatedDevice(eui64=HCALCS)],
        schema=schema,
        latency_s=latency,
    ).start()
    try:
        client = client_for(sim.url, user_signer, dcc_signer, user_gbcs_signer, schema=schema)
        outcome = client.read_auxiliary_load_switch_data(target=HCALCS)
        wait_until(lambda: _responses_for(client, receiver, outcome.request_id))
    finally:
        sim.stop()
    assert len(drawn) == 1


def test_everything_both_sides_emit_validates_against_the_duis_schema(dcc_client, simulator, receiver, schema):
    sent: list[bytes] = []

    def recorder(stage: str, document: bytes) -> None:
        sent.append(document)

    now = dt.datetime.now(dt.UTC)
    dcc_client.deactivate_auxiliary_load(target=HCALCS, index=1, duration_minutes=5, recorder=recorder)
    dcc_client.reset_auxiliary_load(target=POOR_WAN, index=1, command_variant=7, recorder=recorder)
    dcc_client.read_auxiliary_load_switch_data(target=HCALCS, command_variant=3, recorder=recorder)
    dcc_client.add_auxiliary_load_to_boost_button(target=HCALCS, indexes=[1, 2], recorder=recorder)
    dcc_client.remove_auxiliary_load_from_boost_button(target=HCALCS, indexes=[2], command_variant=2, recorder=recorder)
    dcc_client.read_boost_button_details(target=HCALCS, start=now - dt.timedelta(days=1), end=now, recorder=recorder)
    with pytest.raises(DccPermanentError):
        dcc_client.deactivate_auxiliary_load(target=OLD_FIRMWARE, index=1, duration_minutes=5, recorder=recorder)
    simulator.press_boost(HCALCS)
    wait_until(lambda: len(receiver.documents) >= 7)
    documents_seen = sent + list(receiver.documents)
    kinds = {etree.QName(parse_xml(d)).localname for d in documents_seen}
    assert kinds == {"Request", "Response"}
    assert len(sent) >= 20  # requests and acknowledgements, every stage
    for document in documents_seen:
        schema.validate(parse_xml(document))


def test_retry_after_the_send_failed_mid_flow_reuses_the_request_and_acts_once(dcc_client, simulator, receiver):
    """GIVEN the transform was acknowledged WHEN the CV 5 cannot get through THEN a retry of the
    same logical request (same RequestID) completes, and the device acts once."""

    def fail_the_send(stage: str, document: bytes) -> None:
        if stage == "request":  # about to POST the CV 5
            simulator.faults.http_503 = 100

    request_id = dcc_client.new_request_id(HCALCS)
    with pytest.raises(DccTransientError) as excinfo:
        dcc_client.deactivate_auxiliary_load(
            target=HCALCS, index=3, duration_minutes=10, request_id=request_id, recorder=fail_the_send
        )
    assert excinfo.value.acknowledged is False
    simulator.faults.http_503 = 0

    outcome = dcc_client.deactivate_auxiliary_load(target=HCALCS, index=3, duration_minutes=10, request_id=request_id)

    assert outcome.request_id == request_id
    assert [(cv, code) for rid, cv, code in simulator.received if rid == str(request_id)] == [(4, "I0"), (5, "I0")]
    wait_until(lambda: _responses_for(dcc_client, receiver, request_id))
    assert simulator.device_state(HCALCS)["commands_executed"] == 1


def test_the_simulator_publishes_each_devices_gbcs_certificates(simulator):
    reply = requests.get(f"{simulator.url}/sim/devices/{HCALCS}/certificates", timeout=5)
    assert reply.status_code == 200
    certificates = {usage: load_certificate(pem.encode()) for usage, pem in reply.json().items()}
    assert set(certificates) == {"DS", "KA"}
    assert {gbcs.certificate_entity_id(cert) for cert in certificates.values()} == {HCALCS}
    assert (
        requests.get(f"{simulator.url}/sim/devices/00-DB-00-00-00-00-00-09/certificates", timeout=5).status_code == 404
    )


def test_responses_the_endpoint_refuses_are_spooled_and_delivered_by_a_restarted_simulator(
    receiver, tmp_path, user_signer, user_gbcs_signer, user_gbcs_ka, dcc_signer, schema
):
    """GIVEN our endpoint answers 503 WHEN a device response falls due THEN the simulator
    keeps it (on disk) and tries again; WHEN that simulator stops and a new one starts on the
    same spool THEN the new one delivers it once the endpoint accepts it, as the DCC would."""
    first = DccSimulator(
        dcc_signer=dcc_signer,
        users=[simulated_user(user_signer, user_gbcs_signer, user_gbcs_ka)],
        callback_url=receiver.url,
        devices=[SimulatedDevice(eui64=HCALCS, switch_indexes=(1,))],
        schema=schema,
        latency_s=(0.0, 0.02),
        spool_dir=tmp_path / "spool",
        callback_retry_cap_s=0.2,
    ).start()
    receiver.status = 503
    client = client_for(first.url, user_signer, dcc_signer, user_gbcs_signer, schema=schema)
    sent = client.read_auxiliary_load_switch_data(target=HCALCS)
    wait_until(lambda: len(receiver.documents) >= 2)  # refused, then tried again
    assert first.undelivered_callbacks() == 1
    first.stop()
    assert len(list((tmp_path / "spool").glob("*.xml"))) == 1

    receiver.status = 200
    refused = len(receiver.documents)
    second = DccSimulator(
        dcc_signer=dcc_signer,
        users=[simulated_user(user_signer, user_gbcs_signer, user_gbcs_ka)],
        callback_url=receiver.url,
        schema=schema,
        spool_dir=tmp_path / "spool",
    ).start()
    try:
        wait_until(lambda: second.undelivered_callbacks() == 0 and len(receiver.documents) > refused)
        delivered = [client.read_document(body).request_id for body in receiver.documents[refused:]]
        assert delivered == [str(sent.request_id)]
        assert list((tmp_path / "spool").glob("*.xml")) == []
    finally:
        second.stop()
