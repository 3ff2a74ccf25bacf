"""One rebuild or /add at a time across the replicas of a bot that share a Redis (NEWSBOT_REDIS_URL).

Each replica already runs one build at a time (Service.building); with a shared index store two replicas
must not build it at once either. The lock is a key holding a random token (SET NX PX): released only
by its holder (a compare-and-delete script), and a lease renewed while the build runs, so a replica
killed mid-build frees it LEASE_SECONDS later instead of blocking every rebuild.

While Redis cannot be reached each replica builds on its own, as it does without Redis.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis

from newsbot.bot.shared import SharedState

LEASE_SECONDS = 60.0  # renewed every third of it: a slow renewal under load does not lose the lock
_FALLBACK = "each replica runs its own rebuilds without asking the others"
# Only the holder's token may delete or extend the key; another holder's lock is left alone.
RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
RENEW_SCRIPT = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
                "return 0")


class BuildLock:
    """The bot's build lock in the shared Redis."""

    def __init__(self, shared: SharedState, *, lease_seconds: float = LEASE_SECONDS) -> None:
        self._shared = shared
        self._key = shared.key("build-lock")
        self._lease_ms = int(lease_seconds * 1000)
        self._release = shared.client.register_script(RELEASE_SCRIPT)
        self._renew = shared.client.register_script(RENEW_SCRIPT)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[bool]:
        """Yields whether this replica holds the lock (False: another replica is building); holds it, renewed,
        until the body ends."""
        token = secrets.token_hex(16)

        async def take(client: Redis) -> bool:
            return await client.set(self._key, token, nx=True, px=self._lease_ms) is not None  # None: held

        taken = await self._shared.call(take, _FALLBACK)
        if taken is None:  # Redis is down: build alone
            yield True
            return
        if not taken:
            yield False
            return
        renewer = asyncio.create_task(self._keep(token))
        try:
            yield True
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            await self._shared.call(lambda client: self._release(keys=[self._key], args=[token], client=client),
                                    "the lock expires by itself")

    async def _keep(self, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            await self._shared.call(
                lambda client: self._renew(keys=[self._key], args=[token, self._lease_ms], client=client), _FALLBACK)
