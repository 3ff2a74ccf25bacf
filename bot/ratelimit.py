"""Per-user question limits: a sliding window, plus at most one question in flight per user.

One user's burst is refused politely and never delays anyone else. Used only from the event
loop, so it needs no locks.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RateLimited(Exception):
    """The user must wait; `retry_after` is in seconds (0 when a question is still in flight)."""

    def __init__(self, retry_after: float, in_flight: bool) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after
        self.in_flight = in_flight

    @property
    def message(self) -> str:
        if self.in_flight:
            return "I'm still working on your previous question. One moment, please."
        return (f"You're asking faster than I can keep up. "
                f"Please try again in {max(1, math.ceil(self.retry_after))} s.")


class RateLimiter:
    """At most `limit` questions per `window` seconds per user, one at a time."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the rate limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._asked: dict[int, deque[float]] = {}
        self._busy: set[int] = set()

    @contextmanager
    def slot(self, user_id: int) -> Iterator[None]:
        """Hold the user's one in-flight slot while the body runs; raise RateLimited instead if over."""
        if user_id in self._busy:
            raise RateLimited(0.0, in_flight=True)
        now = self._clock()
        asked = self._asked.setdefault(user_id, deque())
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        if len(asked) >= self.limit:
            raise RateLimited(asked[0] + self.window - now, in_flight=False)
        asked.append(now)
        self._busy.add(user_id)
        try:
            yield
        finally:
            self._busy.discard(user_id)
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Drop users whose window has emptied, so memory tracks only recent askers."""
        if len(self._asked) > 10_000:
            for user_id in [u for u, a in self._asked.items() if not a or a[-1] <= now - self.window]:
                del self._asked[user_id]
