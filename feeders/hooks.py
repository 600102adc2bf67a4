"""Hooks through which the curtailment engine joins feeder monitoring, so the feeders app never
imports it. The engine installs them in ``CurtailmentConfig.ready()``.

An ``alert_raised`` handler that raises (broker down) is logged by the caller: the alert is
stored, and the engine's hand-over sweep sends it again."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class EngineHooks:
    alert_raised: Callable[[int], None]
    feeders_curtailing: Callable[[Iterable[int]], set[int]]


def _no_engine_alert(alert_id: int) -> None:
    return None


def _no_engine_curtailing(feeder_ids: Iterable[int]) -> set[int]:
    return set()


_hooks = EngineHooks(alert_raised=_no_engine_alert, feeders_curtailing=_no_engine_curtailing)


def engine_hooks_install(hooks: EngineHooks) -> None:
    global _hooks
    _hooks = hooks


def alert_raised_announce(alert_id: int) -> None:
    _hooks.alert_raised(alert_id)


def feeders_curtailing(feeder_ids: Iterable[int]) -> set[int]:
    ids = list(feeder_ids)
    return _hooks.feeders_curtailing(ids) if ids else set()
