"""One build at a time across replicas: the lock in Redis is held by one, renewed while the build runs,
released only by its holder, freed when a killed holder's lease ends, and no obstacle when Redis is down."""

from __future__ import annotations

import asyncio

from newsbot.bot.build_lock import BuildLock
from newsbot.bot.shared import SharedState
from tests.redis_server import free_port


async def test_a_second_replica_cannot_build_while_the_first_does_and_can_after(redis_url: str) -> None:
    first, second = SharedState(redis_url, "1"), SharedState(redis_url, "1")
    mine, theirs = BuildLock(first, lease_seconds=0.3), BuildLock(second, lease_seconds=0.3)
    async with mine.held() as held:
        assert held
        await asyncio.sleep(0.5)  # longer than the lease: renewed while the build runs
        async with theirs.held() as other:
            assert not other
    async with theirs.held() as other:  # released at the end of the build
        assert other
        async with BuildLock(SharedState(redis_url, "2")).held() as another_bot:
            assert another_bot  # another bot's builds are its own
    await first.close()
    await second.close()


async def test_a_killed_holders_lock_is_freed_by_its_lease_and_never_released_by_another(redis_url: str) -> None:
    first, second = SharedState(redis_url, "1"), SharedState(redis_url, "1")
    killed, survivor = BuildLock(first, lease_seconds=0.2), BuildLock(second, lease_seconds=0.2)
    await first.client.set(first.key("build-lock"), "a dead replica's token", px=200)  # never renewed
    async with survivor.held() as held:
        assert not held
    await asyncio.sleep(0.3)
    async with survivor.held() as held:
        assert held
        await first.client.set(first.key("build-lock"), "someone else", px=5000)  # as if its lease had ended
    assert await first.client.get(first.key("build-lock")) == b"someone else"  # not deleted by the old holder
    async with killed.held() as held:
        assert not held
    await first.close()
    await second.close()


async def test_without_redis_each_replica_builds_on_its_own() -> None:
    state = SharedState(f"redis://127.0.0.1:{free_port()}/0", "1")
    async with BuildLock(state).held() as held:
        assert held
    await state.close()
