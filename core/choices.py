"""Audit action names: one style, ``<noun>.<verb>`` in lower case."""

from __future__ import annotations

import re

ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

# Names written before the style was one. Their rows stay as written (the table is
# append-only); they are read as their current name.
LEGACY_ACTIONS = {
    "alert_raised": "alert.raised",
    "alert_cleared": "alert.cleared",
}


def action_current(name: str) -> str:
    return LEGACY_ACTIONS.get(name, name)


def action_legacy_names(prefix: str) -> list[str]:
    return [old for old, new in LEGACY_ACTIONS.items() if new.startswith(prefix)]


def action_check(name: str) -> None:
    if not ACTION_NAME.match(name):
        raise ValueError(f"audit action {name!r} is not <noun>.<verb> in lower case (e.g. 'event.start')")
