"""Per-user limits: a token bucket over everything a user asks of the bot, and each user's questions
answered one at a time, in the order they were sent.

One user's burst is refused politely and never delays anyone else; a question sent while an earlier one
is being answered waits its turn instead of being turned away. Used only from the event loop, so it
needs no locks of its own.

The bucket lives in the process (RateLimiter) on one machine, and in Redis (SharedRateLimiter) when several
replicas serve one bot, so that a user's allowance is one across them; the bot picks one at start-up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # redis is imported only where a Redis is configured: `newsbot ask` reads this module's texts
    from newsbot.bot.shared import SharedState

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


class Limiter(Protocol):
    """What the bot asks of a rate limit: its settings (for the message to a user over it) and admit."""

    limit: int
    window: float

    async def admit(self, user_id: int) -> None: ...


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

    async def admit(self, user_id: int) -> None:
        """Count one request from the user, or raise RateLimited (a refused request is not counted)."""
        self.admit_now(user_id)

    def admit_now(self, user_id: int) -> None:
        """admit, for a caller outside the event loop's flow (the shared limiter's fallback)."""
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


# The token bucket of RateLimiter in one atomic step on the Redis server, with the server's clock (replicas'
# clocks differ) unless the caller passes one (the tests). The key expires when the bucket would be full
# again, which is the same as no key: an idle user costs Redis nothing. Numbers go back as strings, since
# Redis turns a Lua number into an integer.
BUCKET_SCRIPT = """
local limit, per_second, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'told')
local tokens = tonumber(state[1]) or limit
local at = tonumber(state[2]) or now
tokens = math.min(limit, tokens + math.max(0, now - at) * per_second)
local admitted = tokens >= 1
local told = state[3] == '1'
if admitted then tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now), 'told', admitted and '0' or '1')
redis.call('PEXPIRE', KEYS[1], math.ceil((limit - tokens) / per_second * 1000) + 1)
if admitted then return {1, '0', 0} end
return {0, tostring((1 - tokens) / per_second), told and 1 or 0}
"""


class SharedRateLimiter:
    """RateLimiter's bucket in Redis, one per user for all the bot's replicas. While Redis cannot be reached
    each replica limits on its own (a RateLimiter of the same settings): refusing everyone would take the
    bot down with Redis, and admitting everyone would open it to floods; per replica a user gets at most
    the replica count times the burst."""

    def __init__(self, shared: SharedState, limit: int, window: float,
                 *, clock: Callable[[], float] | None = None) -> None:
        self.limit = limit
        self.window = window
        self._shared = shared
        self._clock = clock
        self._alone = RateLimiter(limit, window)
        self._script = shared.client.register_script(BUCKET_SCRIPT)

    async def admit(self, user_id: int) -> None:
        now = "" if self._clock is None else repr(self._clock())
        answer = await self._shared.call(
            lambda client: self._script(keys=[self._shared.key("rate", user_id)],
                                        args=[self.limit, self.limit / self.window, now], client=client),
            "each replica limits its users on its own")
        if answer is None:
            self._alone.admit_now(user_id)
            return
        admitted, retry_after, told = answer
        if not admitted:
            raise RateLimited(float(retry_after), bool(told))


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
