"""State shared by several bot replicas, in Redis (NEWSBOT_REDIS_URL): the connection, its keys, and what
the bot does while Redis cannot be reached.

A Redis outage must not take the bot down with it: each call that fails (or takes longer than TIMEOUT) is
reported once per outage in one log line, without the URL's password and without a traceback, and the
caller falls back to what one replica can do alone (bot.ratelimit, bot.shared_journal say which). For RETRY_AFTER
seconds after a failure Redis is not tried, so a host that drops packets costs one timeout per interval,
not one per message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A round trip to a Redis on the same network is well under 1 ms; 0.25 s means it is not answering, and a
# user's question waits at most that long before the replica decides alone.
TIMEOUT = 0.25
RETRY_AFTER = 5.0
T = TypeVar("T")


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:" if parts.username else ":"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}{port}"))


class SharedState:
    """One Redis client for a bot, its keys prefixed by the bot's id (update ids and users are per bot), and
    the outage bookkeeping every use of it shares."""

    def __init__(self, url: str, bot_id: str, *, clock: Callable[[], float] = time.monotonic,
                 timeout: float = TIMEOUT) -> None:
        self.client = aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.prefix = f"newsbot:{bot_id}:"
        self._where = redacted(url)
        self._clock = clock
        self._down_until: float | None = None

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(map(str, parts))

    async def call(self, action: Callable[[aioredis.Redis], Awaitable[T]], fallback: str) -> T | None:
        """`action`'s result, or None when Redis cannot be reached (then `fallback` says, in the log line,
        what the bot does instead)."""
        now = self._clock()
        if self._down_until is not None and now < self._down_until:
            return None
        try:
            result = await action(self.client)
        except (RedisError, OSError) as error:
            if self._down_until is None:
                log.warning("Redis at %s cannot be reached (%s); %s until it is back", self._where,
                            type(error).__name__, fallback)
            self._down_until = now + RETRY_AFTER
            return None
        if self._down_until is not None:
            log.info("Redis at %s is reachable again", self._where)
            self._down_until = None
        return result

    async def close(self) -> None:
        await self.client.aclose()
