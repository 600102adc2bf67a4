"""Hostile XML is refused before anything reads it."""

from __future__ import annotations

import pytest

from dcc.duis import DccDocumentError, DuisVerifier
from dcc.duis.xmlsafe import parse_xml

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway">&xxe;</sr:Response>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway">&lol4;</sr:Response>"""


@pytest.mark.parametrize(
    "document", [XXE, BILLION_LAUGHS, XXE.decode().encode("utf-16")], ids=["xxe", "billion-laughs", "xxe-utf16"]
)
def test_hostile_documents_are_refused(document, dcc_signer):
    with pytest.raises(DccDocumentError):
        parse_xml(document)
    with pytest.raises(DccDocumentError):
        DuisVerifier.trusting(dcc_signer.cert).verify(document)


@pytest.mark.parametrize("document", [b"", b"<a>", b"not xml", b"<a/>" + b" " * 2_000_000])
def test_malformed_documents_are_refused(document):
    with pytest.raises(DccDocumentError):
        parse_xml(document)


def test_plain_document_parses():
    assert parse_xml(b"<a><b>1</b></a>").findtext("b") == "1"
