"""The premises register import: premises, meters, MPANs and HCALCS from one CSV file.

All or nothing, in two streaming passes over the file (the ``csv`` module over the open
file; the file is never loaded whole):

1. **validate** every row, collecting every error as (row, column, reason); cross-row
   consistency (a premise or meter described differently on two rows, an MPAN or HCALCS on
   two rows) is checked with compact per-key fingerprints (about 100 bytes per distinct
   key, never the row data). Any error: nothing is written and the report lists them.
2. **write** in one transaction, in chunks of ``CHUNK_ROWS``: for each chunk the existing
   rows are read by natural key (premise reference, meter EUI-64, MPAN core, HCALCS
   EUI-64), and only new rows are created and changed rows updated (bulk), so re-importing
   the same file changes nothing and the report says created / updated / unchanged.

``--dry-run`` runs both passes and rolls back, so its counts are exact.

The columns are documented in ``docs/premises-import.md``; ``COLUMNS`` below is the truth.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, reset_queries, transaction
from django.db.models import ProtectedError

from consent.choices import CommsHubType, ElementType, LoadLabel, MpanRole
from consent.models import HCALCS, MPAN, Meter, Premise
from consent.validators import eui64_normalise, postcode_normalise, validate_mpan_core
from feeders.models import Feeder

logger = logging.getLogger(__name__)

CHUNK_ROWS = 2000
MAX_ERRORS_KEPT = 10_000  # every error is counted; the first 10,000 are listed
PROGRESS_TIMEOUT_S = 24 * 3600

MPAN_COLUMNS = {
    "mpan_import_primary": MpanRole.IMPORT_PRIMARY,
    "mpan_export_primary": MpanRole.EXPORT_PRIMARY,
    "mpan_import_secondary": MpanRole.IMPORT_SECONDARY,
    "mpan_export_secondary": MpanRole.EXPORT_SECONDARY,
}
REQUIRED_COLUMNS = ("premise_reference", "address", "postcode", "meter_eui64", "firmware_version")
COLUMNS = (
    "premise_reference",
    "address",
    "postcode",
    "domestic",
    "feeder_code",
    "meter_eui64",
    "element_type",
    "comms_hub_type",
    "firmware_version",
    "supports_eno_use_cases",
    *MPAN_COLUMNS,
    "hcalcs_eui64",
    "hcalcs_index",
    "hcalcs_label",
    "hcalcs_rated_kw",
)
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n"}
_HUB_ALIASES = {"single": CommsHubType.SINGLE_BAND, "dual": CommsHubType.DUAL_BAND}


@dataclass(frozen=True)
class RowError:
    row: int  # the file's line number as a spreadsheet shows it (header = 1)
    column: str
    reason: str


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import found and did."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    written: bool = False
    dry_run: bool = False
    premises: Counts = field(default_factory=Counts)
    meters: Counts = field(default_factory=Counts)
    mpans: Counts = field(default_factory=Counts)
    hcalcs: Counts = field(default_factory=Counts)

    def add_error(self, row: int, column: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(RowError(row, column, reason))

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "ok": self.ok,
            "written": self.written,
            "dry_run": self.dry_run,
            "error_count": self.error_count,
            "errors": [{"row": e.row, "column": e.column, "reason": e.reason} for e in self.errors],
            "counts": {name: vars(getattr(self, name)).copy() for name in ("premises", "meters", "mpans", "hcalcs")},
        }


# --- parsing one row ---------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedRow:
    line: int
    premise: tuple  # (reference, address, postcode, domestic, feeder_code)
    meter: tuple  # (eui64, element_type, comms_hub_type, firmware, supports_eno)
    mpans: tuple  # ((role, core), ...)
    hcalcs: tuple | None  # (eui64, index, label, rated_kw)


def _bool(value: str, default: bool) -> bool:
    lowered = value.strip().lower()
    if not lowered:
        return default
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationError(f"expected yes/no (or true/false, 1/0), got {value!r}")


@functools.cache
def _values(choices: type) -> frozenset[str]:
    """``TextChoices.values`` builds a new list on every call: far too slow per cell."""
    return frozenset(choices.values)


def _choice(value: str, choices: type, default: str, aliases: dict | None = None) -> str:
    lowered = value.strip().lower()
    if not lowered:
        return default
    lowered = (aliases or {}).get(lowered, lowered)
    if lowered not in _values(choices):
        raise ValidationError(f"expected one of {', '.join(choices.values)}, got {value!r}")
    return lowered


def _text(value: str, *, max_length: int, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise ValidationError("required")
    if len(text) > max_length:
        raise ValidationError(f"at most {max_length} characters, got {len(text)}")
    return text


def _field(report: ImportReport, line: int, column: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except ValidationError as exc:
        report.add_error(line, column, "; ".join(exc.messages))
        return None


def parse_row(raw: dict[str, str], line: int, report: ImportReport, feeder_codes: set[str]) -> ParsedRow | None:
    """One row's fields, or ``None`` after recording every error of the row."""
    get = lambda column: raw.get(column) or ""  # noqa: E731 - a missing cell is an empty cell
    before = report.error_count
    reference = _field(
        report, line, "premise_reference", lambda: _text(get("premise_reference"), max_length=32, required=True)
    )
    address = _field(report, line, "address", lambda: _text(get("address"), max_length=300, required=True))
    postcode = _field(report, line, "postcode", lambda: postcode_normalise(get("postcode")))
    domestic = _field(report, line, "domestic", lambda: _bool(get("domestic"), True))
    feeder_code = get("feeder_code").strip()
    if feeder_code and feeder_code not in feeder_codes:
        report.add_error(line, "feeder_code", f"no feeder with code {feeder_code!r}")
    meter_eui = _field(report, line, "meter_eui64", lambda: eui64_normalise(get("meter_eui64")))
    element = _field(
        report, line, "element_type", lambda: _choice(get("element_type"), ElementType, ElementType.SINGLE)
    )
    hub = _field(
        report,
        line,
        "comms_hub_type",
        lambda: _choice(get("comms_hub_type"), CommsHubType, CommsHubType.SINGLE_BAND, _HUB_ALIASES),
    )
    firmware = _field(
        report, line, "firmware_version", lambda: _text(get("firmware_version"), max_length=32, required=True)
    )
    eno = _field(report, line, "supports_eno_use_cases", lambda: _bool(get("supports_eno_use_cases"), False))
    mpans = []
    for column, role in MPAN_COLUMNS.items():
        core = get(column).strip()
        if not core:
            continue
        if _field(report, line, column, lambda core=core: validate_mpan_core(core) or True):
            if role in (MpanRole.IMPORT_SECONDARY, MpanRole.EXPORT_SECONDARY) and element == ElementType.SINGLE:
                report.add_error(line, column, "a secondary-element MPAN needs element_type twin")
            mpans.append((role, core))
    if not get("mpan_import_primary").strip():
        report.add_error(line, "mpan_import_primary", "required: every meter has an import MPAN on its primary element")
    hcalcs = None
    hcalcs_eui = get("hcalcs_eui64").strip()
    if hcalcs_eui:
        eui = _field(report, line, "hcalcs_eui64", lambda: eui64_normalise(hcalcs_eui))
        index = _field(report, line, "hcalcs_index", lambda: _int_between(get("hcalcs_index"), 1, 5))
        label = _field(report, line, "hcalcs_label", lambda: _label(get("hcalcs_label")))
        rated = _field(report, line, "hcalcs_rated_kw", lambda: _float_between(get("hcalcs_rated_kw"), 0.1, 50, 7.0))
        if eui is not None and eui == meter_eui:
            report.add_error(line, "hcalcs_eui64", "the HCALCS cannot have the meter's EUI-64")
        hcalcs = (eui, index, label, rated)
    else:
        for column in ("hcalcs_index", "hcalcs_label", "hcalcs_rated_kw"):
            if get(column).strip():
                report.add_error(line, column, "given without hcalcs_eui64")
    if report.error_count != before:
        return None
    return ParsedRow(
        line=line,
        premise=(reference, address, postcode, domestic, feeder_code),
        meter=(meter_eui, element, hub, firmware, eno),
        mpans=tuple(sorted(mpans)),
        hcalcs=hcalcs,
    )


def _int_between(value: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValidationError(f"expected a whole number {low}..{high}, got {value!r}") from None
    if not low <= number <= high:
        raise ValidationError(f"must be {low}..{high}, got {number}")
    return number


def _float_between(value: str, low: float, high: float, default: float) -> float:
    if not value.strip():
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ValidationError(f"expected a number of kW, got {value!r}") from None
    if not low <= number <= high:
        raise ValidationError(f"must be {low}..{high} kW, got {number}")
    return number


def _label(value: str) -> str:
    if not value.strip():
        raise ValidationError(f"required with an HCALCS (one of {', '.join(LoadLabel.values)})")
    return _choice(value, LoadLabel, LoadLabel.UNLABELLED)


# --- streaming ---------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the file, for the progress bar of the first pass."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.bytes_read = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


def _rows(raw: BinaryIO, report: ImportReport) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; header problems are reported as row 1."""
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except UnicodeDecodeError:
        report.add_error(1, "", "the file is not UTF-8 text")
        return
    reader.fieldnames = header
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    for name in missing:
        report.add_error(1, name, "required column missing from the header")
    for name in unknown:
        report.add_error(1, name, "unknown column (see docs/premises-import.md)")
    if missing or unknown:
        return
    try:
        for raw_row in reader:
            line = reader.line_num
            if None in raw_row:
                report.add_error(line, "", f"{len(header) + len(raw_row[None])} cells, the header has {len(header)}")
                continue
            if not any((value or "").strip() for value in raw_row.values()):
                continue  # a blank line
            report.rows += 1
            yield line, raw_row
    except (csv.Error, UnicodeDecodeError) as exc:
        report.add_error(reader.line_num + 1, "", f"unreadable CSV: {exc}")


def _key(*parts: Any) -> int:
    """A compact 64-bit fingerprint (collisions across 10^5 keys: ~10^-9)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class _Consistency:
    """Cross-row checks with fingerprints only: the same premise/meter described the same
    way on every row, an MPAN on one (meter, role), an HCALCS on one row."""

    def __init__(self) -> None:
        self.premises: dict[int, int] = {}
        self.meters: dict[int, tuple[int, int]] = {}  # meter -> (premise fingerprint, meter fingerprint)
        self.mpans: dict[int, int] = {}
        self.hcalcs: dict[int, int] = {}
        self.switches: dict[int, int] = {}

    def check(self, row: ParsedRow, report: ImportReport) -> None:
        reference, meter_eui = row.premise[0], row.meter[0]
        premise_fp = _key(*row.premise)
        if self.premises.setdefault(_key(reference), premise_fp) != premise_fp:
            report.add_error(
                row.line, "premise_reference", f"premise {reference} is described differently on an earlier row"
            )
        meter_fp = (_key(reference), _key(*row.meter, row.mpans))
        previous = self.meters.setdefault(_key(meter_eui), meter_fp)
        if previous[0] != meter_fp[0]:
            report.add_error(row.line, "meter_eui64", f"meter {meter_eui} is on a different premise on an earlier row")
        elif previous[1] != meter_fp[1]:
            report.add_error(row.line, "meter_eui64", f"meter {meter_eui} is described differently on an earlier row")
        for role, core in row.mpans:
            owner = _key(meter_eui, role)
            if self.mpans.setdefault(int(core), owner) != owner:
                report.add_error(row.line, f"mpan_{role}", f"MPAN {core} is on another meter or role on an earlier row")
        if row.hcalcs is not None:
            eui, index = row.hcalcs[0], row.hcalcs[1]
            if _key(eui) in self.hcalcs:
                report.add_error(row.line, "hcalcs_eui64", f"HCALCS {eui} is on an earlier row (one row per HCALCS)")
            self.hcalcs[_key(eui)] = row.line
            switch = _key(meter_eui, index)
            if self.switches.setdefault(switch, row.line) != row.line:
                report.add_error(
                    row.line, "hcalcs_index", f"meter {meter_eui} already has switch {index} on an earlier row"
                )


def _chunks(raw: BinaryIO, report: ImportReport, feeder_codes: set[str]) -> Iterator[list[ParsedRow]]:
    chunk: list[ParsedRow] = []
    for line, raw_row in _rows(raw, report):
        parsed = parse_row(raw_row, line, report, feeder_codes)
        if parsed is not None:
            chunk.append(parsed)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- writing -----------------------------------------------------------------------------


class _Writer:
    """Upserts one chunk at a time by natural keys, counting created/updated/unchanged.

    ``done`` remembers (as fingerprints) the keys already written, so a premise or meter
    repeated on many rows is counted once.
    """

    def __init__(self, report: ImportReport, feeder_ids: dict[str, int]) -> None:
        self.report, self.feeder_ids = report, feeder_ids
        self.done: set[int] = set()

    def _fresh(self, kind: str, key: Any) -> bool:
        fingerprint = _key(kind, key)
        if fingerprint in self.done:
            return False
        self.done.add(fingerprint)
        return True

    def write(self, chunk: list[ParsedRow]) -> None:
        premise_ids = self._premises(chunk)
        meter_ids = self._meters(chunk, premise_ids)
        self._mpans(chunk, meter_ids)
        self._hcalcs(chunk, meter_ids)

    def _upsert(
        self, model, key_field: str, wanted: dict[str, dict], counts: Counts, fields: list[str]
    ) -> dict[str, int]:
        existing = {getattr(o, key_field): o for o in model.objects.filter(**{f"{key_field}__in": list(wanted)})}
        to_create, to_update = [], []
        for key, values in wanted.items():
            current = existing.get(key)
            if current is None:
                to_create.append(model(**{key_field: key}, **values))
            elif any(getattr(current, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(current, name, value)
                to_update.append(current)
            else:
                counts.unchanged += 1
        # No per-object full_clean() here: parse_row() has already checked every value with
        # the same validators the model fields use (consent.validators, the choices, the
        # lengths and ranges), and the database's CHECK and UNIQUE constraints back them.
        # Re-validating 250,000 objects field by field would cost ~15% of a large import.
        if to_update:
            model.objects.bulk_update(to_update, fields)
        if to_create:
            model.objects.bulk_create(to_create)
        counts.created += len(to_create)
        counts.updated += len(to_update)
        ids = {key: obj.pk for key, obj in existing.items()}
        ids.update((getattr(obj, key_field), obj.pk) for obj in to_create)
        if any(pk is None for pk in ids.values()):  # a backend that returns no ids from bulk_create
            ids = dict(model.objects.filter(**{f"{key_field}__in": list(wanted)}).values_list(key_field, "pk"))
        return ids

    def _premises(self, chunk: list[ParsedRow]) -> dict[str, int]:
        wanted = {}
        for row in chunk:
            reference, address, postcode, domestic, feeder_code = row.premise
            if self._fresh("premise", reference):
                wanted[reference] = {
                    "address": address,
                    "postcode": postcode,
                    "domestic": domestic,
                    "feeder_id": self.feeder_ids.get(feeder_code) if feeder_code else None,
                }
        fields = ["address", "postcode", "domestic", "feeder"]
        ids = self._upsert(Premise, "reference", wanted, self.report.premises, fields)
        missing = {row.premise[0] for row in chunk} - set(ids)
        ids.update(Premise.objects.filter(reference__in=missing).values_list("reference", "pk"))
        return ids

    def _meters(self, chunk: list[ParsedRow], premise_ids: dict[str, int]) -> dict[str, int]:
        wanted = {}
        for row in chunk:
            eui, element, hub, firmware, eno = row.meter
            if self._fresh("meter", eui):
                wanted[eui] = {
                    "premise_id": premise_ids[row.premise[0]],
                    "element_type": element,
                    "comms_hub_type": hub,
                    "firmware_version": firmware,
                    "supports_eno_use_cases": eno,
                }
        fields = ["premise", "element_type", "comms_hub_type", "firmware_version", "supports_eno_use_cases"]
        ids = self._upsert(Meter, "esme_eui64", wanted, self.report.meters, fields)
        missing = {row.meter[0] for row in chunk} - set(ids)
        ids.update(Meter.objects.filter(esme_eui64__in=missing).values_list("esme_eui64", "pk"))
        return ids

    def _mpans(self, chunk: list[ParsedRow], meter_ids: dict[str, int]) -> None:
        wanted = {}
        for row in chunk:
            if not self._fresh("meter-mpans", row.meter[0]):
                continue
            for role, core in row.mpans:
                wanted[core] = {"meter_id": meter_ids[row.meter[0]], "role": role}
        # The register is the truth for a meter's MPANs: a different core in the same
        # (meter, role) is replaced, or the unique (meter, role) index would refuse it.
        slots = {(values["meter_id"], values["role"]) for values in wanted.values()}
        stale = [
            pk
            for pk, core, meter_id, role in MPAN.objects.filter(meter_id__in={m for m, _ in slots}).values_list(
                "pk", "core", "meter_id", "role"
            )
            if (meter_id, role) in slots and core not in wanted
        ]
        MPAN.objects.filter(pk__in=stale).delete()
        self._upsert(MPAN, "core", wanted, self.report.mpans, ["meter", "role"])

    def _hcalcs(self, chunk: list[ParsedRow], meter_ids: dict[str, int]) -> None:
        wanted = {}
        for row in chunk:
            if row.hcalcs is None:
                continue
            eui, index, label, rated = row.hcalcs
            wanted[eui] = {
                "meter_id": meter_ids[row.meter[0]],
                "switch_index": index,
                "label": label,
                "rated_kw": rated,
            }
        slots = {(values["meter_id"], values["switch_index"]) for values in wanted.values()}
        stale = [
            pk
            for pk, eui, meter_id, index in HCALCS.objects.filter(meter_id__in={m for m, _ in slots}).values_list(
                "pk", "eui64", "meter_id", "switch_index"
            )
            if (meter_id, index) in slots and eui not in wanted
        ]
        HCALCS.objects.filter(pk__in=stale).delete()
        self._upsert(HCALCS, "eui64", wanted, self.report.hcalcs, ["meter", "switch_index", "label", "rated_kw"])


# --- the import --------------------------------------------------------------------------

Progress = Callable[[str, float], None]


def _no_progress(phase: str, fraction: float) -> None:
    return None


class _DryRunRollback(Exception):
    pass


def premises_import(
    *,
    open_file: Callable[[], BinaryIO],
    size: int | None = None,
    dry_run: bool = False,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Validate then (when the whole file is valid) write the premises register.

    ``open_file`` opens the file in binary mode; it is called once per pass. ``progress``
    gets (phase, fraction done) now and then.
    """
    report = ImportReport(dry_run=dry_run)
    feeder_ids = dict(Feeder.objects.values_list("code", "pk"))
    consistency = _Consistency()
    with open_file() as raw_file:
        counter = _CountingReader(raw_file)
        for chunk in _chunks(counter, report, set(feeder_ids)):
            for row in chunk:
                consistency.check(row, report)
            if size:
                progress("validating", min(1.0, counter.bytes_read / size))
    del consistency
    if not report.ok:
        progress("failed", 1.0)
        return report
    try:
        with transaction.atomic():
            _lock_import()
            writer = _Writer(report, feeder_ids)
            written_rows = 0
            with open_file() as raw_file:
                for chunk in _chunks(_CountingReader(raw_file), ImportReport(), set(feeder_ids)):
                    writer.write(chunk)
                    written_rows += len(chunk)
                    reset_queries()  # DEBUG keeps every query; a big file must not keep them all
                    progress("writing", written_rows / max(1, report.rows))
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        progress("done", 1.0)
        return report
    except (IntegrityError, ProtectedError, ValidationError, DatabaseError) as exc:
        report.add_error(0, "", f"the database refused the import, nothing was written: {_reason(exc)}")
        progress("failed", 1.0)
        return report
    report.written = True
    progress("done", 1.0)
    return report


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, ProtectedError):
        return "a device or MPAN the file would replace has curtailment history"
    return str(exc).splitlines()[0]


def _lock_import() -> None:
    """One import at a time: two concurrent upserts of the same keys would race."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('consent.premises_import'))")


def premises_import_path(*, path: Path, dry_run: bool = False, progress: Progress = _no_progress) -> ImportReport:
    return premises_import(
        open_file=lambda: open(path, "rb"),  # closed by premises_import
        size=path.stat().st_size,
        dry_run=dry_run,
        progress=progress,
    )


# --- background jobs (the upload page) ---------------------------------------------------


def import_progress_key(job_id: str) -> str:
    return f"consent:import:{job_id}"


def import_progress_get(job_id: str) -> dict | None:
    return cache.get(import_progress_key(job_id))


def import_progress_set(job_id: str, state: dict) -> None:
    cache.set(import_progress_key(job_id), state, PROGRESS_TIMEOUT_S)


def import_job_run(*, job_id: str, path: str, dry_run: bool, user_id: int | None) -> dict:
    """Run an uploaded file's import, publishing progress in the cache; deletes the file."""
    from django.contrib.auth.models import User

    from curtailment.audit import audit_record

    source = (import_progress_get(job_id) or {}).get("source", "")

    def progress(phase: str, fraction: float) -> None:
        state = {"phase": phase, "percent": _percent(phase, fraction), "report": None, "source": source}
        import_progress_set(job_id, state)

    file_path = Path(path)
    try:
        report = premises_import_path(path=file_path, dry_run=dry_run, progress=progress)
    finally:
        file_path.unlink(missing_ok=True)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    premises_import_audit(report=report, source=source or file_path.name, user=user, audit=audit_record)
    result = report.as_dict()
    final = {"phase": "done" if report.ok else "failed", "percent": 100, "report": result, "source": source}
    import_progress_set(job_id, final)
    return {"ok": report.ok, "rows": report.rows}


def _percent(phase: str, fraction: float) -> int:
    if phase == "validating":
        return int(fraction * 50)
    if phase == "writing":
        return 50 + int(fraction * 50)
    return 100


def premises_import_audit(*, report: ImportReport, source: str, user, audit=None) -> None:
    """An audit entry for every import that wrote (or would have written) something."""
    if audit is None:
        from curtailment.audit import audit_record as audit
    inputs = report.as_dict()
    inputs.pop("errors")
    inputs["source"] = source
    who = {"actor_user": user} if user is not None else {"rule": "import-command"}
    action = "premises.import" if report.ok else "premises.import_refused"
    audit(action=action, reason=f"premises register import of {report.rows} rows", inputs=inputs, **who)
