"""Structural comparison of XML documents: same elements, attributes and namespaces.

Values differ between our documents and the reference ones (RequestIDs, digests), so
text is ignored; attribute *names* are compared, and the values of the attributes that
fix the algorithm (``Algorithm``, ``URI``) are compared too.
"""

from __future__ import annotations

from lxml import etree

_VALUE_ATTRIBUTES = {"Algorithm", "URI"}


def structure(element: etree._Element) -> tuple:
    attributes = tuple(
        sorted((name, element.get(name) if name in _VALUE_ATTRIBUTES else None) for name in element.attrib)
    )
    children = tuple(structure(child) for child in element if isinstance(child.tag, str))
    return (element.tag, attributes, children)


def assert_same_structure(ours: etree._Element, reference: etree._Element) -> None:
    assert structure(ours) == structure(reference)
