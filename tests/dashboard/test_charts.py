"""The Europe/London wall-clock helper (Plotly ignores offsets) and the figure builders."""

import datetime as dt
from types import SimpleNamespace

import pytest

from core.times import london_label, london_wallclock
from dnoctl.charts import feeder_load_figure

UTC = dt.UTC


def test_wallclock_spring_forward_skips_the_missing_hour():
    # 2026-03-29: clocks go from 01:00 GMT to 02:00 BST; 00:59 UTC and 01:00 UTC are
    # a wall-clock hour and a minute apart.
    assert london_wallclock(dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC)) == "2026-03-29 00:59:00"
    assert london_wallclock(dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == "2026-03-29 02:00:00"
    assert london_wallclock(dt.datetime(2026, 3, 29, 12, 0, tzinfo=UTC)) == "2026-03-29 13:00:00"


def test_wallclock_fall_back_repeats_the_hour_and_the_label_tells_them_apart():
    # 2026-10-25: 00:30 UTC is 01:30 BST, 01:30 UTC is 01:30 GMT.
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert london_wallclock(first) == london_wallclock(second) == "2026-10-25 01:30:00"
    assert london_label(first) == "2026-10-25 01:30:00 BST"
    assert london_label(second) == "2026-10-25 01:30:00 GMT"
    assert london_wallclock(dt.datetime(2026, 10, 25, 12, 0, tzinfo=UTC)) == "2026-10-25 12:00:00"


def test_wallclock_converts_from_any_offset_and_passes_none():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert london_wallclock(dt.datetime(2026, 7, 1, 14, 0, tzinfo=plus_two)) == "2026-07-01 13:00:00"
    assert london_wallclock(None) is None


def test_wallclock_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        london_wallclock(dt.datetime(2026, 3, 29, 1, 30))


def _reading(minute: int, amps: float, *, base=dt.datetime(2026, 10, 25, 0, 0, tzinfo=UTC)):
    return SimpleNamespace(
        measured_at=base + dt.timedelta(minutes=minute),
        amps_l1=amps,
        amps_l2=amps - 10,
        amps_l3=None,
        kw=amps * 0.69,
        phase_amps=[amps, amps - 10],
    )


def test_feeder_figure_sends_wallclock_x_and_a_trace_per_phase_then_the_forecast():
    readings = [_reading(m, 100 + m) for m in range(0, 120, 30)]
    figure = feeder_load_figure(
        readings=readings,
        phases=2,
        rating_amps=400,
        at_risk_percent=90,
        since=readings[0].measured_at,
        until=readings[-1].measured_at,
        forecast=[(readings[-1].measured_at, 180.0), (readings[-1].measured_at + dt.timedelta(minutes=10), 200.0)],
    )
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["L1", "L2", "Trend forecast"]
    # 00:00, 00:30 UTC are BST (01:00, 01:30); 01:00, 01:30 UTC are GMT (01:00, 01:30).
    assert figure["data"][0]["x"] == [
        "2026-10-25 01:00:00",
        "2026-10-25 01:30:00",
        "2026-10-25 01:00:00",
        "2026-10-25 01:30:00",
    ]
    assert figure["data"][1]["y"] == [90, 120, 150, 180]
    assert [shape["y0"] for shape in figure["layout"]["shapes"][:2]] == [400, 360]
    # The forecast is drawn in wall-clock time too: 01:30 GMT and 10 minutes on.
    assert figure["data"][2]["x"] == ["2026-10-25 01:30:00", "2026-10-25 01:40:00"]
