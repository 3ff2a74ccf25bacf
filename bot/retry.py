"""Retry Bot API calls through Telegram's transient faults, as Telegram asks.

PTB hands every call except getUpdates (which its updater retries itself) to the rate limiter,
so a BaseRateLimiter is the one place to retry them all. A 429 waits exactly the `retry_after`
Telegram sends, however long, as often as Telegram sends it: the reply is owed, and the update
stays in the journal (bot.journal) until it is sent. Timeouts, dropped connections and 5xx answers
(PTB's NetworkError) back off exponentially, a bounded number of times; after the last attempt the
error is raised to the caller, so a reply that cannot be sent is logged, never silently lost.
A 400 (BadRequest) or 403 is an answer, not a fault, and is raised at once.

When the bot stops, waits in progress end with StopWaiting: the update is left unfinished in the
journal and answered after the next start, rather than holding the shutdown for Telegram's wait.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

# A chat action is cosmetic and stale a few seconds later: never wait or retry for it.
NOT_RETRIED = frozenset({"sendChatAction"})


class StopWaiting(Exception):
    """The bot is stopping while a call waits to be retried; the call is left for the next start."""


class RetryingLimiter(BaseRateLimiter[None]):
    """Retries each call: through any number of 429s, and up to `attempts` network faults.

    `sleep` is how a wait is spent (a test passes a recording one; the product waits for real).
    """

    def __init__(self, attempts: int = 6, first_backoff: float = 0.5, max_backoff: float = 60.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.attempts = attempts
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._stopping = asyncio.Event()

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def stop_waiting(self) -> None:
        """End every wait, now and later, with StopWaiting (the bot is stopping)."""
        self._stopping.set()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        faults = 0
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if endpoint in NOT_RETRIED:
                    raise
                wait = _seconds(error)
                log.warning("Telegram asked to retry %s after %.0f s; waiting", endpoint, wait)
            except NetworkError as error:
                faults += 1
                if isinstance(error, BadRequest) or faults >= self.attempts or endpoint in NOT_RETRIED:
                    raise
                wait = min(self.first_backoff * 2 ** (faults - 1), self.max_backoff)
                log.warning("%s failed (%s); retrying in %.1f s (attempt %d)", endpoint, error, wait, faults)
            await self._wait(wait)

    async def _wait(self, seconds: float) -> None:
        """Sleep `seconds`, unless the bot stops first."""
        if self._stopping.is_set():
            raise StopWaiting
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((sleeping, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            stopping.cancel()
        if self._stopping.is_set():
            raise StopWaiting


def _seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, whichever type PTB's PTB_TIMEDELTA switch makes it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
