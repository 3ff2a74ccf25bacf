"""Retry Bot API calls through Telegram's transient faults, as Telegram asks.

PTB hands every call except getUpdates (which its updater retries itself) to the rate limiter,
so a BaseRateLimiter is the one place to retry them all: a 429 waits the `retry_after` Telegram
sends; timeouts, dropped connections and 5xx answers (PTB's NetworkError) back off exponentially.
A 400 (BadRequest) or 403 is an answer, not a fault, and is raised at once. After the last
attempt the error is raised to the caller, so a reply that cannot be sent is logged, never
silently lost.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

# A chat action is cosmetic and stale a few seconds later: never wait or retry for it.
NOT_RETRIED = frozenset({"sendChatAction"})


class RetryingLimiter(BaseRateLimiter[None]):
    """Retries each call up to `attempts` times; waits at most `max_wait` seconds per retry."""

    def __init__(self, attempts: int = 6, first_backoff: float = 0.5, max_wait: float = 60.0) -> None:
        self.attempts = attempts
        self.first_backoff = first_backoff
        self.max_wait = max_wait

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await callback(*args, **kwargs)
            except (RetryAfter, NetworkError) as error:
                if isinstance(error, BadRequest) or attempt >= self.attempts or endpoint in NOT_RETRIED:
                    raise
                if isinstance(error, RetryAfter):
                    wait = min(_seconds(error), self.max_wait)
                    log.warning("Telegram asked to retry %s after %.0f s (attempt %d)", endpoint, wait, attempt)
                else:
                    wait = min(self.first_backoff * 2 ** (attempt - 1), self.max_wait)
                    log.warning("%s failed (%s); retrying in %.1f s (attempt %d)", endpoint, error, wait, attempt)
            await asyncio.sleep(wait)


def _seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, whichever type PTB's PTB_TIMEDELTA switch makes it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
