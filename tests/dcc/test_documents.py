"""Built requests: schema-valid, structurally equal to the DCC's own request templates, signed right."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from lxml import etree

from dcc import gbcs
from dcc.duis import DccArgumentError, DccSignatureError, DuisVerifier, RequestId, documents
from dcc.duis.errors import DccDocumentError
from dcc.duis.xmlsafe import parse_xml
from tests.judges import duis_template, shared_reference

from .conftest import ORIGINATOR
from .structure import assert_same_structure

TARGET = "00-DB-12-34-56-78-90-A1"
RID = RequestId.build(originator=ORIGINATOR, target=TARGET, counter=424242)


def _builders() -> dict[str, tuple[str, etree._Element]]:
    return {
        "7.6": (
            "ECS47Deactivate_7.6_SUCCESS_REQUEST_DUIS.XML",
            documents.deactivate_auxiliary_load(request_id=RID, index=2, duration_minutes=30),
        ),
        "7.8": ("ECS47Reset_7.8_SUCCESS_REQUEST_DUIS.XML", documents.reset_auxiliary_load(request_id=RID, index=1)),
        "7.9": (
            "ECS62Add_7.9_SUCCESS_REQUEST_DUIS.XML",
            documents.add_auxiliary_load_to_boost_button(request_id=RID, indexes=[1, 3]),
        ),
        "7.10": (
            "ECS62Remove_7.10_SUCCESS_REQUEST_DUIS.XML",
            documents.remove_auxiliary_load_from_boost_button(request_id=RID, indexes=[2]),
        ),
        "7.11": (
            "ECS61c_7.11_SUCCESS_REQUEST_DUIS.XML",
            documents.read_boost_button_details(
                request_id=RID, start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), end=dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
            ),
        ),
        "8.13": (
            "8.13_RETURN_LOCAL_COMMAND_RESPONSE_CS06_REQUEST_DUIS.XML",
            documents.return_local_command_response(
                request_id=RequestId.build(originator=ORIGINATOR, target="90-B3-D5-1F-30-00-00-02", counter=7),
                original_request_id=RID,
                device_gbcs_response=b"\x01\x02device",
            ),
        ),
    }


@pytest.mark.parametrize("srv", ["7.6", "7.8", "7.9", "7.10", "7.11", "8.13"])
def test_signed_request_matches_reference_structure_and_schema(srv, user_signer, schema):
    reference_name, request = _builders()[srv]
    signed = user_signer.sign(request)
    root = parse_xml(signed)
    schema.validate(root)
    reference = etree.parse(str(duis_template(reference_name))).getroot()
    schema.validate(reference)  # the comparison only means something if the reference is valid
    assert_same_structure(root, reference)
    assert root.nsmap["sr"] == documents.SR_NS
    # The templates are written for an earlier DUIS (5.2); ours say the version we build to.
    assert root.get("schemaVersion") == documents.SCHEMA_VERSION == "5.4"


def test_read_alcs_data_and_signed_pre_command_validate(user_signer, schema):
    for request in (
        documents.read_auxiliary_load_switch_data(request_id=RID),
        documents.signed_pre_command(request_id=RID, srv="7.6", command_variant=5, gbcs_payload=b"pre-command"),
    ):
        schema.validate(parse_xml(user_signer.sign(request)))


def test_header_carries_request_id_and_command_variant():
    request = documents.deactivate_auxiliary_load(request_id=RID, index=4, duration_minutes=90)
    parsed = documents.parse_request(request)
    assert parsed.request_id == RID
    assert parsed.command_variant == 4
    assert parsed.srv == "7.6"
    switch = parsed.body.find(f"{{{documents.SR_NS}}}DeactivateALCSHCALCS")
    assert switch.get("index") == "4"
    assert switch.findtext(f"{{{documents.SR_NS}}}Duration") == "90"


def test_boost_membership_lists_all_five_switches_true_only_for_chosen():
    request = documents.add_auxiliary_load_to_boost_button(request_id=RID, indexes=[2, 5])
    values = {e.get("index"): e.text for e in documents.parse_request(request).body}
    assert values == {"1": "false", "2": "true", "3": "false", "4": "false", "5": "true"}


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: documents.deactivate_auxiliary_load(request_id=RID, index=7, duration_minutes=30), "index"),
        (lambda: documents.deactivate_auxiliary_load(request_id=RID, index=0, duration_minutes=30), "index"),
        (lambda: documents.deactivate_auxiliary_load(request_id=RID, index=True, duration_minutes=30), "index"),
        (lambda: documents.deactivate_auxiliary_load(request_id=RID, index=1, duration_minutes=0), "duration_minutes"),
        (
            lambda: documents.deactivate_auxiliary_load(request_id=RID, index=1, duration_minutes=65536),
            "duration_minutes",
        ),
        (lambda: documents.deactivate_auxiliary_load(request_id="x:y:1", index=1, duration_minutes=5), "request_id"),
        (lambda: documents.reset_auxiliary_load(request_id=RID, index=6), "index"),
        (lambda: documents.add_auxiliary_load_to_boost_button(request_id=RID, indexes=[]), "indexes"),
        (lambda: documents.add_auxiliary_load_to_boost_button(request_id=RID, indexes=[1, 9]), "indexes"),
        (
            lambda: documents.add_auxiliary_load_to_boost_button(request_id=RID, indexes=[1], command_variant=4),
            "command_variant",
        ),
        (
            lambda: documents.read_boost_button_details(
                request_id=RID, start=dt.datetime(2026, 1, 2), end=dt.datetime(2026, 1, 3, tzinfo=dt.UTC)
            ),
            "start",
        ),
        (
            lambda: documents.read_boost_button_details(
                request_id=RID, start=dt.datetime(2026, 1, 2, tzinfo=dt.UTC), end=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            ),
            "end",
        ),
        (lambda: documents.signed_pre_command(request_id=RID, srv="7.9", command_variant=5, gbcs_payload=b"x"), "srv"),
        (
            lambda: documents.signed_pre_command(request_id=RID, srv="7.6", command_variant=4, gbcs_payload=b"x"),
            "command_variant",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(build, argument):
    with pytest.raises(DccArgumentError) as excinfo:
        build()
    assert excinfo.value.argument == argument
    assert str(excinfo.value).startswith(f"{argument}: ")


def test_signature_verifies_with_our_certificate(user_signer):
    signed = user_signer.sign(documents.deactivate_auxiliary_load(request_id=RID, index=3, duration_minutes=60))
    verified = DuisVerifier.trusting(user_signer.cert).verify(signed)
    assert documents.parse_request(verified).request_id == RID


def test_signature_fails_after_any_byte_of_the_body_changes(user_signer):
    signed = user_signer.sign(documents.deactivate_auxiliary_load(request_id=RID, index=3, duration_minutes=60))
    verifier = DuisVerifier.trusting(user_signer.cert)
    start, end = signed.index(b"<sr:Header>"), signed.index(b"</sr:Body>") + len(b"</sr:Body>")
    tried = 0
    for position in range(start, end):
        original = signed[position]
        if chr(original).isspace():
            continue  # whitespace between elements: covered by the text positions around it
        replacement = b"Z" if original != ord("Z") else b"Y"
        tampered = signed[:position] + replacement + signed[position + 1 :]
        with pytest.raises((DccSignatureError, DccDocumentError)):
            verifier.verify(tampered)
        tried += 1
    assert tried > 200


def test_signature_from_another_key_is_refused(user_signer, dcc_signer):
    signed = dcc_signer.sign(documents.reset_auxiliary_load(request_id=RID, index=1))
    with pytest.raises(DccSignatureError):
        DuisVerifier.trusting(user_signer.cert).verify(signed)


def test_signature_naming_our_certificate_but_made_with_another_key_is_refused(user_signer, dcc_signer):
    forged = dcc_signer.sign(documents.reset_auxiliary_load(request_id=RID, index=1))
    # Rewrite KeyInfo to name the victim's certificate; the signature itself stays the forger's.
    forger_issuer = dcc_signer.cert.issuer.rfc4514_string().encode()
    forged = forged.replace(forger_issuer, user_signer.cert.issuer.rfc4514_string().encode())
    forged = forged.replace(str(dcc_signer.cert.serial_number).encode(), str(user_signer.cert.serial_number).encode())
    with pytest.raises(DccSignatureError):
        DuisVerifier.trusting(user_signer.cert).verify(forged)


def test_unsigned_document_is_refused(user_signer):
    unsigned = etree.tostring(documents.reset_auxiliary_load(request_id=RID, index=1))
    with pytest.raises(DccSignatureError):
        DuisVerifier.trusting(user_signer.cert).verify(unsigned)


def test_gbcs_pre_command_signature_round_trip_and_tamper(user_gbcs_signer, user_signer):
    asked = gbcs.Ecs47Request(
        service="7.6", originator=ORIGINATOR, device=TARGET, counter=424242, switch_index=2, duration_minutes=30
    )
    pre_command = gbcs.pre_command_build(asked)
    signed = user_gbcs_signer.sign_pre_command(pre_command, asked)
    assert (
        user_gbcs_signer.sign_pre_command(pre_command, asked) == signed
    )  # deterministic: retries resend identical bytes
    assert signed[: len(pre_command)] == pre_command and signed[len(pre_command)] == 0x40
    gbcs.verify_signed(signed, user_gbcs_signer.cert)
    with pytest.raises(gbcs.GbcsAuthenticationError):
        gbcs.verify_signed(signed[:-1] + bytes([signed[-1] ^ 1]), user_gbcs_signer.cert)
    with pytest.raises(gbcs.GbcsError):  # the XML-signing key is a different key
        gbcs.verify_signed(signed, user_signer.cert)
    with pytest.raises(gbcs.PreCommandMismatch, match="duration"):
        user_gbcs_signer.sign_pre_command(pre_command, dataclasses.replace(asked, duration_minutes=31))


def test_reference_responses_parse():
    what = "the DCC's reference responses"
    ack = documents.parse_response(
        parse_xml(shared_reference("duis", "RESPONSE_I0_example.xml", what=what).read_bytes())
    )
    assert ack.response_code == "I0"
    assert ack.request_id.endswith(":1660751141087")
    assert ack.response_id.startswith("88-73-84-57-00-2F-96-1E:")
    assert ack.gbcs_payload and ack.service_reference == "11.2"
    error = documents.parse_response(
        parse_xml(shared_reference("duis", "RESPONSE_ERROR_E65_example.xml", what=what).read_bytes())
    )
    assert error.response_code == "E65"
    assert error.response_id is None


def test_simulator_style_responses_validate(dcc_signer, schema):
    for root in (
        documents.build_response(
            request_id=str(RID), response_id=RID.response_id(), response_code="I0", srv="7.6", pre_command=b"p"
        ),
        documents.build_response(
            request_id=str(RID), response_id=RID.response_id(), response_code="I0", srv="7.6", local_command=b"l"
        ),
        documents.build_response(request_id=str(RID), response_id=RID.response_id(), response_code="E2", srv="7.9"),
        documents.build_response(
            request_id=None, response_id=RID.response_id(), response_code="I0", alert_code="8F3E", gbcs_payload=b"a"
        ),
    ):
        signed = dcc_signer.sign(root)
        schema.validate(parse_xml(signed))
        parsed = documents.parse_response(DuisVerifier.trusting(dcc_signer.cert).verify(signed))
        assert parsed.response_code in {"I0", "E2"}


def test_documents_are_also_checked_against_duis_5_4_where_shared_has_it(duis_schema_paths, schema):
    path = shared_reference("duis", "schema", "DUIS_Schema_V5.4.xsd", what="the DCC's DUIS 5.4 XSD")
    assert path in duis_schema_paths
    bad = documents.deactivate_auxiliary_load(request_id=RID, index=1, duration_minutes=5)
    bad.find(f".//{{{documents.SR_NS}}}Duration").text = "not-a-number"
    with pytest.raises(DccDocumentError, match="fails the DUIS schema"):
        schema.validate(bad)
