"""Optional validation against the DCC's DUIS XSD (not shipped; ``DCC_SCHEMA_PATH``), compiled once per path."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from lxml import etree

from .errors import DccDocumentError

# lxml's XMLSchema objects may not be used from several threads at once.
_validate_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def load_schema(path: str) -> etree.XMLSchema:
    """Compile (once) the XSD at ``path``; its imports resolve relative to it."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser=parser))
    except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise DccDocumentError(f"cannot load DUIS schema {path}: {exc}") from exc


class SchemaValidator:
    """Validates documents against one XSD; ``None`` path means validation is off."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = str(path) if path else None

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def validate(self, root: etree._Element) -> None:
        """Raise :class:`DccDocumentError` naming the first schema errors, else return."""
        if self.path is None:
            return
        schema = load_schema(self.path)
        with _validate_lock:
            valid = schema.validate(root)
            errors = [f"line {e.line}: {e.message}" for e in list(schema.error_log)[:3]]
        if not valid:
            raise DccDocumentError("document fails the DUIS schema: " + "; ".join(errors))
