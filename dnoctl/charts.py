"""Plotly figure specs built on the server.

Plotly.js ignores UTC offsets in date strings, so every time it plots is a naive Europe/London
wall-clock string; hover text carries GMT/BST so October's repeated hour can be told apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from core.times import LONDON, london_label, london_wallclock

# Worst first: a substation in the network view takes the status of its worst feeder.
STATUS_SEVERITY = ["at_risk", "curtailing", "offline", "normal"]
PHASE_COLOURS = ["#56b4e9", "#f0e442", "#009e73"]
PHASE_DASHES = ["solid", "dot", "dashdot"]


def _dark_layout(**overrides: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "paper_bgcolor": "#182028",
        "plot_bgcolor": "#0f1419",
        "font": {"color": "#e6edf3", "family": "DejaVu Sans, sans-serif", "size": 13},
        "margin": {"l": 60, "r": 20, "t": 30, "b": 45},
        "legend": {"orientation": "h", "y": -0.18},
        "xaxis": {"gridcolor": "#2b3640", "zerolinecolor": "#2b3640"},
        "yaxis": {"gridcolor": "#2b3640", "zerolinecolor": "#2b3640"},
        "hovermode": "x unified",
    }
    layout.update(overrides)
    return layout


def feeder_load_figure(
    *,
    readings: Sequence[Any],
    phases: int,
    rating_amps: float,
    at_risk_percent: float,
    since: dt.datetime,
    until: dt.datetime,
    forecast: Sequence[tuple[dt.datetime, float]] = (),
    events: Iterable[Any] = (),
) -> dict[str, Any]:
    """Traces 0..phases-1 are the phases in order, so the page can ``extendTraces`` a live
    reading by index. Rating and threshold are shapes so they span any range the operator picks."""
    x = [london_wallclock(r.measured_at) for r in readings]
    data: list[dict[str, Any]] = []
    for index in range(phases):
        field = f"amps_l{index + 1}"
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"L{index + 1}",
                "x": x,
                "y": [getattr(r, field) for r in readings],
                "line": {"color": PHASE_COLOURS[index], "dash": PHASE_DASHES[index], "width": 2},
                "hovertemplate": "%{y:.0f} A",
            }
        )
    threshold = rating_amps * at_risk_percent / 100.0
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Trend forecast",
            "x": [london_wallclock(t) for t, _ in forecast],
            "y": [amps for _, amps in forecast],
            "line": {"color": "#e69f00", "dash": "dash", "width": 2},
            "hovertemplate": "forecast %{y:.0f} A",
        }
    )
    shapes = [
        _hline(rating_amps, "#d55e00", "solid"),
        _hline(threshold, "#e69f00", "dash"),
    ]
    for event in events:
        end = event.ended_at or event.planned_end_at
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": london_wallclock(event.started_at),
                "x1": london_wallclock(end),
                "y0": 0,
                "y1": 1,
                "fillcolor": "#cc79a7",
                "opacity": 0.25,
                "line": {"width": 0},
                "layer": "below",
            }
        )
    annotations = [
        _hlabel(rating_amps, f"Rating {rating_amps:.0f} A", "#d55e00"),
        _hlabel(threshold, f"At risk {at_risk_percent:.0f}% ({threshold:.0f} A)", "#e69f00"),
    ]
    top = max([rating_amps * 1.1, *[max(r.phase_amps, default=0) * 1.05 for r in readings]])
    return {
        "data": data,
        "layout": _dark_layout(
            shapes=shapes,
            annotations=annotations,
            xaxis={
                "type": "date",
                "range": [london_wallclock(since), london_wallclock(until)],
                "gridcolor": "#2b3640",
                "title": {"text": "Europe/London"},
            },
            yaxis={"title": {"text": "Amps per phase"}, "range": [0, top], "gridcolor": "#2b3640"},
            uirevision="feeder-load",
        ),
    }


def _hline(y: float, colour: str, dash: str) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"color": colour, "width": 2, "dash": dash},
    }


def _hlabel(y: float, text: str, colour: str) -> dict[str, Any]:
    return {
        "xref": "paper",
        "x": 0.01,
        "y": y,
        "yanchor": "bottom",
        "xanchor": "left",
        "text": text,
        "showarrow": False,
        "font": {"color": colour},
    }


ACTION_COLOURS = {
    "planned": "#bbbbbb",
    "boost_setup": "#bbbbbb",
    "sent": "#f0e442",
    "acknowledged": "#56b4e9",
    "confirmed": "#cc79a7",
    "late": "#e69f00",
    "failed": "#d55e00",
    "releasing": "#009e73",
    "ended": "#7f8c99",
}


def milestone_rows(milestones: Sequence[dict[str, Any]]) -> list[str]:
    """Each milestone on its own row, so labels never overlap however close together they happen."""
    rows: list[str] = []
    for milestone in milestones:
        label = f"{milestone['at'].astimezone(LONDON):%H:%M:%S} {milestone['label']}"
        candidate, n = label, 2
        while candidate in rows:
            candidate, n = f"{label} ({n})", n + 1
        rows.append(candidate)
    return rows


# How a limit ended, as its label ends (what the device did at the end of its last level).
LIMIT_ENDINGS = {
    "released": "lifted",
    "cancelled": "lifted",
    "rotated": "lifted",
    "override": "boost pressed",
    "duration": "reverted at its end",
}


def limit_label(*, steps: Sequence[Any], end_reason: str = "") -> str:
    held = [step for step in steps if step.change != "lift"]
    if not held:
        return ""
    levels = [f"{step.level_percent} %" for step in held]
    lifted = any(step.change == "lift" for step in steps)
    ending = "lifted" if lifted else LIMIT_ENDINGS.get(end_reason, "")
    return f"limited {' → '.join([*levels, *([ending] if ending else [])])} · {held[-1].withheld_kw:.1f} kW withheld"


def _limit_segments(actions: Sequence[Any], limit_steps: dict[int, Sequence[Any]]) -> dict[str, Any] | None:
    y, base, length, levels, hover = [], [], [], [], []
    for action in actions:
        steps = limit_steps.get(action.pk) or []
        bar_end = action.ended_at or action.expected_end_at
        for i, step in enumerate(steps):
            following = steps[i + 1] if i + 1 < len(steps) else None
            start = max(step.at, action.started_at)
            end = min(following.at if following else bar_end, bar_end)
            if step.change == "lift" or end <= start:
                continue
            y.append(action.hcalcs.eui64)
            base.append(london_wallclock(start))
            length.append((end - start).total_seconds() * 1000)
            levels.append(step.level_percent)
            allowed = action.hcalcs.rated_kw * step.level_percent / 100
            hover.append(
                f"limited to {step.level_percent} % ({allowed:.1f} of {action.hcalcs.rated_kw:.1f} kW),"
                f" {step.withheld_kw:.1f} kW withheld<br>{london_label(start)} to {london_label(end)}"
            )
    if not y:
        return None
    return {
        "type": "bar",
        "orientation": "h",
        "name": "limit level",
        "y": y,
        "base": base,
        "x": length,
        "width": 0.18,
        "offset": 0.22,
        "marker": {
            "color": levels,
            "cmin": 0,
            "cmax": 100,
            "colorscale": [[0, "#8c2d04"], [1, "#fdd49e"]],
            "line": {"color": "#0f1419", "width": 1},
        },
        "text": [f"{level} %" for level in levels],
        "textposition": "none",
        "hovertext": hover,
        "hovertemplate": "%{y}<br>%{hovertext}<extra></extra>",
    }


def event_timeline_figure(
    *,
    event: Any,
    actions: Sequence[Any],
    milestones: Sequence[dict[str, Any]],
    limit_steps: dict[int, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """One bar per charger action under one row per milestone. On a date axis Plotly wants a
    bar's length in milliseconds; the y axis is reversed so milestones read top-down."""
    limit_steps = limit_steps or {}
    labels = {
        a.pk: limit_label(steps=limit_steps[a.pk], end_reason=a.end_reason) if a.pk in limit_steps else "switched off"
        for a in actions
    }
    rows = milestone_rows(milestones)
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "Milestones",
            "y": rows,
            "x": [london_wallclock(m["at"]) for m in milestones],
            "text": [london_label(m["at"]) for m in milestones],
            "marker": {"symbol": "diamond", "size": 11, "color": "#f0e442"},
            "hovertemplate": "%{y}<br>%{text}<extra></extra>",
        }
    ]
    for status, colour in ACTION_COLOURS.items():
        group = [a for a in actions if a.status == status]
        if not group:
            continue
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": status.replace("_", " "),
                "y": [f"{a.hcalcs.eui64}" for a in group],
                "base": [london_wallclock(a.started_at) for a in group],
                "x": [((a.ended_at or a.expected_end_at) - a.started_at).total_seconds() * 1000 for a in group],
                "marker": {"color": colour},
                "customdata": [a.pk for a in group],
                "text": [labels[a.pk] for a in group],
                "textposition": "inside",
                "insidetextanchor": "start",
                "hovertemplate": "%{y}<br>" + status + "<br>%{text}<extra></extra>",
            }
        )
    segments = _limit_segments(actions, limit_steps)
    if segments:
        data.append(segments)
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": london_wallclock(m["at"]),
            "x1": london_wallclock(m["at"]),
            "y0": 0,
            "y1": 1,
            "line": {"color": "#f0e442", "width": 1, "dash": "dot"},
            "layer": "below",
        }
        for m in milestones
    ]
    # From the earliest milestone (an alert may come minutes before the start) to the end.
    start = min([event.started_at, *(m["at"] for m in milestones)])
    end = event.ended_at or event.planned_end_at
    chargers = len({a.hcalcs.eui64 for a in actions})
    return {
        "data": data,
        "layout": _dark_layout(
            barmode="overlay",
            margin={"l": 60, "r": 20, "t": 40, "b": 50},
            # Above the chart: below it the legend would sit on the time axis's title.
            legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
            xaxis={
                "type": "date",
                "gridcolor": "#2b3640",
                "title": {"text": "Europe/London"},
                "range": [
                    london_wallclock(start - dt.timedelta(minutes=2)),
                    london_wallclock(end + dt.timedelta(minutes=2)),
                ],
            },
            yaxis={"automargin": True, "gridcolor": "#2b3640", "categoryorder": "trace", "autorange": "reversed"},
            shapes=shapes,
            hovermode="closest",
            # A label too long for its bar is hidden, not shrunk to nothing: it is in the hover.
            uniformtext={"mode": "hide", "minsize": 10},
            height=max(260, 90 + 26 * (chargers + len(rows))),
            uirevision="event",
        ),
    }


def usage_distribution_figure(
    *, minutes_24h: Sequence[float], minutes_30d: Sequence[float], limit_24h: int, limit_30d: int
) -> dict[str, Any]:
    pct_24h = [100.0 * m / limit_24h for m in minutes_24h]
    pct_30d = [100.0 * m / limit_30d for m in minutes_30d]
    bins = {"start": 0, "end": 100.0001, "size": 10}
    return {
        "data": [
            {
                "type": "histogram",
                "name": f"Rolling 24 h (of {limit_24h} min)",
                "x": pct_24h,
                "xbins": bins,
                "marker": {"color": "#56b4e9"},
                "opacity": 0.8,
            },
            {
                "type": "histogram",
                "name": f"Rolling 30 days (of {limit_30d} min)",
                "x": pct_30d,
                "xbins": bins,
                "marker": {"color": "#e69f00", "pattern": {"shape": "/"}},
                "opacity": 0.8,
            },
        ],
        "layout": _dark_layout(
            barmode="group",
            legend={"orientation": "h", "y": 1.12},
            margin={"l": 60, "r": 20, "t": 40, "b": 45},
            xaxis={"title": {"text": "% of limit used"}, "range": [0, 105], "gridcolor": "#2b3640"},
            yaxis={"title": {"text": "Chargers"}, "gridcolor": "#2b3640"},
            shapes=[
                {
                    "type": "line",
                    "x0": 100,
                    "x1": 100,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#d55e00", "width": 2},
                }
            ],
            hovermode="closest",
            uirevision="usage",
        ),
    }
