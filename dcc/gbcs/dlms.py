"""The DLMS/COSEM pieces GBCS carries for an ESME (data values, Access-Request/Response, Data-
Notification), A-XDR encoded per the Green Book; only what these use cases need."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .codes import ACTION_RESULTS, DATA_ACCESS_RESULTS
from .errors import GbcsUnsupportedError
from .reader import Reader, encode_length

ACCESS_REQUEST = 0xD9
ACCESS_RESPONSE = 0xDA
DATA_NOTIFICATION = 0x0F
MAX_NESTING = 16  # deeper than any GBCS structure; stops hostile nesting before recursion does
# long-invoke-id-and-priority as GBCS sets it: break-on-error, then the low 24 bits of the
# originator counter as the invoke id.
INVOKE_ID_FLAGS = 0x2000_0000


def invoke_id_for(counter: int) -> int:
    return INVOKE_ID_FLAGS | (counter & 0xFF_FFFF)


class DataTag(IntEnum):
    NULL = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27


# size in bytes, signed: integers (and booleans, as 0/1)
_INTEGERS = {
    DataTag.BOOLEAN: (1, False),
    DataTag.DOUBLE_LONG: (4, True),
    DataTag.DOUBLE_LONG_UNSIGNED: (4, False),
    DataTag.INTEGER: (1, True),
    DataTag.LONG: (2, True),
    DataTag.UNSIGNED: (1, False),
    DataTag.LONG_UNSIGNED: (2, False),
    DataTag.LONG64: (8, True),
    DataTag.LONG64_UNSIGNED: (8, False),
    DataTag.ENUM: (1, False),
}
# fixed-size values kept as raw bytes
_FIXED_RAW = {DataTag.FLOAT32: 4, DataTag.FLOAT64: 8, DataTag.DATE_TIME: 12, DataTag.DATE: 5, DataTag.TIME: 4}
_STRINGS = (DataTag.OCTET_STRING, DataTag.VISIBLE_STRING, DataTag.UTF8_STRING)


@dataclass(frozen=True)
class BitString:
    bit_length: int
    data: bytes


@dataclass(frozen=True)
class TypeDescription:
    """A compact array's element type: a simple tag, an array, or a structure."""

    tag: DataTag
    elements: tuple[TypeDescription, ...] = ()
    count: int = 0


@dataclass(frozen=True)
class CompactArray:
    description: TypeDescription
    elements: tuple[Data, ...]


@dataclass(frozen=True)
class Data:
    """One DLMS value: None, bool, int, bytes, str, a tuple of Data, a :class:`BitString` or a :class:`CompactArray`."""

    tag: DataTag
    value: object = None

    @property
    def items(self) -> tuple[Data, ...]:
        if self.tag is DataTag.COMPACT_ARRAY:
            return self.value.elements
        if self.tag not in (DataTag.ARRAY, DataTag.STRUCTURE):
            raise TypeError(f"{self.tag.name} has no items")
        return self.value


NULL = Data(DataTag.NULL)


def boolean(value: bool) -> Data:
    return Data(DataTag.BOOLEAN, bool(value))


def long_unsigned(value: int) -> Data:
    return Data(DataTag.LONG_UNSIGNED, value)


def double_long_unsigned(value: int) -> Data:
    return Data(DataTag.DOUBLE_LONG_UNSIGNED, value)


def octet_string(value: bytes) -> Data:
    return Data(DataTag.OCTET_STRING, bytes(value))


def visible_string(value: str) -> Data:
    return Data(DataTag.VISIBLE_STRING, value)


def structure(*items: Data) -> Data:
    return Data(DataTag.STRUCTURE, tuple(items))


def array(*items: Data) -> Data:
    return Data(DataTag.ARRAY, tuple(items))


def _tag(reader: Reader, field: str) -> DataTag:
    at = reader.offset
    value = reader.byte(field)
    try:
        return DataTag(value)
    except ValueError:
        raise reader.fail(field, f"DLMS data type {value} is not supported", at) from None


def data_decode(reader: Reader, field: str, depth: int = 0) -> Data:
    tag = _tag(reader, f"{field} type")
    return _value_decode(reader, field, tag, depth)


def _value_decode(reader: Reader, field: str, tag: DataTag, depth: int) -> Data:
    if depth > MAX_NESTING:
        raise reader.fail(field, f"nested deeper than {MAX_NESTING}")
    if tag is DataTag.NULL:
        return NULL
    if tag in _INTEGERS:
        size, signed = _INTEGERS[tag]
        number = reader.sint(size, field) if signed else reader.uint(size, field)
        return Data(tag, number != 0 if tag is DataTag.BOOLEAN else number)
    if tag in _FIXED_RAW:
        return Data(tag, reader.take(_FIXED_RAW[tag], field))
    if tag in _STRINGS:
        raw = reader.take(reader.length(f"{field} length"), field)
        return Data(tag, _string_decode(reader, field, tag, raw))
    if tag is DataTag.BIT_STRING:
        bits = reader.length(f"{field} length")
        return Data(tag, BitString(bits, reader.take((bits + 7) // 8, field)))
    if tag in (DataTag.ARRAY, DataTag.STRUCTURE):
        count = reader.length(f"{field} count")
        return Data(tag, tuple(data_decode(reader, f"{field}[{i}]", depth + 1) for i in range(count)))
    at = reader.offset
    description = _type_description_decode(reader, f"{field} type description", depth + 1)
    if _minimum_size(description) == 0:
        # Elements that take no bytes would let a few bytes claim billions of them.
        raise reader.fail(f"{field} type description", "describes elements of no size", at)
    contents = reader.sub(reader.length(f"{field} contents length"), f"{field} contents")
    elements = []
    while contents.remaining:
        elements.append(_untagged_decode(contents, f"{field}[{len(elements)}]", description, depth + 1))
    return Data(tag, CompactArray(description, tuple(elements)))


def _string_decode(reader: Reader, field: str, tag: DataTag, raw: bytes) -> bytes | str:
    if tag is DataTag.OCTET_STRING:
        return raw
    try:
        return raw.decode("utf-8" if tag is DataTag.UTF8_STRING else "ascii")
    except UnicodeDecodeError:
        raise reader.fail(field, f"{tag.name.lower()} {raw.hex().upper()} is not text") from None


def _type_description_decode(reader: Reader, field: str, depth: int) -> TypeDescription:
    if depth > MAX_NESTING:
        raise reader.fail(field, f"nested deeper than {MAX_NESTING}")
    tag = _tag(reader, field)
    if tag is DataTag.ARRAY:
        count = reader.uint(2, f"{field} count")
        return TypeDescription(tag, (_type_description_decode(reader, field, depth + 1),), count)
    if tag is DataTag.STRUCTURE:
        count = reader.length(f"{field} count")
        return TypeDescription(tag, tuple(_type_description_decode(reader, field, depth + 1) for _ in range(count)))
    if tag in (DataTag.NULL, DataTag.COMPACT_ARRAY):
        raise reader.fail(field, f"{tag.name} cannot be a compact array element")
    return TypeDescription(tag)


def _minimum_size(description: TypeDescription) -> int:
    if description.tag is DataTag.ARRAY:
        return description.count * _minimum_size(description.elements[0])
    if description.tag is DataTag.STRUCTURE:
        return sum(_minimum_size(member) for member in description.elements)
    if description.tag in _INTEGERS:
        return _INTEGERS[description.tag][0]
    return _FIXED_RAW.get(description.tag, 1)  # strings and bit-strings: at least their length


def _untagged_decode(reader: Reader, field: str, description: TypeDescription, depth: int) -> Data:
    if depth > MAX_NESTING:
        raise reader.fail(field, f"nested deeper than {MAX_NESTING}")
    if description.tag is DataTag.ARRAY:
        element = description.elements[0]
        items = tuple(_untagged_decode(reader, f"{field}[{i}]", element, depth + 1) for i in range(description.count))
        return Data(DataTag.ARRAY, items)
    if description.tag is DataTag.STRUCTURE:
        items = tuple(
            _untagged_decode(reader, f"{field}[{i}]", member, depth + 1)
            for i, member in enumerate(description.elements)
        )
        return Data(DataTag.STRUCTURE, items)
    return _value_decode(reader, field, description.tag, depth)


def data_encode(data: Data) -> bytes:
    return bytes([data.tag]) + _value_encode(data)


def _value_encode(data: Data) -> bytes:
    tag, value = data.tag, data.value
    if tag is DataTag.NULL:
        return b""
    if tag is DataTag.BOOLEAN:
        return b"\xff" if value else b"\x00"  # GBCS writes TRUE as 0xFF
    if tag in _INTEGERS:
        size, signed = _INTEGERS[tag]
        return int(value).to_bytes(size, "big", signed=signed)
    if tag in _FIXED_RAW:
        if len(value) != _FIXED_RAW[tag]:
            raise ValueError(f"{tag.name} is {_FIXED_RAW[tag]} bytes")
        return bytes(value)
    if tag in _STRINGS:
        raw = value if tag is DataTag.OCTET_STRING else value.encode("utf-8" if tag is DataTag.UTF8_STRING else "ascii")
        return encode_length(len(raw)) + raw
    if tag is DataTag.BIT_STRING:
        return encode_length(value.bit_length) + value.data
    if tag in (DataTag.ARRAY, DataTag.STRUCTURE):
        return encode_length(len(value)) + b"".join(data_encode(item) for item in value)
    compact: CompactArray = value
    contents = b"".join(_untagged_encode(item, compact.description) for item in compact.elements)
    return _type_description_encode(compact.description) + encode_length(len(contents)) + contents


def _type_description_encode(description: TypeDescription) -> bytes:
    if description.tag is DataTag.ARRAY:
        return (
            bytes([DataTag.ARRAY])
            + description.count.to_bytes(2, "big")
            + _type_description_encode(description.elements[0])
        )
    if description.tag is DataTag.STRUCTURE:
        members = b"".join(_type_description_encode(member) for member in description.elements)
        return bytes([DataTag.STRUCTURE]) + encode_length(len(description.elements)) + members
    return bytes([description.tag])


def _untagged_encode(data: Data, description: TypeDescription) -> bytes:
    if description.tag is DataTag.ARRAY:
        return b"".join(_untagged_encode(item, description.elements[0]) for item in data.items)
    if description.tag is DataTag.STRUCTURE:
        return b"".join(
            _untagged_encode(item, member) for item, member in zip(data.items, description.elements, strict=True)
        )
    return _value_encode(data)


class AccessKind(IntEnum):
    GET = 1
    SET = 2
    ACTION = 3
    GET_WITH_SELECTION = 4


@dataclass(frozen=True)
class CosemReference:
    """A COSEM object's attribute (get, set) or method (action): class, OBIS instance, id."""

    class_id: int
    instance: bytes  # the 6-byte OBIS code
    member: int

    @property
    def obis(self) -> str:
        a, b, c, d, e, f = self.instance
        return f"{a}-{b}:{c}.{d}.{e}.{f}"

    def __str__(self) -> str:
        return f"class {self.class_id} {self.obis} #{self.member}"


def obis(text: str) -> bytes:
    a_b, rest = text.split(":")
    a, b = a_b.split("-")
    return bytes(int(part) for part in (a, b, *rest.split(".")))


@dataclass(frozen=True)
class AccessRequest:
    kind: AccessKind
    target: CosemReference
    selector: int | None = None  # with GET_WITH_SELECTION: the access selector ...
    selection: Data | None = None  # ... and its parameters


@dataclass(frozen=True)
class AccessRequestApdu:
    invoke_id: int
    requests: tuple[AccessRequest, ...]
    data: tuple[Data, ...]  # one value per request: what to set, the action's parameter, or null
    date_time: bytes | None = None  # raw 12 bytes when present


@dataclass(frozen=True)
class AccessResult:
    """One request's outcome in an Access-Response."""

    kind: AccessKind
    code: int

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def name(self) -> str:
        names = ACTION_RESULTS if self.kind is AccessKind.ACTION else DATA_ACCESS_RESULTS
        return names.get(self.code, f"result {self.code}")


@dataclass(frozen=True)
class AccessResponseApdu:
    invoke_id: int
    data: tuple[Data, ...]  # one per request: a read value, or null
    results: tuple[AccessResult, ...]
    date_time: bytes | None = None


@dataclass(frozen=True)
class DataNotification:
    invoke_id: int
    body: Data
    date_time: bytes | None = None


def _octet_date_time(reader: Reader, field: str) -> bytes | None:
    at = reader.offset
    length = reader.length(f"{field} length")
    if length == 0:
        return None
    if length != 12:
        raise reader.fail(f"{field} length", f"is {length}, expected 0 or 12", at)
    return reader.take(12, field)


def _date_time_encode(date_time: bytes | None) -> bytes:
    return b"\x00" if date_time is None else b"\x0c" + date_time


def _reference_decode(reader: Reader, field: str) -> CosemReference:
    return CosemReference(
        class_id=reader.uint(2, f"{field} class id"),
        instance=reader.take(6, f"{field} instance"),
        member=reader.byte(f"{field} attribute or method id"),
    )


def _reference_encode(target: CosemReference) -> bytes:
    return target.class_id.to_bytes(2, "big") + target.instance + bytes([target.member])


def access_request_decode(reader: Reader) -> AccessRequestApdu:
    reader.expect(bytes([ACCESS_REQUEST]), "Access-Request tag")
    invoke_id = reader.uint(4, "long-invoke-id-and-priority")
    date_time = _octet_date_time(reader, "Access-Request date-time")
    requests = []
    for index in range(reader.length("request count")):
        field = f"request {index}"
        at = reader.offset
        choice = reader.byte(f"{field} kind")
        if choice not in AccessKind._value2member_map_:
            raise GbcsUnsupportedError(f"{field} at offset {at}: Access-Request-Specification {choice} is not handled")
        kind = AccessKind(choice)
        target = _reference_decode(reader, field)
        if kind is AccessKind.GET_WITH_SELECTION:
            selector = reader.byte(f"{field} access selector")
            requests.append(AccessRequest(kind, target, selector, data_decode(reader, f"{field} selection")))
        else:
            requests.append(AccessRequest(kind, target))
    data = tuple(data_decode(reader, f"request data {i}") for i in range(reader.length("request data count")))
    reader.done("Access-Request")
    return AccessRequestApdu(invoke_id=invoke_id, requests=tuple(requests), data=data, date_time=date_time)


def access_request_encode(apdu: AccessRequestApdu) -> bytes:
    parts = [bytes([ACCESS_REQUEST]), apdu.invoke_id.to_bytes(4, "big"), _date_time_encode(apdu.date_time)]
    parts.append(encode_length(len(apdu.requests)))
    for request in apdu.requests:
        parts.append(bytes([request.kind]) + _reference_encode(request.target))
        if request.kind is AccessKind.GET_WITH_SELECTION:
            parts.append(bytes([request.selector or 0]) + data_encode(request.selection or NULL))
    parts.append(encode_length(len(apdu.data)))
    parts.extend(data_encode(item) for item in apdu.data)
    return b"".join(parts)


def access_response_decode(reader: Reader) -> AccessResponseApdu:
    reader.expect(bytes([ACCESS_RESPONSE]), "Access-Response tag")
    invoke_id = reader.uint(4, "long-invoke-id-and-priority")
    date_time = _octet_date_time(reader, "Access-Response date-time")
    at = reader.offset
    if reader.byte("access-request-specification flag") != 0:
        raise GbcsUnsupportedError(f"Access-Response at offset {at} repeats its request: not handled")
    data = tuple(data_decode(reader, f"response data {i}") for i in range(reader.length("response data count")))
    results = []
    for index in range(reader.length("result count")):
        at = reader.offset
        choice = reader.byte(f"result {index} kind")
        if choice not in (AccessKind.GET, AccessKind.SET, AccessKind.ACTION):
            raise reader.fail(f"result {index} kind", f"is {choice}, expected 1 (get), 2 (set) or 3 (action)", at)
        results.append(AccessResult(AccessKind(choice), reader.byte(f"result {index} code")))
    reader.done("Access-Response")
    return AccessResponseApdu(invoke_id=invoke_id, data=data, results=tuple(results), date_time=date_time)


def access_response_encode(apdu: AccessResponseApdu) -> bytes:
    parts = [bytes([ACCESS_RESPONSE]), apdu.invoke_id.to_bytes(4, "big"), _date_time_encode(apdu.date_time), b"\x00"]
    parts.append(encode_length(len(apdu.data)))
    parts.extend(data_encode(item) for item in apdu.data)
    parts.append(encode_length(len(apdu.results)))
    parts.extend(bytes([result.kind, result.code]) for result in apdu.results)
    return b"".join(parts)


def data_notification_decode(reader: Reader) -> DataNotification:
    reader.expect(bytes([DATA_NOTIFICATION]), "Data-Notification tag")
    invoke_id = reader.uint(4, "long-invoke-id-and-priority")
    date_time = _octet_date_time(reader, "Data-Notification date-time")
    body = data_decode(reader, "notification body")
    reader.done("Data-Notification")
    return DataNotification(invoke_id=invoke_id, body=body, date_time=date_time)


def data_notification_encode(notification: DataNotification) -> bytes:
    return (
        bytes([DATA_NOTIFICATION])
        + notification.invoke_id.to_bytes(4, "big")
        + _date_time_encode(notification.date_time)
        + data_encode(notification.body)
    )
