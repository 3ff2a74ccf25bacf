"""The per-user limits: the token bucket on a fake clock, and each user's questions taken in turn."""

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


async def test_a_burst_is_admitted_then_one_request_per_refill_and_the_wait_is_told_once() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)  # a burst of 3, then one every 20 s
    for _ in range(3):
        await limiter.admit(7)
    clock.now += 5
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(7)
    assert refused.value.retry_after == pytest.approx(15) and not refused.value.told
    with pytest.raises(RateLimited) as again:
        await limiter.admit(7)
    assert again.value.told  # a flood is told once, not once per message
    await limiter.admit(8)  # nobody else is affected
    clock.now += 15  # one request's allowance is back, not the whole burst
    await limiter.admit(7)
    with pytest.raises(RateLimited) as later:
        await limiter.admit(7)
    assert not later.value.told and later.value.retry_after == pytest.approx(20)  # a new stretch: told again
    clock.now += 1000  # a long pause refills the burst, and no more than it
    for _ in range(3):
        await limiter.admit(7)
    with pytest.raises(RateLimited):
        await limiter.admit(7)


async def test_a_steady_asker_at_the_refill_rate_is_never_refused() -> None:
    clock = Clock()
    limiter = RateLimiter(20, 60, clock=clock)
    for _ in range(200):  # one every 3 s, for ten minutes
        await limiter.admit(7)
        clock.now += 3


async def test_a_refused_request_does_not_use_up_the_allowance() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, clock=clock)
    await limiter.admit(7)
    for _ in range(5):
        with pytest.raises(RateLimited):
            await limiter.admit(7)
    clock.now += 60
    await limiter.admit(7)


@pytest.mark.parametrize(("limit", "seconds", "said"), [
    (20, 60, "my limit of 20 messages a minute for each person. I'll read your messages again in 4 s"),
    (100, 3600, "my limit of 100 messages an hour"), (5, 90, "my limit of 5 messages every 90 s")])
def test_the_limit_message_names_the_limit_and_the_wait_not_an_overload(limit: int, seconds: float,
                                                                        said: str) -> None:
    text = slow_down(3.2, limit, seconds)
    assert said in text and "send this one again" in text
    assert "keep up" not in text and "busy" not in text


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
