"""The rate limit shared by bot replicas through Redis: one allowance per user across processes, keys that
expire when a user is idle, and a Redis that goes away costing neither a crash nor every user."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import redis

from newsbot.bot.ratelimit import RateLimited, SharedRateLimiter
from newsbot.bot.shared import SharedState, redacted
from tests.local_services import free_port
from tests.redis_server import redis_server
from tests.reliability import Record


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _admitted(limiter: SharedRateLimiter, user_id: int) -> bool:
    try:
        await limiter.admit(user_id)
    except RateLimited:
        return False
    return True


async def test_two_limiters_on_one_redis_share_each_users_burst_and_refill(redis_url: str) -> None:
    clock = Clock()
    one, two = SharedState(redis_url, "1"), SharedState(redis_url, "1")  # two replicas' connections
    first = SharedRateLimiter(one, 4, 60, clock=clock)  # a burst of 4, then one every 15 s
    second = SharedRateLimiter(two, 4, 60, clock=clock)
    admitted = [await _admitted(limiter, 7) for limiter in (first, second, first, second, first, second)]
    assert admitted == [True, True, True, True, False, False]
    with pytest.raises(RateLimited) as refused:
        await first.admit(7)
    assert refused.value.retry_after == pytest.approx(15) and refused.value.told  # told once, by either replica
    assert await _admitted(second, 8)  # another user is not affected
    clock.now += 15  # one request's refill, counted once for both replicas
    assert [await _admitted(second, 7), await _admitted(first, 7)] == [True, False]
    other_bot = SharedRateLimiter(SharedState(redis_url, "2"), 4, 60, clock=clock)
    assert await _admitted(other_bot, 7)  # keys are per bot
    await one.close()
    await two.close()


async def test_concurrent_requests_from_two_replicas_never_exceed_the_burst(redis_url: str) -> None:
    # 60 connections opened at once on a busy 2-core machine can take longer than the 0.25 s a replica gives
    # Redis before it limits alone; this test is about atomicity, so it waits as long as it takes.
    states = [SharedState(redis_url, "1", timeout=10) for _ in range(2)]
    limiters = [SharedRateLimiter(state, 20, 60) for state in states]  # the server's clock
    results = await asyncio.gather(*(_admitted(limiters[n % 2], 7) for n in range(60)))
    assert sum(results) == 20  # the 20-burst, not 20 per replica: the bucket is updated atomically
    for state in states:
        await state.close()


async def test_an_idle_users_bucket_expires_once_it_would_be_full_again(redis_url: str) -> None:
    state = SharedState(redis_url, "1")
    limiter = SharedRateLimiter(state, 2, 0.4)  # refills fully 0.4 s after the last request
    await limiter.admit(7)
    await limiter.admit(7)
    client = redis.Redis.from_url(redis_url)
    key = state.key("rate", 7)
    assert 0 < client.pttl(key) <= 401
    with pytest.raises(RateLimited):
        await limiter.admit(7)
    await asyncio.sleep(0.5)
    assert not client.exists(key)  # an idle user costs Redis nothing
    assert await _admitted(limiter, 7) and await _admitted(limiter, 7)  # and has the whole burst back
    client.close()
    await state.close()


async def test_redis_going_away_is_logged_once_without_the_password_and_each_replica_limits_alone(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, reliability: Record) -> None:
    with redis_server(tmp_path / "redis") as url:
        with_password = url.replace("redis://", "redis://:hunter2@")
        redis.Redis.from_url(url).config_set("requirepass", "hunter2")
        clock = Clock()
        state = SharedState(with_password, "1", clock=clock)
        limiter = SharedRateLimiter(state, 3, 60)
        assert await _admitted(limiter, 7)
    caplog.set_level(logging.INFO, logger="newsbot.bot.shared")
    results = [await _admitted(limiter, 7) for _ in range(5)]  # the server has stopped
    assert results == [True, True, True, False, False]  # the replica's own bucket: a burst of 3, no crash
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot be reached" in warnings[0].getMessage()
    assert "hunter2" not in caplog.text and "***" in caplog.text and not any(r.exc_info for r in caplog.records)
    await state.close()
    reliability("Consistency", "the Redis shared by bot replicas (NEWSBOT_REDIS_URL, with a password) stopped "
                "while a user kept asking", 1, "no crash; one warning line without the password; the replica "
                "went on limiting the user alone (a burst of 3 admitted, then refused)")


async def test_a_redis_that_never_answered_falls_back_at_once() -> None:
    state = SharedState(f"redis://127.0.0.1:{free_port()}/0", "1")
    limiter = SharedRateLimiter(state, 1, 60)
    assert await _admitted(limiter, 7) and not await _admitted(limiter, 7)
    await state.close()


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:secret@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://user:secret@host/1", "redis://user:***@host/1"),
    ("redis://host:6379/0", "redis://host:6379/0")])
def test_the_redis_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted(url) == shown
