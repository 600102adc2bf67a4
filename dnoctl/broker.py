"""kombu's Redis transport, with one fix so a worker outlives a Redis restart.

Celery 5.7.0's consumer, on losing the broker, first ``collect()``s the connection (which
detaches the transport from it) and then ``close()``s it. When a message is unacknowledged
at that moment (any ``acks_late`` task in flight), the close tries to put it back on the
queue through a new Redis client, built from the connection parameters that ``collect()``
has just dropped: ``AttributeError: 'NoneType' object has no attribute 'hostname'``, which
is not a connection error, so the worker stops with "Unrecoverable error" instead of
reconnecting (kombu 5.7.0 / celery 5.7.0, the newest releases; celery 5.6.3 did not close
after collecting).

Here a channel whose connection was collected raises the transport's own connection error,
which Celery's clean-up ignores, and the worker reconnects. The message is not lost by
that: it stays in Redis's unacked hash, which the transport restores after the visibility
timeout; and when Redis itself lost it (restarted without persistence), the re-check sweep
redoes the work (see ``curtailment.tasks``). ``CELERY_BROKER_TRANSPORT`` selects it.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was collected after it was lost")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
