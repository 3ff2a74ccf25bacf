"""The per-user limiter: a sliding window and one question in flight, per user, on a fake clock."""

from __future__ import annotations

import pytest

from bot.ratelimit import RateLimited, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    for _ in range(2):
        with limiter.slot(7):
            clock.now += 10
    with pytest.raises(RateLimited) as refused:
        with limiter.slot(7):
            pass
    assert refused.value.retry_after == pytest.approx(40) and not refused.value.in_flight
    assert "try again in 40 s" in refused.value.message
    clock.now += 40  # the first question leaves the window
    with limiter.slot(7):
        pass


def test_one_question_in_flight_per_user_and_others_unaffected() -> None:
    limiter = RateLimiter(10, 60, clock=Clock())
    with limiter.slot(7):
        with pytest.raises(RateLimited) as refused:
            with limiter.slot(7):
                pass
        assert refused.value.in_flight and "still working" in refused.value.message
        with limiter.slot(8):
            pass
    with limiter.slot(7):  # free again once the first finished
        pass


def test_a_refused_attempt_does_not_use_up_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 60, clock=clock)
    with limiter.slot(7):
        pass
    for _ in range(5):
        with pytest.raises(RateLimited):
            with limiter.slot(7):
                pass
    clock.now += 60
    with limiter.slot(7):
        pass
