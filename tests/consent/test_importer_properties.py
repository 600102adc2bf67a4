"""Property: whatever the register and the row order, an import followed by a re-import of
the same rows in another order changes nothing, and the register reads back as the file."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.importer import premises_import_path
from consent.models import HCALCS, MPAN, Meter, Premise
from tests.consent.factories import eui64_from_int, mpan_from_int
from tests.consent.registers import register_row, register_write

meters = st.lists(
    st.tuples(
        st.sampled_from(["single", "twin"]),
        st.integers(min_value=0, max_value=3),  # HCALCS on the meter (0 = a meter-only row)
        st.booleans(),  # an export MPAN on the primary element
        st.sampled_from(["ev_charger", "heat_pump", "unlabelled"]),
    ),
    min_size=1,
    max_size=6,
)


def _rows(spec) -> list[dict]:
    rows = []
    for n, (element, chargers, export, label) in enumerate(spec):
        extra = {"element_type": element, "hcalcs_label": label}
        if export:
            extra["mpan_export_primary"] = mpan_from_int(10_000 + n)
        if element == "twin":
            extra["mpan_export_secondary"] = mpan_from_int(20_000 + n)
        if chargers == 0:
            no_hcalcs = {"hcalcs_eui64": "", "hcalcs_index": "", "hcalcs_label": "", "hcalcs_rated_kw": ""}
            rows.append(register_row(n, **{**extra, **no_hcalcs}))
        for switch in range(1, chargers + 1):
            rows.append(
                register_row(n, hcalcs_eui64=eui64_from_int(n * 10 + switch), hcalcs_index=str(switch), **extra)
            )
    return rows


def _snapshot():
    return (
        sorted(Premise.objects.values_list("reference", "address", "postcode", "domestic", "feeder_id")),
        sorted(Meter.objects.values_list("esme_eui64", "premise__reference", "element_type", "firmware_version")),
        sorted(MPAN.objects.values_list("core", "meter__esme_eui64", "role")),
        sorted(HCALCS.objects.values_list("eui64", "meter__esme_eui64", "switch_index", "label", "rated_kw")),
    )


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=meters, seed=st.integers(min_value=0, max_value=2**32))
def test_reimport_in_any_order_changes_nothing(tmp_path, spec, seed):
    Premise.objects.all().delete()
    rows = _rows(spec)
    first = premises_import_path(path=register_write(tmp_path / "a.csv", rows))
    assert first.ok, first.errors
    before = _snapshot()
    assert len(before[3]) == sum(chargers for _, chargers, _, _ in spec)

    random.Random(seed).shuffle(rows)
    again = premises_import_path(path=register_write(tmp_path / "b.csv", rows))
    assert again.ok
    for counts in (again.premises, again.meters, again.mpans, again.hcalcs):
        assert (counts.created, counts.updated) == (0, 0)
    assert _snapshot() == before
