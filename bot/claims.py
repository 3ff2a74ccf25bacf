"""Which replica handles an update, decided in Redis when several serve one bot (NEWSBOT_REDIS_URL).

Telegram may deliver an update twice (a webhook retried after a timeout, a replica that died before
answering 200), and behind one URL the two deliveries can reach two replicas. Each replica's update
journal (bot.journal) only knows what it took itself; here the first replica to claim an update id
(SET NX) handles it and the others skip it. A claim is a lease: a replica killed while answering leaves
it to expire after TAKEN_SECONDS, so a redelivery after that is answered by another replica rather than
lost. Once answered the id is kept as done for DONE_SECONDS.

While Redis cannot be reached every update is handled: answering a question twice is better than losing it.
"""

from __future__ import annotations

from redis.asyncio import Redis

from newsbot.bot.shared import SharedState

# An answer takes well under a second, a few with a long queue; a minute is past any answer in progress.
TAKEN_SECONDS = 60.0
# Telegram retries an unacknowledged webhook for minutes, not hours; an hour covers that, and costs Redis
# about 90 bytes per update (some 30 MB an hour at 100 updates/s).
DONE_SECONDS = 3600.0
_FALLBACK = "each replica handles every update delivered to it (a repeat may be answered twice)"


class UpdateClaims:
    """Update ids claimed and done, shared by the bot's replicas."""

    def __init__(self, shared: SharedState, *, taken_seconds: float = TAKEN_SECONDS,
                 done_seconds: float = DONE_SECONDS) -> None:
        self._shared = shared
        self._taken_ms = int(taken_seconds * 1000)
        self._done_ms = int(done_seconds * 1000)

    async def claim(self, update_id: int) -> bool:
        """Whether this replica should handle the update: no replica has it in hand or has handled it."""
        key = self._shared.key("update", update_id)

        async def take(client: Redis) -> bool:
            return await client.set(key, "taken", nx=True, px=self._taken_ms) is not None  # None: already set

        taken = await self._shared.call(take, _FALLBACK)
        return taken is None or taken

    async def done(self, update_id: int) -> None:
        """Record that the update has been handled, so no replica handles it again."""
        key = self._shared.key("update", update_id)
        await self._shared.call(lambda client: client.set(key, "done", px=self._done_ms), _FALLBACK)
