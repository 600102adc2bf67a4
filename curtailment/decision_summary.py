"""An event's opening decision in words an operator reads in ten seconds, naming chargers by EUI-64 as
the DCC and field crews know them."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consent.models import HCALCS
from core.times import london_label
from curtailment.choices import EventTrigger

# Chargers named per group before "and N more": enough to act on, short enough to read.
NAMED_PER_GROUP = 8

REACHABILITY_WORDS = {
    2: "answered the DCC recently",
    1: "no recent DCC record",
    0: "poor WAN, sent for local delivery too",
}


@dataclass(frozen=True)
class ChargerNote:
    """One charger in the summary: its EUI-64 and a few words about it."""

    eui64: str
    detail: str = ""


@dataclass
class ChargerGroup:
    """Chargers left out for one reason."""

    why: str
    chargers: list[ChargerNote] = field(default_factory=list)

    @property
    def named(self) -> list[ChargerNote]:
        return self.chargers[:NAMED_PER_GROUP]

    @property
    def more(self) -> int:
        return max(0, len(self.chargers) - NAMED_PER_GROUP)


@dataclass(frozen=True)
class DecisionSummary:
    why: str
    needed: str
    asp: str
    chosen_title: str
    chosen: list[ChargerNote]
    not_chosen: list[ChargerGroup]
    shortfall_at_start: str
    later: str
    raw_json: str


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _why(event, decision: dict) -> str:
    if event.trigger == EventTrigger.MANUAL:
        who = event.requested_by.get_username() if event.requested_by else "an operator"
        why = f"Started by {who} (operator)"
        why += f": “{event.reason}”." if event.reason else "."
        if event.while_at_risk:
            why += " Kept going by the automatic rule while the feeder is at risk."
        return why
    alert = event.alert
    load, judged = _number(decision.get("load_percent")), _number(decision.get("judged_percent"))
    at_risk = _number(decision.get("at_risk_percent"))
    if alert is None and load is None:
        return event.reason or "Started automatically."
    parts = []
    if alert is not None:
        parts.append(f"{alert.get_kind_display()} on {event.feeder.code}, raised {london_label(alert.raised_at)}")
    if load is not None:
        level = f"load {load:.1f}% of its rating"
        if at_risk is not None:
            level += f" (at-risk level {at_risk:g}%)"
        if judged is not None and judged > load + 0.05:
            level += f", heading for {judged:.1f}% on its trend"
        parts.append(level)
    why = ": ".join(parts) + "."
    if decision.get("follows_event_id"):
        why += f" The alert was still open after event {decision['follows_event_id']} ended."
    return why


def _needed(event, decision: dict) -> str:
    reduction = _number(decision.get("reduction_kw")) or event.required_reduction_kw
    minutes = decision.get("duration_minutes")
    if event.while_at_risk and minutes:
        how_long = f" while the feeder is at risk ({minutes} minutes at a time)"
    elif minutes:
        how_long = f" for {minutes} minutes"
    else:
        how_long = ""
    load_kw, clear = _number(decision.get("load_kw")), _number(decision.get("clear_percent"))
    margin = _number(decision.get("margin"))
    if event.trigger == EventTrigger.MANUAL:
        needed = f"Take {reduction:.1f} kW off{how_long}, as the operator asked."
    elif load_kw is not None and clear is not None:
        needed = (
            f"Take {reduction:.1f} kW off{how_long}: the load of {load_kw:.1f} kW down to the clear level "
            f"({clear:g}% of rating)" + (f", plus a {margin * 100:g}% margin." if margin else ".")
        )
    else:
        needed = f"Take {reduction:.1f} kW off{how_long}."
    if event.required_reduction_kw > reduction + 0.05:
        needed += f" Raised since to {event.required_reduction_kw:.1f} kW: the load stayed above its at-risk level."
    return needed


def _asp(decision: dict) -> str:
    calloffs = decision.get("asp_calloffs") or []
    chargers_kw = _number(decision.get("required_kw"))
    if not calloffs:
        return "No ASP contract was called off: chargers cover all of it."
    called = ", ".join(f"{c.get('contract', '?')} {(_number(c.get('kw')) or 0):.1f} kW" for c in calloffs)
    rest = f"; chargers cover the remaining {chargers_kw:.1f} kW" if chargers_kw is not None else ""
    return f"ASP contracts called off first (NF14): {called}{rest}."


LIMITED_REASON = re.compile(r"^limited to (\d+) % \(([\d.]+) kW\)")


def _picked_detail(record: dict, selection: dict) -> str:
    kw = _number(record.get("expected_kw")) or 0
    limited = LIMITED_REASON.match(str(record.get("reason", "")))
    if limited:  # an APC throttled: its level at the start (the closed loop may move it since)
        detail = f"limited to {limited[1]} % ({float(limited[2]):.1f} kW), {kw:.1f} kW withheld"
    else:
        detail = f"{kw:.1f} kW"
    detail += f" for {record.get('minutes', 0)} min"
    used = selection.get("used_30d")
    reach = selection.get("reachability")
    if used is None:  # older records: the numbers are only in the reason's words
        match = re.search(r"used (\d+) min in 30 d, reachability (\d)", record.get("reason", ""))
        if match:
            used, reach = int(match[1]), int(match[2])
    if used is not None:
        detail += f"; curtailed {used} min in the last 30 days"
    if reach in REACHABILITY_WORDS:
        detail += f"; {REACHABILITY_WORDS[reach]}"
    return detail


def _skip_group(reason: str, deferred: bool) -> tuple[str, str]:
    if deferred:
        return "Held back by the DCC command budget (picked when it frees up)", reason
    if reason == "required reduction already covered":
        return "Not needed: the reduction was already covered", ""
    if reason.startswith("allowance"):
        return "At or near their usage limits (120 min in 24 h, 480 min in 30 days)", reason
    if reason == "not drawing power now":
        return "Not charging now", ""
    return reason[:1].upper() + reason[1:], ""


def _not_chosen(decision: dict, eui: dict[int, str]) -> list[ChargerGroup]:
    groups: dict[str, ChargerGroup] = {}

    def add(heading: str, hcalcs_id: Any, detail: str) -> None:
        group = groups.setdefault(heading, ChargerGroup(why=heading))
        group.chargers.append(ChargerNote(eui64=eui.get(hcalcs_id, "unknown charger"), detail=detail))

    for record in decision.get("candidates") or []:
        if not record.get("picked"):
            heading, detail = _skip_group(str(record.get("reason", "")), bool(record.get("deferred")))
            add(heading, record.get("hcalcs_id"), detail)
    for record in decision.get("ineligible") or []:
        reason = str(record.get("reason", "not eligible"))
        add(f"Not eligible: {reason}", record.get("hcalcs_id"), "")
    # The groups that most change what an operator does next first: the limits, the
    # budget, then eligibility, then those simply not needed.
    return sorted(groups.values(), key=lambda g: (g.why.startswith("Not needed"), g.why.startswith("Not eligible")))


def _hcalcs_ids(decision: dict) -> set[int]:
    ids = set()
    for key in ("candidates", "ineligible"):
        for record in decision.get(key) or []:
            if isinstance(record, dict) and isinstance(record.get("hcalcs_id"), int):
                ids.add(record["hcalcs_id"])
    return ids


def event_decision_summary(event, actions: Sequence[Any]) -> DecisionSummary | None:
    """The opening decision of ``event`` in words (None when none was recorded)."""
    decision = event.decision or {}
    if not decision:
        return None
    eui = dict(HCALCS.objects.filter(pk__in=_hcalcs_ids(decision)).values_list("pk", "eui64"))
    opening = [a for a in actions if a.started_at == event.started_at]
    selection_of = {a.hcalcs_id: a.selection or {} for a in opening}
    picked = [r for r in decision.get("candidates") or [] if r.get("picked")]
    chosen = [
        ChargerNote(
            eui64=eui.get(r.get("hcalcs_id"), "unknown charger"),
            detail=_picked_detail(r, selection_of.get(r.get("hcalcs_id"), {})),
        )
        for r in picked
    ]
    covered = _number(decision.get("covered_kw")) or 0.0
    limited = sum(1 for r in picked if LIMITED_REASON.match(str(r.get("reason", ""))))
    if limited:
        off = len(picked) - limited
        chosen_title = (
            f"{limited} charger{'s' if limited != 1 else ''} limited"
            + (f", {off} switched off" if off else "")
            + f", {covered:.1f} kW expected: the APC chargers drawing most are throttled to a common level "
            "(never below their guaranteed minimum) before any charger is switched off; the fewest, "
            "least-curtailed HCALCS are switched off only for what throttling cannot cover."
        )
    elif chosen:
        chosen_title = (
            f"{len(chosen)} charger{'s' if len(chosen) != 1 else ''} switched off, {covered:.1f} kW expected: "
            "the least curtailed over 30 days first, then the best reached over the DCC, then the biggest draw."
        )
    elif decision.get("asp_calloffs"):
        chosen_title = "No charger: the ASP call-off covered it."
    else:
        chosen_title = "No charger could be switched off."
    shortfall = _number(decision.get("shortfall_kw")) or 0.0
    shortfall_at_start = (
        f"{shortfall:.1f} kW could not be covered at the start: not enough eligible chargers with allowance left."
        if shortfall > 0.05
        else ""
    )
    later_count = len(actions) - len(opening)
    later = (
        f"Since then {later_count} more charger action{'s' if later_count != 1 else ''} "
        "(top-ups, replacements, rotation): see the actions and the audit below."
        if later_count > 0
        else ""
    )
    return DecisionSummary(
        why=_why(event, decision),
        needed=_needed(event, decision),
        asp=_asp(decision),
        chosen_title=chosen_title,
        chosen=chosen,
        not_chosen=_not_chosen(decision, eui),
        shortfall_at_start=shortfall_at_start,
        later=later,
        raw_json=json.dumps(decision, indent=2, default=str),
    )
