"""The replicas of one bot that share a Redis (NEWSBOT_REDIS_URL), each announced by a key that expires
unless it is renewed: so `serve` can refuse a start that would break the others, the others can take over
the updates a replica killed was holding (the key is its lease on them: bot.shared_journal), and /stats
can add up the figures of the replicas alive (bot.replica_stats).

Telegram gives updates to one long poller per bot, and a poller's start deletes the webhook: a replica
that polls beside other replicas (polling or by webhook) would fight them or cut them off. So with other
replicas alive a start without --webhook-url is refused, and so is a webhook start while one polls.
A replica killed without stopping is forgotten when its lease runs out (NEWSBOT_REPLICA_LEASE_SECONDS,
30 s by default), and its updates in hand are taken over within a third of a lease after that.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from telegram.ext import Application, ContextTypes

from newsbot.bot.config import DEFAULT_REPLICA_LEASE_SECONDS
from newsbot.bot.journal import Journal
from newsbot.bot.replica_stats import Figures
from newsbot.bot.shared import TIMEOUT, SharedState, redacted

POLLING, WEBHOOK = "polling", "webhook"

log = logging.getLogger(__name__)


def replica_key(prefix: str, replica_id: str) -> str:
    return f"{prefix}replica:{replica_id}"


def figures_key(prefix: str, replica_id: str) -> str:
    return f"{prefix}replica-figures:{replica_id}"


def members_key(prefix: str) -> str:
    """The ids of the replicas that announced figures: a set, so /stats reads them without scanning every key
    (there is one per update answered in the last hour)."""
    return f"{prefix}replica-members"


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


class Replica:
    """This process among the bot's replicas: its key (its mode), renewed while it serves with its figures for
    /stats beside it, both deleted when it stops and expiring a lease after the last renewal if it is killed."""

    def __init__(self, shared: SharedState, mode: str, *, lease_seconds: float = DEFAULT_REPLICA_LEASE_SECONDS) -> None:
        self._shared = shared
        self._mode = mode
        self.id = secrets.token_hex(8)
        self.lease_seconds = lease_seconds
        self._key = replica_key(shared.prefix, self.id)
        self._figures = figures_key(shared.prefix, self.id)
        self._members = members_key(shared.prefix)

    def key_of(self, replica_id: str) -> str:
        """The key of a replica (this one or another), present while it is alive."""
        return replica_key(self._shared.prefix, replica_id)

    async def renew(self, figures: Figures | None = None) -> None:
        lease_ms = max(1, int(self.lease_seconds * 1000))

        async def write(client: AsyncRedis) -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(self._key, self._mode, px=lease_ms)
                if figures is not None:
                    pipe.hset(self._figures, mapping=figures.encoded())
                    pipe.pexpire(self._figures, lease_ms)
                    pipe.sadd(self._members, self.id)
                await pipe.execute()

        await self._shared.call(write, "other replicas may not see this one")

    async def leave(self) -> None:
        async def delete(client: AsyncRedis) -> None:
            async with client.pipeline(transaction=True) as pipe:
                await pipe.delete(self._key, self._figures).srem(self._members, self.id).execute()

        await self._shared.call(delete, "its keys expire by themselves")

    async def others(self) -> list[Figures] | None:
        """The figures of the other replicas alive, or None when Redis cannot be reached."""
        async def read(client: AsyncRedis) -> list[Figures]:
            others = [member.decode() for member in await client.smembers(self._members) if member.decode() != self.id]
            if not others:
                return []
            async with client.pipeline(transaction=False) as pipe:
                for other in others:
                    pipe.hgetall(figures_key(self._shared.prefix, other))
                hashes = await pipe.execute()
            gone = [other for other, fields in zip(others, hashes) if not fields]  # expired: killed
            if gone:
                await client.srem(self._members, *gone)
            return [figures for fields in hashes if (figures := Figures.decoded(fields)) is not None]

        return await self._shared.call(read, "/stats shows this replica's figures only")


def serve_as_replica(application: Application, replica: Replica, journal: Journal,
                     figures: Callable[[], Figures]) -> None:
    """While the application runs, renew the replica's key and figures, and take over the updates of replicas
    that are gone, each every third of a lease (PTB's JobQueue)."""
    async def renew(_: ContextTypes.DEFAULT_TYPE) -> None:
        await replica.renew(figures())

    async def take_over(_: ContextTypes.DEFAULT_TYPE) -> None:
        orphans = await journal.orphans(application.bot)
        if orphans:
            log.info("handling %d updates left unanswered by replicas that are gone", len(orphans))
        for update in orphans:
            await application.update_queue.put(update)

    interval = replica.lease_seconds / 3
    assert application.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    application.job_queue.run_repeating(renew, interval=interval, first=0, name="replica presence")
    application.job_queue.run_repeating(take_over, interval=interval, first=interval, name="takeover of updates")
