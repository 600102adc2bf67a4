"""The DCC's own tools judge dnoctl's DUIS, in both directions.

- What dnoctl signs as DCC Boxed's network operator (its XML key and certificate are in the
  DCC's signing tool) passes the tool's ``Validate`` and the DCC's DUIS parser reads it as meant.
- What the tool signs reaches dnoctl's simulator and is acknowledged; tampered, it is refused.
- Responses and alerts the tool signs with the DSP's keys (the current and the pre-1.4.1 one,
  with the root namespace declarations the DCC's own responses carry) are applied by
  ``POST /dcc/responses/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import requests
from django.db import connection
from lxml import etree

from dcc.duis import (
    DccClient,
    DuisSigner,
    DuisVerifier,
    GbcsSigner,
    InMemoryCounterSource,
    RequestId,
    documents,
)
from dcc.duis.signing import load_certificate
from dcc.duis.xmlsafe import parse_xml
from dcc.gbcs.certificates import identity_make as gbcs_identity_make
from dcc.models import InboundDocument, ServiceRequest
from dcc.services import service_request_create
from dcc.simulator import WAN_POOR, DccSimulator, HttpLocalDelivery, SimulatedDevice, SimulatedUser
from tests.judges import (
    DSP_XML_KEY,
    DSP_XML_KEY_PRE_1_4_1,
    NETWORK_OPERATOR,
    NETWORK_OPERATOR_GBCS_KEY,
    NETWORK_OPERATOR_XML_KEY,
    dcc_parse,
    dcc_tool_sign,
    dcc_tool_validate,
    jar_identity,
)

from .conftest import HCALCS, POOR_WAN, wait_until

ROOT_DECLARATIONS = {
    # What the DCC's own responses declare on the root and nothing uses (see the reference set).
    "ns3": "http://www.w3.org/2000/09/xmldsig#",
    "ra": "http://www.dccinterface.co.uk/ResponseAndAlert",
}


@pytest.fixture(scope="module")
def network_operator() -> tuple[DuisSigner, GbcsSigner]:
    """DCC Boxed's network operator: its XML-signing and GBCS keys, as the DCC ships them (DER)."""
    return DuisSigner.from_pem(*jar_identity(NETWORK_OPERATOR_XML_KEY)), GbcsSigner.from_pem(
        *jar_identity(NETWORK_OPERATOR_GBCS_KEY)
    )


@pytest.fixture(scope="module")
def dsp() -> DuisSigner:
    return DuisSigner.from_pem(*jar_identity(DSP_XML_KEY))


@pytest.fixture
def boxed_simulator(network_operator, dsp, receiver, schema) -> Iterator[DccSimulator]:
    """Our simulator given the DCC Boxed keys: it signs as the DSP and serves the network operator."""
    xml, gbcs = network_operator
    # DCC Boxed ships no key-agreement key in the tool; ours stands in (MACs are not what this judges).
    _ka_key, ka_cert = gbcs_identity_make(eui64=NETWORK_OPERATOR, usage="KA", device=False)
    simulator = DccSimulator(
        dcc_signer=dsp,
        users=[
            SimulatedUser(
                eui64=NETWORK_OPERATOR,
                xml_certs=(xml.cert,),
                gbcs_cert=gbcs.cert,
                gbcs_ka_cert=load_certificate(ka_cert),
            )
        ],
        callback_url=receiver.url,
        devices=[
            SimulatedDevice(eui64=HCALCS, switch_indexes=(1, 2, 3), apc_indexes=(3,)),
            SimulatedDevice(eui64=POOR_WAN, wan=WAN_POOR),
        ],
        schema=schema,
        latency_s=(0.0, 0.02),
    ).start()
    yield simulator
    simulator.stop()


def _client(simulator: DccSimulator, network_operator, dsp: DuisSigner, schema) -> DccClient:
    xml, gbcs = network_operator
    return DccClient(
        simulator.url,
        xml,
        DuisVerifier.trusting(dsp.cert),
        gbcs_signer=gbcs,
        originator=NETWORK_OPERATOR,
        counters=InMemoryCounterSource(start=int(dt.datetime.now(dt.UTC).timestamp() * 1000)),
        schema=schema,
        local_delivery=HttpLocalDelivery(simulator.url),
        backoff_s=0.01,
    )


def test_every_document_dnoctl_signs_passes_the_dcc_tools_validate(boxed_simulator, network_operator, dsp, schema):
    client = _client(boxed_simulator, network_operator, dsp, schema)
    exchanged: list[tuple[str, bytes]] = []

    def recorder(stage: str, document: bytes) -> None:
        exchanged.append((stage, document))

    now = dt.datetime.now(dt.UTC)
    client.deactivate_auxiliary_load(target=HCALCS, index=2, duration_minutes=30, recorder=recorder)
    client.reset_auxiliary_load(target=HCALCS, index=2, recorder=recorder)
    client.read_auxiliary_load_switch_data(target=HCALCS, recorder=recorder)
    client.add_auxiliary_load_to_boost_button(target=HCALCS, indexes=[1, 3], recorder=recorder)
    client.remove_auxiliary_load_from_boost_button(target=HCALCS, indexes=[3], recorder=recorder)
    client.read_boost_button_details(target=HCALCS, start=now - dt.timedelta(days=2), end=now, recorder=recorder)
    client.set_auxiliary_controller_state(
        target=HCALCS, index=3, level=80, start=now, end=now + dt.timedelta(hours=1), recorder=recorder
    )
    client.limit_apc_level(
        target=HCALCS, index=3, level=57, start=now, end=now + dt.timedelta(hours=1), recorder=recorder
    )
    # A poor-WAN meter: CV 7, then the device's answer goes back to the DCC with an 8.13.
    client.reset_auxiliary_load(target=POOR_WAN, index=1, command_variant=7, recorder=recorder)

    signed_by_us = [document for stage, document in exchanged if stage in {"transform", "request"}]
    kinds = {
        (
            int(root.findtext(f".//{{{documents.SR_NS}}}CommandVariant")),
            root.findtext(f".//{{{documents.SR_NS}}}ServiceReference"),
        )
        for root in map(parse_xml, signed_by_us)
    }
    # CV 4 and the CV 5/7 signed pre-command of each critical request, the non-critical ones, the 8.13.
    assert kinds == {
        (4, "7.6"),
        (5, "7.6"),
        (4, "7.8"),
        (5, "7.8"),
        (7, "7.8"),
        (4, "7.13"),
        (5, "7.13"),
        (4, "7.16"),
        (5, "7.16"),
        (1, "7.7"),
        (1, "7.9"),
        (1, "7.10"),
        (1, "7.11"),
        (8, "8.13"),
    }
    for document in signed_by_us:
        verdict = dcc_tool_validate(document)
        assert verdict.ok, verdict.stderr
        assert "passed signature check" in verdict.stderr
    # And what the simulator signs as the DSP passes too (its acknowledgements).
    for _stage, document in [item for item in exchanged if item[0].endswith("ack")][:3]:
        verdict = dcc_tool_validate(document)
        assert verdict.ok, verdict.stderr


def test_the_dcc_parser_reads_a_signed_7_6_as_meant(network_operator):
    xml, _gbcs = network_operator
    rid = RequestId.build(originator=NETWORK_OPERATOR, target=HCALCS, counter=1_764_000_000_123)
    parsed = dcc_parse(xml.sign(documents.deactivate_auxiliary_load(request_id=rid, index=3, duration_minutes=45)))
    header = parsed["header"]
    assert header["requestId"] == {
        "originatorId": NETWORK_OPERATOR.lower(),
        "targetId": HCALCS.lower(),
        "counter": "1764000000123",
    }
    assert header["commandVariant"]["number"] == 4
    assert header["serviceReferenceVariant"]["Service Request Name"] == "Deactivate Auxiliary Load"
    assert parsed["body"] == {"DeactivateAuxiliaryLoad": {"DeactivateALCSHCALCS": {"Duration": "45", "@_index": "3"}}}


def _network_operator_request(counter: int) -> etree._Element:
    rid = RequestId.build(originator=NETWORK_OPERATOR, target=HCALCS, counter=counter)
    return documents.read_auxiliary_load_switch_data(request_id=rid)


def test_requests_the_dcc_tool_signs_reach_the_simulator_and_tampered_ones_do_not(boxed_simulator, dsp, receiver):
    counter = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    signed = dcc_tool_sign(etree.tostring(_network_operator_request(counter)))
    reply = requests.post(f"{boxed_simulator.url}/api/v1/serviceS", data=signed, timeout=10)
    assert reply.status_code == 200
    ack = documents.parse_response(DuisVerifier.trusting(dsp.cert).verify(reply.content))
    assert (ack.response_code, ack.request_id) == ("I0", f"{NETWORK_OPERATOR}:{HCALCS}:{counter}")
    wait_until(lambda: any(f":{counter}</sr:RequestID>".encode() in d for d in receiver.documents))

    tampered = dcc_tool_sign(etree.tostring(_network_operator_request(counter + 1))).replace(
        b"<sr:ServiceReference>7.7<", b"<sr:ServiceReference>7.8<"
    )
    refused = requests.post(f"{boxed_simulator.url}/api/v1/serviceS", data=tampered, timeout=10)
    assert refused.status_code == 403
    assert b"Digest mismatch" in refused.content
    assert [rid for rid, _cv, _code in boxed_simulator.received] == [f"{NETWORK_OPERATOR}:{HCALCS}:{counter}"]


# --------------------------------------------------------------------------- /dcc/responses/


@pytest.fixture
def boxed_settings(dcc_settings, settings, tmp_path):
    """dnoctl trusting both of DCC Boxed's DSP keys (the current one and the pre-1.4.1 one)."""
    paths = []
    for name in (DSP_XML_KEY, DSP_XML_KEY_PRE_1_4_1):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(jar_identity(name)[1])
        paths.append(str(path))
    settings.DCC = {**settings.DCC, "DCC_CERT_PATHS": paths}
    return settings.DCC


def _response_for(request: ServiceRequest, *, code: str = "I0") -> bytes:
    """An unsigned device response as the DCC lays it out, root declarations included."""
    root = documents.build_response(
        request_id=request.request_id,
        response_id=RequestId.parse(request.request_id).response_id(),
        response_code=code,
        srv=request.srv,
    )
    declared = etree.Element(root.tag, nsmap={**root.nsmap, **ROOT_DECLARATIONS}, attrib=dict(root.attrib))
    declared.extend(list(root))
    return etree.tostring(declared, xml_declaration=True, encoding="UTF-8")


@pytest.mark.django_db
@pytest.mark.parametrize("dsp_key", [DSP_XML_KEY, DSP_XML_KEY_PRE_1_4_1])
def test_responses_the_dcc_tool_signs_with_either_dsp_key_are_applied(boxed_settings, client, dsp_key):
    request = service_request_create(srv="7.7", target=HCALCS)
    signed = dcc_tool_sign(_response_for(request), as_identity=dsp_key)
    assert b'xmlns:ra="http://www.dccinterface.co.uk/ResponseAndAlert"' in signed
    reply = client.post("/dcc/responses/", data=signed, content_type="application/xml")
    assert (reply.status_code, reply.content) == (200, b"applied\n")
    request.refresh_from_db()
    assert (request.state, request.response_code) == ("responded", "I0")


@pytest.mark.django_db
def test_a_dcc_alert_the_dcc_tool_signs_is_accepted_and_a_tampered_one_is_not(boxed_settings, client):
    request = service_request_create(srv="7.7", target=HCALCS)
    alert = documents.build_dcc_alert(alert_code="N12", failed_request_id=request.request_id, device=HCALCS)
    signed = dcc_tool_sign(etree.tostring(alert, xml_declaration=True, encoding="UTF-8"), as_identity=DSP_XML_KEY)
    tampered = signed.replace(b"<sr:DCCAlertCode>N12<", b"<sr:DCCAlertCode>N13<")
    assert client.post("/dcc/responses/", data=tampered, content_type="application/xml").status_code == 403
    request.refresh_from_db()
    assert request.state == "built"
    reply = client.post("/dcc/responses/", data=signed, content_type="application/xml")
    assert (reply.status_code, reply.content) == (200, b"applied\n")
    request.refresh_from_db()
    assert (request.state, request.response_code) == ("failed", "N12")
    assert list(InboundDocument.objects.values_list("kind", "code", "outcome")) == [("dcc_alert", "N12", "applied")]


@pytest.mark.django_db
def test_a_response_signed_by_a_dcc_key_we_do_not_trust_is_refused(dcc_settings, client):
    # dcc_settings trusts only the test DCC key, not DCC Boxed's DSP.
    request = service_request_create(srv="7.7", target=HCALCS)
    signed = dcc_tool_sign(_response_for(request), as_identity=DSP_XML_KEY)
    reply = client.post("/dcc/responses/", data=signed, content_type="application/xml")
    assert reply.status_code == 403
    assert b"not trusted" in reply.content
    request.refresh_from_db()
    assert request.state == "built"
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM dcc_inbounddocument")
        assert cursor.fetchone()[0] == 0


def test_the_network_operator_certificate_is_the_one_the_tool_names(network_operator):
    # The jar's certificate for the XML key is what Validate looks up by serial number.
    xml, gbcs = network_operator
    assert xml.cert.serial_number != gbcs.cert.serial_number  # two keys, as a DCC user has
    assert load_certificate(jar_identity(NETWORK_OPERATOR_XML_KEY)[1]) == xml.cert


@pytest.mark.django_db
def test_a_device_alert_the_dcc_tool_signs_reaches_its_handler(
    boxed_settings, simulator, client, django_capture_on_commit_callbacks
):
    from dcc.duis.alert_codes import BOOST_ALERT_CODE
    from dcc.services import handlers_replaced
    from dcc.simulator import device_gbcs

    from .conftest import ORIGINATOR

    # The meter's own boost alert (real GBCS, MAC'd for us), in a DUIS document the DCC's tool signs as the DSP.
    payload = device_gbcs.boost_alert(
        device=simulator.devices.get(HCALCS), user=simulator.users[ORIGINATOR], now=dt.datetime.now(dt.UTC).timestamp()
    )
    root = documents.build_response(
        request_id=None,
        response_id=f"{HCALCS}:{ORIGINATOR}:7",
        response_code="I0",
        alert_code=BOOST_ALERT_CODE,
        gbcs_payload=payload,
    )
    signed = dcc_tool_sign(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), as_identity=DSP_XML_KEY)
    heard = []
    with handlers_replaced(alerts={BOOST_ALERT_CODE: heard.append}), django_capture_on_commit_callbacks(execute=True):
        reply = client.post("/dcc/responses/", data=signed, content_type="application/xml")
    assert (reply.status_code, reply.content) == (200, b"alert\n")
    assert [(alert.target_eui64, alert.detail["boost_pressed"]) for alert in heard] == [(HCALCS, True)]
