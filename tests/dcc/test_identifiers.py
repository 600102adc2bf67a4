"""EUI-64 and RequestID handling, and the in-memory counter under concurrency."""

from __future__ import annotations

import threading

import pytest

from dcc.duis import DccArgumentError, InMemoryCounterSource, RequestId, parse_eui64
from dcc.duis.identifiers import validate_duration_minutes, validate_index

from .conftest import run_in_threads


def test_eui64_is_normalised_from_either_form():
    assert parse_eui64("00-db-12-34-56-78-90-a0") == "00-DB-12-34-56-78-90-A0"
    assert parse_eui64("00db1234567890A0") == "00-DB-12-34-56-78-90-A0"


@pytest.mark.parametrize(
    "bad", ["", "00-DB-12", "00:DB:12:34:56:78:90:A0", "00-DB-12-34-56-78-90-G0", "00db1234567890a", 42, None]
)
def test_bad_eui64_names_the_argument(bad):
    with pytest.raises(DccArgumentError, match=r"^target: "):
        parse_eui64(bad, argument="target")


def test_request_id_round_trip():
    rid = RequestId.build(originator="90b3d51f30010000", target="00-db-12-34-56-78-90-a0", counter=1001)
    assert str(rid) == "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1001"
    assert RequestId.parse(str(rid)) == rid
    assert rid.response_id() == "00-DB-12-34-56-78-90-A0:90-B3-D5-1F-30-01-00-00:1001"


@pytest.mark.parametrize(
    "bad",
    [
        "a:b",
        "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:-1",
        "x:y:z",
        f"90b3d51f30010000:00db1234567890a0:{2**64}",
    ],
)
def test_bad_request_id_is_refused(bad):
    with pytest.raises(DccArgumentError):
        RequestId.parse(bad)


def test_index_and_duration_errors_name_argument_and_value():
    with pytest.raises(DccArgumentError, match=r"^index: must be 1\.\.5, got 7$"):
        validate_index(7)
    with pytest.raises(DccArgumentError, match=r"^duration_minutes: "):
        validate_duration_minutes(-5)
    assert validate_index(5) == 5
    assert validate_duration_minutes(65535) == 65535


def test_in_memory_counter_never_repeats_under_threads():
    counters = InMemoryCounterSource(start=0)
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [counters.next_counter("90-B3-D5-1F-30-01-00-00") for _ in range(500)]
        assert mine == sorted(mine) and len(set(mine)) == len(mine)  # increasing within a thread
        with lock:
            seen.extend(mine)

    run_in_threads(take, 8)
    assert sorted(seen) == list(range(1, 4001))
    assert counters.next_counter("90-B3-D5-1F-30-01-00-01") == 1  # per originator
