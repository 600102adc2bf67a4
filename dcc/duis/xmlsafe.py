"""Safe XML parsing at the DCC boundary: no entities, DTDs or network, and any DOCTYPE is refused (DUIS
never needs one), closing XXE and "billion laughs"."""

from __future__ import annotations

from lxml import etree

from .errors import DccDocumentError

MAX_DOCUMENT_BYTES = 1_000_000  # DUIS documents for our SRVs are a few KB


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_blank_text=False,
    )


def parse_xml(document: bytes) -> etree._Element:
    """Parse ``document`` and return its root, or raise :class:`DccDocumentError`."""
    if not isinstance(document, bytes | bytearray):
        raise DccDocumentError("document must be bytes")
    if len(document) > MAX_DOCUMENT_BYTES:
        raise DccDocumentError(f"document is larger than {MAX_DOCUMENT_BYTES} bytes")
    if b"<!DOCTYPE" in document.upper() or b"<!ENTITY" in document.upper():
        raise DccDocumentError("document has a DOCTYPE or entity declaration; refused")
    try:
        root = etree.fromstring(bytes(document), parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise DccDocumentError(f"malformed XML: {exc}") from exc
    # The byte check above misses other encodings (UTF-16 etc.): check the parsed tree too.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise DccDocumentError("document has a DOCTYPE; refused")
    for _ in root.iter(etree.Entity):
        raise DccDocumentError("document contains entity references; refused")
    return root
