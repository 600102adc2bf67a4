"""Explicit hooks through which the curtailment engine (above) joins feeder monitoring; the
feeders app never imports it (the dependency runs feeders <- curtailment).

* ``alert_raised``: an at-risk alert was stored; the engine decides whether to curtail and
  queues its task. Called after the alert commits. A handler that raises (the broker is
  down) is logged by the caller: the alert is stored and visible, and the engine's
  hand-over sweep sends it again.
* ``feeders_curtailing``: which of these feeders have an open curtailment event, so a
  feeder's status can say "curtailing".

The engine installs both in ``CurtailmentConfig.ready()``; until then an alert goes nowhere
and no feeder is curtailing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class EngineHooks:
    """What the feeders app asks of the curtailment engine."""

    alert_raised: Callable[[int], None]
    feeders_curtailing: Callable[[Iterable[int]], set[int]]


def _no_engine_alert(alert_id: int) -> None:
    return None


def _no_engine_curtailing(feeder_ids: Iterable[int]) -> set[int]:
    return set()


_hooks = EngineHooks(alert_raised=_no_engine_alert, feeders_curtailing=_no_engine_curtailing)


def engine_hooks_install(hooks: EngineHooks) -> None:
    """Install the engine's side (replaces what was installed before)."""
    global _hooks
    _hooks = hooks


def alert_raised_announce(alert_id: int) -> None:
    """Hand the alert over to the engine (raises what the engine's handler raises)."""
    _hooks.alert_raised(alert_id)


def feeders_curtailing(feeder_ids: Iterable[int]) -> set[int]:
    """The ids among ``feeder_ids`` with an open curtailment event."""
    ids = list(feeder_ids)
    return _hooks.feeders_curtailing(ids) if ids else set()
