"""kombu's Redis transport, fixed so a worker outlives a Redis restart (celery/kombu 5.7.0).

On losing the broker Celery collects the connection, then closes it; closing with an unacked
message in flight fails with an ``AttributeError``, which is not a connection error, so the
worker stops instead of reconnecting. Here a collected channel raises the transport's connection
error instead. The message stays in Redis's unacked hash and is restored after the visibility
timeout."""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was collected after it was lost")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
