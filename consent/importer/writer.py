from __future__ import annotations

from typing import Any

from consent.importer.report import Counts, ImportReport
from consent.importer.rows import ParsedRow
from consent.importer.validation import fingerprint
from consent.models import HCALCS, MPAN, Meter, Premise


class Writer:
    """Upserts by natural key one chunk at a time; ``done`` counts a key repeated on many rows once."""

    def __init__(self, report: ImportReport, feeder_ids: dict[str, int]) -> None:
        self.report, self.feeder_ids = report, feeder_ids
        self.done: set[int] = set()

    def _fresh(self, kind: str, key: Any) -> bool:
        key_fingerprint = fingerprint(kind, key)
        if key_fingerprint in self.done:
            return False
        self.done.add(key_fingerprint)
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

    @staticmethod
    def _delete_replaced(model, key_field: str, slot_field: str, wanted: dict[str, dict]) -> None:
        """The register is the truth for a meter's slots: a different key in a slot replaces the
        old row, or the unique (meter, slot) index would refuse the new one."""
        slots = {(values["meter_id"], values[slot_field]) for values in wanted.values()}
        stale = [
            pk
            for pk, key, meter_id, slot in model.objects.filter(meter_id__in={m for m, _ in slots}).values_list(
                "pk", key_field, "meter_id", slot_field
            )
            if (meter_id, slot) in slots and key not in wanted
        ]
        model.objects.filter(pk__in=stale).delete()

    def _mpans(self, chunk: list[ParsedRow], meter_ids: dict[str, int]) -> None:
        wanted = {}
        for row in chunk:
            if not self._fresh("meter-mpans", row.meter[0]):
                continue
            for role, core in row.mpans:
                wanted[core] = {"meter_id": meter_ids[row.meter[0]], "role": role}
        self._delete_replaced(MPAN, "core", "role", wanted)
        self._upsert(MPAN, "core", wanted, self.report.mpans, ["meter", "role"])

    def _hcalcs(self, chunk: list[ParsedRow], meter_ids: dict[str, int]) -> None:
        wanted = {}
        for row in chunk:
            if row.hcalcs is None:
                continue
            eui, index, label, rated, controller = row.hcalcs
            wanted[eui] = {
                "meter_id": meter_ids[row.meter[0]],
                "switch_index": index,
                "label": label,
                "rated_kw": rated,
                "controller_type": controller,
            }
        self._delete_replaced(HCALCS, "eui64", "switch_index", wanted)
        fields = ["meter", "switch_index", "label", "rated_kw", "controller_type"]
        self._upsert(HCALCS, "eui64", wanted, self.report.hcalcs, fields)
