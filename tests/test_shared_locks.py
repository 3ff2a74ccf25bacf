"""Locks across replicas: held by one, renewed while the holder works, released only by its holder, freed
when a killed holder's lease ends, waited for by a user's next question, and no obstacle when Redis is down."""

from __future__ import annotations

import asyncio

from newsbot.bot.locks import BUILD, SharedLocks, turn_of
from newsbot.bot.shared import SharedState
from tests.local_services import free_port


async def test_a_second_replica_cannot_build_while_the_first_does_and_can_after(redis_url: str) -> None:
    first, second = SharedState(redis_url, "1"), SharedState(redis_url, "1")
    mine, theirs = SharedLocks(first, lease_seconds=1.0), SharedLocks(second, lease_seconds=1.0)
    async with mine.held(BUILD) as held:
        assert held
        await asyncio.sleep(1.6)  # longer than the lease: renewed while the build runs
        async with theirs.held(BUILD) as other:
            assert not other
    async with theirs.held(BUILD) as other:  # released at the end of the build
        assert other
        async with SharedLocks(SharedState(redis_url, "2")).held(BUILD) as another_bot:
            assert another_bot  # another bot's builds are its own
    await first.close()
    await second.close()


async def test_a_killed_holders_lock_is_freed_by_its_lease_and_never_released_by_another(redis_url: str) -> None:
    first, second = SharedState(redis_url, "1"), SharedState(redis_url, "1")
    killed, survivor = SharedLocks(first, lease_seconds=1.0), SharedLocks(second, lease_seconds=1.0)
    await first.client.set(first.key("build-lock"), "a dead replica's token", px=1000)  # never renewed
    async with survivor.held(BUILD) as held:
        assert not held
    await asyncio.sleep(1.2)
    async with survivor.held(BUILD) as held:
        assert held
        await first.client.set(first.key("build-lock"), "someone else", px=5000)  # as if its lease had ended
    assert await first.client.get(first.key("build-lock")) == b"someone else"  # not deleted by the old holder
    async with killed.held(BUILD) as held:
        assert not held
    await first.close()
    await second.close()


async def test_without_redis_each_replica_builds_on_its_own() -> None:
    state = SharedState(f"redis://127.0.0.1:{free_port()}/0", "1")
    async with SharedLocks(state).held(BUILD) as held:
        assert held
    await state.close()


async def test_a_users_next_question_at_another_replica_waits_for_the_one_in_hand(redis_url: str) -> None:
    first, second = SharedState(redis_url, "1"), SharedState(redis_url, "1")
    order: list[str] = []
    first_started = asyncio.Event()

    async def answer(locks: SharedLocks, name: str, seconds: float) -> None:
        async with locks.held(turn_of(7), wait=True) as held:
            assert held
            order.append(f"{name} starts")
            first_started.set()
            await asyncio.sleep(seconds)
            order.append(f"{name} ends")

    in_hand = asyncio.create_task(answer(SharedLocks(first), "first", 0.3))
    await first_started.wait()
    await asyncio.gather(in_hand, answer(SharedLocks(second), "second", 0))
    assert order == ["first starts", "first ends", "second starts", "second ends"]
    async with SharedLocks(second).held(turn_of(8), wait=True) as other_user:  # another user does not wait
        assert other_user
    await first.close()
    await second.close()
