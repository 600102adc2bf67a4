"""Errors the GBCS codec raises; callers catch :class:`GbcsError` to refuse a message."""

from __future__ import annotations


class GbcsError(ValueError):
    """A GBCS message dnoctl cannot accept."""


class GbcsFormatError(GbcsError):
    """The bytes are not a well-formed GBCS message; says which field at which offset."""

    def __init__(self, field: str, offset: int, problem: str) -> None:
        self.field = field
        self.offset = offset
        self.problem = problem
        super().__init__(f"{field} at offset {offset}: {problem}")


class GbcsUnsupportedError(GbcsError):
    """Well-formed GBCS, but for a use case or a construct this codec does not handle."""


class GbcsAuthenticationError(GbcsError):
    """A signature or MAC is missing, or does not verify with the keys given."""


class PreCommandMismatch(GbcsError):
    """The DCC's pre-command does not say what dnoctl asked for; it must not be signed."""

    def __init__(self, field: str, expected: object, found: object) -> None:
        self.field = field
        self.expected = expected
        self.found = found
        super().__init__(f"pre-command {field} is {found!r}, expected {expected!r}")
