"""A bounds-checked cursor over message bytes: a corrupt message fails naming the field and offset,
never with an ``IndexError``."""

from __future__ import annotations

from .errors import GbcsFormatError


class Reader:
    """Reads ``data[start:end]`` front to back; offsets in errors are from the message start."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self._data = data
        self._pos = start
        self._end = len(data) if end is None else end

    @property
    def offset(self) -> int:
        return self._pos

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def fail(self, field: str, problem: str, offset: int | None = None) -> GbcsFormatError:
        return GbcsFormatError(field, self._pos if offset is None else offset, problem)

    def take(self, count: int, field: str) -> bytes:
        if count > self.remaining:
            raise self.fail(field, f"needs {count} bytes, only {self.remaining} left")
        chunk = self._data[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def byte(self, field: str) -> int:
        return self.take(1, field)[0]

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def sint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big", signed=True)

    def expect(self, value: bytes, field: str) -> None:
        at = self._pos
        found = self.take(len(value), field)
        if found != value:
            raise self.fail(field, f"is {found.hex().upper()}, expected {value.hex().upper()}", at)

    def length(self, field: str) -> int:
        """A definite length in its shortest form only: a longer spelling would be a second encoding
        the MAC does not cover."""
        at = self._pos
        first = self.byte(field)
        if first < 0x80:
            return first
        size = first & 0x7F
        if not 1 <= size <= 3:
            raise self.fail(field, f"length form {first:#04x} is not supported", at)
        value = self.uint(size, field)
        if len(encode_length(value)) != 1 + size:
            raise self.fail(field, f"length {value} is not in its shortest form", at)
        return value

    def sub(self, count: int, field: str) -> Reader:
        if count > self.remaining:
            raise self.fail(field, f"says {count} bytes, only {self.remaining} left")
        child = Reader(self._data, self._pos, self._pos + count)
        self._pos += count
        return child

    def done(self, field: str) -> None:
        if self.remaining:
            raise self.fail(field, f"{self.remaining} unexpected bytes after it")


def encode_length(length: int) -> bytes:
    """The shortest definite-length encoding of ``length`` (the inverse of ``Reader.length``)."""
    if length < 0x80:
        return bytes([length])
    size = (length.bit_length() + 7) // 8
    if size > 3:
        raise ValueError(f"length {length} is too long for GBCS")
    return bytes([0x80 | size]) + length.to_bytes(size, "big")
