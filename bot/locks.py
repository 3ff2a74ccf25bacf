"""Locks shared by the replicas of a bot through Redis (NEWSBOT_REDIS_URL): one build at a time across them
(`/reindex`, `/add`), and each user's questions answered one at a time across them.

Within one replica Service.building and ratelimit.Turns already hold these rules; across replicas a lock is
a key holding a random token (SET NX PX): released only by its holder (a compare-and-delete script), and a
lease renewed while the holder works, so a replica killed while holding it frees it a lease later
(NEWSBOT_REPLICA_LEASE_SECONDS, when its updates in hand are taken over too) instead of blocking the rest
for good. It is renewed every third of a lease: a slow renewal under load does not lose it. A waiting turn
asks again every POLL_SECONDS: a user's questions rarely wait, and then for about one answer's time.

While Redis cannot be reached each replica goes on alone, as it does without Redis.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis

from newsbot.bot.config import DEFAULT_REPLICA_LEASE_SECONDS
from newsbot.bot.shared import SharedState

POLL_SECONDS = 0.05
BUILD = "build-lock"
_FALLBACK = "each replica runs its builds and takes each user's questions in turn on its own"
# Only the holder's token may delete or extend the key; another holder's lock is left alone.
RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
RENEW_SCRIPT = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
                "return 0")


def turn_of(user_id: int) -> str:
    """The lock of a user's question in hand."""
    return f"turn:{user_id}"


class SharedLocks:
    """Named locks of the bot in the shared Redis."""

    def __init__(self, shared: SharedState, *, lease_seconds: float = DEFAULT_REPLICA_LEASE_SECONDS) -> None:
        self._shared = shared
        self._lease_ms = int(lease_seconds * 1000)
        self._release = shared.client.register_script(RELEASE_SCRIPT)
        self._renew = shared.client.register_script(RENEW_SCRIPT)

    @asynccontextmanager
    async def held(self, name: str, *, wait: bool = False) -> AsyncIterator[bool]:
        """Yields whether this replica holds the lock `name` (False: another one does; with `wait`, only once
        it does), and holds it, renewed, until the body ends."""
        key, token = self._shared.key(name), secrets.token_hex(16)

        async def take(client: Redis) -> bool:
            return await client.set(key, token, nx=True, px=self._lease_ms) is not None  # None: held

        taken = await self._shared.call(take, _FALLBACK)
        while wait and taken is False:
            await asyncio.sleep(POLL_SECONDS)
            taken = await self._shared.call(take, _FALLBACK)
        if not taken:
            yield taken is None  # None: Redis is down, go on alone
            return
        renewer = asyncio.create_task(self._keep(key, token))
        try:
            yield True
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            await self._shared.call(lambda client: self._release(keys=[key], args=[token], client=client),
                                    "the lock expires by itself")

    async def _keep(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            await self._shared.call(
                lambda client: self._renew(keys=[key], args=[token, self._lease_ms], client=client), _FALLBACK)
