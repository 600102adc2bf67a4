"""Pushing typed payloads to Channels groups after the causing transaction commits.

Redis may be lost: a failed push is logged, never raised, because the database is the truth and
the page reloads from it. With Redis, one background sender per process sends in order, since
``async_to_sync`` per push costs a thread and an event loop each."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

FEEDERS_ALL = "feeders.all"


def feeder_group(feeder_id: int) -> str:
    return f"feeders.feeder-{feeder_id}"


def event_group(event_id: int) -> str:
    return f"curtailment.event-{event_id}"


def push_now(groups: list[str], message_type: str, payload: Mapping[str, Any]) -> None:
    """Send ``payload`` to each group now, outside any transaction."""
    layer = get_channel_layer()
    if layer is None:
        return
    if _tracks_groups(layer):
        _sender().send(groups, message_type, dict(payload))
        return
    message = {"type": message_type, "payload": dict(payload)}
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a lost Redis must not fail the service that changed the data
            logger.exception("push of %s to %s failed", message_type, group)


def push_on_commit(groups: list[str], message_type: str, payload: Mapping[str, Any]) -> None:
    """Push when the current transaction commits, with the payload as this transaction wrote it."""
    payload = dict(payload)
    transaction.on_commit(lambda: push_now(groups, message_type, payload))


class _Sender:
    """One background sender per process (re-created after a fork), sending only to groups with
    a subscriber: an empty group costs the same Redis round trips as a watched one."""

    MAX_ROUND = 500  # messages per round: bounds the latency of the first one in a burst

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="dnoctl-push-sender", daemon=True)
        self.thread.start()

    def send(self, groups: list[str], message_type: str, payload: dict[str, Any]) -> None:
        self.queue.put((groups, message_type, payload))

    def _take_round(self) -> list[tuple[list[str], str, dict[str, Any]]]:
        messages = [self.queue.get()]
        while len(messages) < self.MAX_ROUND:
            try:
                messages.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return messages

    def _run(self) -> None:
        # A plain daemon thread with its own loop: nothing here may keep the process alive
        # at exit (a worker being stopped), so no executor threads.
        loop = asyncio.new_event_loop()
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        while True:
            messages = self._take_round()
            try:
                listened = loop.run_until_complete(
                    groups_with_members(layer, {group for groups, _, _ in messages for group in groups})
                )
            except Exception:  # Redis lost: try every group, each failure is logged below
                logger.exception("could not ask Redis which groups are listened to")
                listened = None
            for groups, message_type, payload in messages:
                message = {"type": message_type, "payload": payload}
                for group in groups:
                    if listened is not None and group not in listened:
                        continue
                    try:
                        loop.run_until_complete(layer.group_send(group, message))
                    except Exception:  # a lost Redis must not stop the service that pushed
                        logger.exception("push of %s to %s failed", message_type, group)


_sender_instance: _Sender | None = None
_sender_lock = threading.Lock()


def _sender() -> _Sender:
    global _sender_instance
    with _sender_lock:
        if _sender_instance is None or _sender_instance.pid != os.getpid():
            _sender_instance = _Sender()
        return _sender_instance


def _tracks_groups(layer) -> bool:
    return all(hasattr(layer, name) for name in ("_group_key", "consistent_hash", "connection"))


# Positions (1-based) of the KEYS that name a non-empty sorted set: one script call answers
# for a whole batch of groups, where a pipeline of ZCARDs cost a reply per group to parse.
_NON_EMPTY_GROUPS_LUA = """
local found = {}
for i, key in ipairs(KEYS) do
    if redis.call('ZCARD', key) > 0 then found[#found + 1] = i end
end
return found
"""


async def groups_with_members(layer, groups: set[str]) -> set[str]:
    """The groups with at least one subscribed channel, asked of Redis in one script call per host."""
    if not _tracks_groups(layer):
        return groups
    by_host: dict[int, list[str]] = {}
    for group in groups:
        by_host.setdefault(layer.consistent_hash(group), []).append(group)
    found: set[str] = set()
    for index, host_groups in by_host.items():
        keys = [layer._group_key(group) for group in host_groups]
        positions = await layer.connection(index).eval(_NON_EMPTY_GROUPS_LUA, len(keys), *keys)
        found.update(host_groups[int(position) - 1] for position in positions)
    return found
