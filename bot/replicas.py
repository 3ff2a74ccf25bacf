"""The replicas of one bot that share a Redis (NEWSBOT_REDIS_URL), each announced by a key that expires
unless it is renewed, so `serve` can refuse a start that would break the others.

Telegram gives updates to one long poller per bot, and a poller's start deletes the webhook: a replica
that polls beside other replicas (polling or by webhook) would fight them or cut them off. So with other
replicas alive a start without --webhook-url is refused, and so is a webhook start while one polls.
A replica killed without stopping is forgotten ALIVE_SECONDS later.
"""

from __future__ import annotations

import logging
import secrets

import redis
from redis.exceptions import RedisError

from newsbot.bot.shared import TIMEOUT, SharedState, redacted

ALIVE_SECONDS = 30.0
RENEW_SECONDS = 10.0  # three renewals per lifetime: one missed under load does not drop a live replica
POLLING, WEBHOOK = "polling", "webhook"

log = logging.getLogger(__name__)


def replica_key(prefix: str, replica_id: str) -> str:
    return f"{prefix}replica:{replica_id}"


def refusal(url: str, bot_id: str, mode: str) -> str | None:
    """Why this replica must not start in `mode` beside the live ones, or None. Redis not answering is no
    reason to refuse (Telegram itself turns a second poller away): it is logged and the start goes on."""
    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    try:
        others = [value.decode() for key in client.scan_iter(match=replica_key(f"newsbot:{bot_id}:", "*"))
                  if (value := client.get(key)) is not None]
    except RedisError as error:
        log.warning("Redis at %s cannot be reached (%s); starting without checking for other replicas",
                    redacted(url), type(error).__name__)
        return None
    finally:
        client.close()
    if mode == POLLING and others:
        return (f"{len(others)} other replica(s) of this bot are serving with NEWSBOT_REDIS_URL; Telegram allows "
                "one long poller per bot, so run every replica with --webhook-url behind one URL")
    if mode == WEBHOOK and POLLING in others:
        return ("a replica of this bot is serving by long polling with NEWSBOT_REDIS_URL; setting a webhook would "
                "stop it: stop it first, or run it with --webhook-url too")
    return None


class Presence:
    """This replica's key, renewed while it serves and deleted when it stops."""

    def __init__(self, shared: SharedState, mode: str) -> None:
        self._shared = shared
        self._mode = mode
        self._key = replica_key(shared.prefix, secrets.token_hex(8))

    async def renew(self) -> None:
        await self._shared.call(lambda client: client.set(self._key, self._mode, px=int(ALIVE_SECONDS * 1000)),
                                "other replicas may not see this one")

    async def leave(self) -> None:
        await self._shared.call(lambda client: client.delete(self._key), "its key expires by itself")
