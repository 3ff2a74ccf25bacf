"""Per-user limits: a token bucket over everything a user asks of the bot, and each user's questions
answered one at a time, in the order they were sent.

One user's burst is refused politely and never delays anyone else; a question sent while an earlier one
is being answered waits its turn instead of being turned away. Used only from the event loop, so it
needs no locks of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

# Questions a user may have waiting behind the one being answered: enough for a question sent in two
# messages, or a few forwarded at once; more is a flood, and the user is told to send it again later.
MAX_WAITING = 3


class RateLimited(Exception):
    """The user must wait `retry_after` seconds. `told` is whether they were already told in this stretch
    (a flood gets one reply, not one per message)."""

    def __init__(self, retry_after: float, told: bool) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after
        self.told = told


class TooManyWaiting(Exception):
    """The user already has MAX_WAITING questions waiting for their turn."""


class RateLimiter:
    """Per user, a token bucket over requests (questions, commands, button presses): up to `limit` at once,
    and the allowance refilling at `limit` per `window` seconds (one every window / limit s).

    People ask in bursts (a question, "More results" a few times, a rephrasing) and then pause to read, so
    the burst is what a limit must leave room for; a steady stream faster than anyone reads is a script.
    Unlike a sliding window, a user who used the burst waits for one request's refill, not a whole window.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the rate limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._per_second = limit / window
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # user -> (tokens, when counted)
        self._told: set[int] = set()

    def admit(self, user_id: int) -> None:
        """Count one request from the user, or raise RateLimited (a refused request is not counted)."""
        now = self._clock()
        tokens = self._tokens(user_id, now)
        if tokens < 1:
            told = user_id in self._told
            self._told.add(user_id)
            raise RateLimited((1 - tokens) / self._per_second, told)
        self._told.discard(user_id)
        self._buckets[user_id] = (tokens - 1, now)
        self._forget_idle(now)

    def _tokens(self, user_id: int, now: float) -> float:
        tokens, then = self._buckets.get(user_id, (self.limit, now))
        return min(self.limit, tokens + (now - then) * self._per_second)

    def _forget_idle(self, now: float) -> None:
        """Drop users whose bucket has refilled, so memory tracks only recent askers."""
        if len(self._buckets) > 10_000:
            for user_id in [u for u in self._buckets if self._tokens(u, now) >= self.limit]:
                del self._buckets[user_id]
                self._told.discard(user_id)


class Turns:
    """Each user's questions one at a time, first sent first answered (asyncio.Lock wakes its waiters
    in order); at most MAX_WAITING waiting behind the one being answered."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._holding: dict[int, int] = {}  # per user: the one being answered plus those waiting

    @asynccontextmanager
    async def turn(self, user_id: int) -> AsyncIterator[None]:
        """Wait for the user's earlier questions to be answered, then hold the turn while the body runs;
        TooManyWaiting at once if the user's queue is full."""
        holding = self._holding.get(user_id, 0)
        if holding > MAX_WAITING:
            raise TooManyWaiting
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._holding[user_id] = holding + 1
        try:
            async with lock:
                yield
        finally:
            self._holding[user_id] -= 1
            if not self._holding[user_id]:
                del self._holding[user_id], self._locks[user_id]
