"""Bad bytes get a GbcsError naming the field and offset, never an IndexError or the like;
a changed byte never authenticates."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcc.gbcs import (
    Ecs47Request,
    GbcsAuthenticationError,
    GbcsError,
    GbcsFormatError,
    GbcsMessage,
    GbcsUnsupportedError,
    authenticate_alert,
    authenticate_response,
    boost_alert_build,
    ecs47_response_build,
    ecs61c_response_build,
    ecs62_response_build,
    parse,
    pre_command_build,
    sign_pre_command,
)
from dcc.gbcs.codes import Cra, MessageCode
from dcc.gbcs.frames import GroupingHeader, general_signing_encode

from .conftest import GBCS_REFERENCE

NOW = datetime(2025, 11, 20, 17, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def samples(user, esme) -> dict[str, bytes]:
    """One well-formed message of each kind, to damage."""
    request = Ecs47Request(
        service="7.13", originator=user.eui, device=esme.eui, counter=1, switch_index=2, level=0, start=NOW, end=NOW
    )
    mac_keys = {"device_ka_private_key": esme.ka, "recipient_ka_public_key": user.ka.public_key()}
    identity = {"originator": user.eui, "device": esme.eui, "counter": 1}
    return {
        "pre-command": pre_command_build(request),
        "signed": sign_pre_command(pre_command_build(request), expected=request, private_key=user.ds),
        "ecs47 response": ecs47_response_build(service="7.6", **identity, device_ds_private_key=esme.ds),
        "ecs62 response": ecs62_response_build(**identity, **mac_keys),
        "ecs61c response": ecs61c_response_build(
            **identity, boost_available=True, boost_periods=(), boost_membership={1: True}, **mac_keys
        ),
        "boost alert": boost_alert_build(device=esme.eui, recipient=user.eui, counter=1, timestamp=NOW, **mac_keys),
    }


@functools.cache
def _rtds_samples() -> tuple[bytes, ...]:
    rtds = GBCS_REFERENCE / "rtds"
    return tuple(bytes.fromhex(path.read_text().strip()) for path in sorted(rtds.glob("*/*_GBCS.HEX")))


def _damage(data: st.DataObject, original: bytes) -> bytes:
    """A changed copy: truncated, bytes overwritten, or bytes inserted."""
    how = data.draw(st.sampled_from(["truncate", "overwrite", "insert"]), label="damage")
    at = data.draw(st.integers(0, len(original) - 1), label="at")
    if how == "truncate":
        return original[:at]
    noise = data.draw(st.binary(min_size=1, max_size=4), label="noise")
    if how == "insert":
        return original[:at] + noise + original[at:]
    return original[:at] + noise + original[at + len(noise) :]


def _parsed_or_error(message: bytes) -> GbcsMessage | GbcsError:
    try:
        return parse(message)
    except GbcsError as error:
        return error


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_damaged_messages_raise_only_gbcs_errors_and_never_authenticate(user, esme, samples, data):
    name = data.draw(st.sampled_from(sorted(samples)), label="sample")
    damaged = _damage(data, samples[name])

    assert isinstance(_parsed_or_error(damaged), GbcsMessage | GbcsError)
    if damaged == samples[name]:
        return  # an overwrite with the same bytes
    keys = {
        "device_ds_key": esme.ds.public_key(),
        "device_ka_key": esme.ka.public_key(),
        "recipient_ka_private_key": user.ka,
    }
    if name == "boost alert":
        with pytest.raises(GbcsError):
            authenticate_alert(damaged, **keys)
    elif name.endswith("response"):
        with pytest.raises(GbcsError):
            authenticate_response(damaged, **keys)


@pytest.mark.skipif(
    not GBCS_REFERENCE.is_dir(),
    reason="needs ../shared/reference/gbcs (the DCC's RTDS vectors), absent on this machine",
)
@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_damaged_rtds_vectors_raise_only_gbcs_errors(data):
    original = data.draw(st.sampled_from(_rtds_samples()), label="vector")

    assert isinstance(_parsed_or_error(_damage(data, original)), GbcsMessage | GbcsError)


@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_gbcs_errors(junk):
    assert isinstance(_parsed_or_error(junk), GbcsMessage | GbcsError)


@settings(max_examples=200, deadline=None)
@given(junk=st.binary(max_size=200))
def test_signing_arbitrary_bytes_is_refused_with_a_gbcs_error(user, esme, junk):
    request = Ecs47Request(service="7.8", originator=user.eui, device=esme.eui, counter=1, switch_index=1)

    with pytest.raises(GbcsError):
        sign_pre_command(b"\xdf" + junk, expected=request, private_key=user.ds)


def test_a_truncated_message_names_the_field_and_offset(samples):
    pre_command = samples["pre-command"]

    with pytest.raises(GbcsFormatError) as error:
        parse(pre_command[:-3])

    assert error.value.field == "content"
    assert error.value.offset == pre_command.index(b"\xd9")
    assert str(error.value).startswith(f"content at offset {error.value.offset}: needs ")


def test_an_unknown_frame_tag_is_named():
    with pytest.raises(GbcsFormatError, match=r"message tag at offset 0: 0x42 is neither"):
        parse(b"\x42\x00")


def test_a_use_case_dnoctl_does_not_handle_is_unsupported(samples):
    pre_command = bytearray(samples["pre-command"])
    code_at = pre_command.index(b"\x01\x1e")  # ECS47a's message code
    pre_command[code_at : code_at + 2] = b"\x00\x59"  # ECS52, read firmware version

    with pytest.raises(GbcsUnsupportedError, match="0x0059"):
        parse(bytes(pre_command))


def test_an_inconsistent_pre_command_is_malformed(samples):
    """GIVEN a 7.13 pre-command whose set requests name switch 2 and whose script selector
    names switch 3 THEN it is refused as malformed, not read either way."""
    pre_command = bytearray(samples["pre-command"])
    selector_at = len(pre_command) - 2
    pre_command[selector_at] = 0x13  # output, switch 3

    with pytest.raises(GbcsFormatError, match="expected switch 3 object 1"):
        parse(bytes(pre_command))


def test_a_response_without_protection_is_refused(esme, samples):
    response = samples["ecs47 response"]
    unsigned = response[:-65]

    with pytest.raises(GbcsAuthenticationError, match="not signed"):
        authenticate_response(unsigned, device_ds_key=esme.ds.public_key())


def test_a_deep_nesting_is_refused_without_recursion_error(user, esme):
    header = GroupingHeader(Cra.RESPONSE, 1, esme.eui, user.eui, None, MessageCode.ECS62)
    nested = b"\x01\x01" * 40 + b"\x00"  # 40 one-element arrays around a null
    payload = b"\xda\x20\x00\x00\x01\x00\x00" + b"\x01" + nested + b"\x01\x02\x00"

    with pytest.raises(GbcsFormatError, match="nested deeper than 16"):
        parse(general_signing_encode(header, payload))


def test_a_compact_array_of_empty_elements_is_refused(user, esme):
    """GIVEN a compact array whose elements take no bytes THEN it is refused at once (else
    a few bytes could claim billions of elements)."""
    header = GroupingHeader(Cra.RESPONSE, 1, esme.eui, user.eui, None, MessageCode.ECS61C)
    empty_elements = b"\x13" + b"\x01\xff\xff" + b"\x02\x00" + b"\x00"  # array of 65535 empty structures
    payload = b"\xda\x20\x00\x00\x01\x00\x00" + b"\x01" + empty_elements + b"\x01\x01\x00"

    with pytest.raises(GbcsFormatError, match="elements of no size"):
        parse(general_signing_encode(header, payload))
