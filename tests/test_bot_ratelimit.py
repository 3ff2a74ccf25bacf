"""The per-user limits: the sliding window on a fake clock, and each user's questions taken in turn."""

from __future__ import annotations

import asyncio

import pytest

from newsbot.bot.ratelimit import MAX_WAITING, RateLimited, RateLimiter, TooManyWaiting, Turns
from newsbot.bot.texts import slow_down


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_says_how_long_to_wait_once() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    for _ in range(2):
        limiter.admit(7)
        clock.now += 10
    with pytest.raises(RateLimited) as refused:
        limiter.admit(7)
    assert refused.value.retry_after == pytest.approx(40) and not refused.value.told
    assert "try again in 40 s" in slow_down(refused.value.retry_after)
    with pytest.raises(RateLimited) as again:
        limiter.admit(7)
    assert again.value.told  # a flood is told once, not once per message
    limiter.admit(8)  # nobody else is affected
    clock.now += 40  # the first request leaves the window
    limiter.admit(7)
    clock.now += 100
    limiter.admit(7)
    limiter.admit(7)
    with pytest.raises(RateLimited) as later:
        limiter.admit(7)
    assert not later.value.told  # a new stretch over the limit is told again


def test_a_refused_request_does_not_use_up_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, clock=clock)
    limiter.admit(7)
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.admit(7)
    clock.now += 60
    limiter.admit(7)


async def test_a_users_questions_take_turns_in_order_and_a_full_queue_is_refused() -> None:
    turns = Turns()
    order: list[int] = []

    async def ask(number: int, seconds: float) -> None:
        async with turns.turn(7):
            await asyncio.sleep(seconds)
            order.append(number)

    first_is_slow = [ask(0, 0.05)] + [ask(n, 0.0) for n in range(1, MAX_WAITING + 1)]
    tasks = [asyncio.create_task(c) for c in first_is_slow]
    await asyncio.sleep(0)  # all of them have joined the queue
    with pytest.raises(TooManyWaiting):
        async with turns.turn(7):
            pass
    async with turns.turn(8):  # another user does not wait for user 7
        assert order == []
    await asyncio.gather(*tasks)
    assert order == list(range(MAX_WAITING + 1))
    async with turns.turn(7):  # the queue is free again
        pass
