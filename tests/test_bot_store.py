"""The bot answers from its store (NEWSBOT_STORE) and follows it: every build it runs is published there and
answered from there, and a version another process published is picked up by the next check
(`Service.follow_store`, `bot.following`). Milvus Lite runs in this process; the files store needs nothing.
A Milvus that cannot be reached is a Milvus server address on a closed port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from newsbot.bot import texts
from newsbot.bot.app import schedule_feed_polls
from newsbot.bot.building import PUBLISH_FAILED
from newsbot.bot.cli import main
from newsbot.bot.following import StoreFollower
from newsbot.bot.locks import BUILD, SharedLocks
from newsbot.bot.service import Progress, Service
from newsbot.bot.shared import SharedState
from newsbot.index import build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.stores import MilvusServerStore, current_revision, parse_store
from tests.bot_harness import ADMIN, Harness, in_process_bot
from tests.conftest import SEED_QUESTION
from tests.fake_bot_api import TOKEN
from tests.reliability import Record

LLAMAS = ("title: Llamas cross the bridge\nsource: Test Wire\ndate: 2024-06-02\n\n"
          "Eleven llamas crossed the old bridge at dawn. The llamas were led by a farmer from the valley.")
LLAMA_QUESTION = "How many llamas crossed the bridge?"


async def outcome(bot: Harness, command: str) -> str:
    """The admin's command, and the text its status message ends with (a build's outcome is an edit of it)."""
    await bot.say(command, chat_id=ADMIN)
    return bot.telegram.sent(ADMIN, "editMessageText")[-1].text

def _milvus_available() -> bool:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError:
        return False
    return True


needs_milvus = pytest.mark.skipif(not _milvus_available(), reason="the milvus extra (pymilvus, milvus-lite) is not installed")


def lite(tmp_path: Path) -> str:
    return f"milvus://{tmp_path / 'store' / 'newsbot.db'}"


def unreachable_milvus() -> MilvusServerStore:
    """A Milvus server address nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return MilvusServerStore(f"http://127.0.0.1:{port}")


async def open_service(corpus_dir: Path, index_dir: Path, store: str, **options: object) -> Service:
    return await asyncio.to_thread(Service.open, corpus_dir, index_dir, store=parse_store(store), **options)


@needs_milvus
async def test_the_bot_on_milvus_lite_answers_the_seed_question_with_nothing_of_the_index_on_its_disk(
        tmp_path: Path, corpus_dir: Path, real_embedder: object) -> None:
    builder = await open_service(corpus_dir, tmp_path / "builder", lite(tmp_path), embedder=real_embedder)
    builder.close()  # it built, published, and is gone
    service = await open_service(corpus_dir, tmp_path / "empty", lite(tmp_path), embedder=real_embedder)
    try:
        answer = await service.answer(SEED_QUESTION, 3)
        assert answer.found and "more than 5,400 people" in answer.hits[0].text
        assert not (tmp_path / "empty").exists()  # answered from Milvus: nothing was built or read locally
        assert service.retriever.version_dir.name == current_revision(service.store, tmp_path / "empty")
    finally:
        service.close()


@needs_milvus
async def test_reindex_and_add_publish_to_milvus_and_another_replica_answers_from_it(tmp_path: Path,
                                                                                    corpus_dir: Path) -> None:
    store = lite(tmp_path)  # the replicas share the corpus folder and the store, each has its own index folder
    async with (in_process_bot(tmp_path / "a", corpus_dir, NEWSBOT_STORE=store) as first,
                in_process_bot(tmp_path / "b", corpus_dir, NEWSBOT_STORE=store) as second):
        published = first.service.retriever.version_dir.name
        assert second.service.retriever.version_dir.name == published  # the second found it and built nothing
        assert not (tmp_path / "b" / "index").exists()

        assert "you can ask about it now" in await outcome(first, f"/add {LLAMAS}")
        revision = current_revision(first.service.store, tmp_path)
        assert revision != published and first.service.retriever.version_dir.name == revision
        assert "Eleven llamas" in (await first.say(LLAMA_QUESTION))[0].text
        assert "Eleven llamas" not in (await second.say(LLAMA_QUESTION))[0].text  # until its check
        assert await StoreFollower(second.service).check()
        assert "Eleven llamas" in (await second.say(LLAMA_QUESTION))[0].text

        assert "I now answer from it" in await outcome(second, "/reindex force")
        assert second.service.retriever.version_dir.name == current_revision(second.service.store, tmp_path) != revision
        assert await first.service.follow_store() and not await first.service.follow_store()
        assert first.service.retriever.version_dir.name == second.service.retriever.version_dir.name


async def test_a_version_another_process_wrote_to_the_index_folder_is_picked_up(tmp_path: Path,
                                                                               corpus_dir: Path) -> None:
    index_dir = tmp_path / "index"
    service = await open_service(corpus_dir, index_dir, "", embedder=HashingEmbedder())
    try:
        held = service.retriever
        assert not await service.follow_store() and service.retriever is held  # nothing new: nothing reopened
        (corpus_dir / "llamas.txt").write_text(LLAMAS, encoding="utf-8")
        await asyncio.to_thread(build_index, corpus_dir, index_dir, HashingEmbedder())  # `newsbot index` elsewhere
        running = asyncio.create_task(service.answer(LLAMA_QUESTION, 1))  # asked before the check: the old version
        assert await service.follow_store()
        assert "Eleven llamas" not in str((await running).hits)
        assert "Eleven llamas" in (await service.answer(LLAMA_QUESTION, 1)).hits[0].text
        assert service.retriever.version_dir.name == current_revision(service.store, index_dir)
    finally:
        service.close()


async def test_a_check_skips_while_a_build_runs_and_the_build_swaps_in_the_newest(tmp_path: Path,
                                                                                 corpus_dir: Path) -> None:
    service = await open_service(corpus_dir, tmp_path / "index", "", embedder=HashingEmbedder())
    try:
        (corpus_dir / "llamas.txt").write_text(LLAMAS, encoding="utf-8")
        build = asyncio.create_task(service.reindex(Progress()))
        await asyncio.sleep(0)  # the build has claimed the builder
        assert not await service.follow_store()
        report = await build
        assert service.retriever.version_dir == report.version
        assert not await service.follow_store()  # the build's version is the current one: nothing to swap
    finally:
        service.close()


async def test_a_slow_store_check_does_not_hold_up_a_reindex(tmp_path: Path, corpus_dir: Path) -> None:
    service = await open_service(corpus_dir, tmp_path / "index", "", embedder=HashingEmbedder())
    entered, released, calls = threading.Event(), threading.Event(), []
    open_if_newer = service._open_if_newer

    def slow_open_if_newer(current: object) -> object:  # the check's call: a Milvus server loading for seconds
        calls.append(current)
        if len(calls) == 1:
            entered.set()
            released.wait(30)
        return open_if_newer(current)

    service._open_if_newer = slow_open_if_newer  # type: ignore[method-assign]
    try:
        (corpus_dir / "llamas.txt").write_text(LLAMAS, encoding="utf-8")
        check = asyncio.create_task(service.follow_store())
        assert await asyncio.to_thread(entered.wait, 10)  # the check is under way, and stuck
        report = await asyncio.wait_for(service.reindex(Progress()), timeout=20)
        assert not check.done() and service.retriever.version_dir == report.version
        assert "Eleven llamas" in (await service.answer(LLAMA_QUESTION, 1)).hits[0].text
        released.set()
        assert not await check  # the build's version is current already: nothing to swap
    finally:
        released.set()
        service.close()


@needs_milvus
async def test_a_failed_publish_keeps_the_old_version_and_tells_the_admin_plainly(
        tmp_path: Path, corpus_dir: Path, reliability: Record) -> None:
    async with in_process_bot(tmp_path, corpus_dir, NEWSBOT_STORE=lite(tmp_path)) as bot:
        service = bot.service
        held, stored = service.retriever, service.store
        service.store = unreachable_milvus()  # Milvus goes down
        assert await outcome(bot, "/reindex force") == f"❌ {texts.REBUILDING} failed: {PUBLISH_FAILED}.\n\nI keep answering from the previous index."
        (corpus_dir / "llamas.txt").write_text(LLAMAS, encoding="utf-8")
        files = sorted(corpus_dir.rglob("*.txt"))
        refused = await outcome(bot, f"/add {LLAMAS.replace('Eleven', 'Twelve')}")
        assert refused.startswith(f"❌ {texts.ADDING} failed: {PUBLISH_FAILED}")
        assert sorted(corpus_dir.rglob("*.txt")) == files  # the article is not kept: the admin sends it again
        assert service.retriever is held and not service.building
        assert "zebras" in (await bot.say("How many zebras escaped from the zoo?"))[0].text
        service.store = stored  # Milvus is back: the next build publishes
        assert "I now answer from it" in await outcome(bot, "/reindex")
        assert service.retriever.version_dir.name == current_revision(stored, tmp_path) != held.version_dir.name
        assert "Eleven llamas" in (await bot.say(LLAMA_QUESTION))[0].text
    reliability("Index faults", "Milvus unreachable when /reindex and /add publish their build", 2,
                "the admin is told the build was not stored and to send it again; the old version answers; "
                "the next /reindex publishes")


async def test_a_store_that_cannot_be_read_is_logged_once_per_outage_and_the_old_version_serves(
        tmp_path: Path, corpus_dir: Path, caplog: pytest.LogCaptureFixture, reliability: Record) -> None:
    service = await open_service(corpus_dir, tmp_path / "index", "", embedder=HashingEmbedder())
    try:
        held, follower = service.retriever, StoreFollower(service)
        service.store = unreachable_milvus()
        with caplog.at_level(logging.INFO, logger="newsbot.bot.following"):
            assert [await follower.check() for _ in range(3)] == [False] * 3
            service.store = parse_store("")  # reachable again
            assert not await follower.check()
        lines = [record.getMessage() for record in caplog.records]
        assert len([line for line in lines if "cannot read the current index version" in line]) == 1
        assert "cannot be read again" not in lines[-1] and "can be read again" in lines[-1]
        assert service.retriever is held and (await service.answer("zebras", 1)).question == "zebras"
    finally:
        service.close()
    reliability("Index faults", "the store a serving replica checks for new versions cannot be reached", 3,
                "logged once for the outage and once when it ends; the version in hand answers throughout")


class RecordingService:
    """Counts the feed polls a schedule runs."""

    def __init__(self) -> None:
        self.polls = 0

    async def poll_feeds(self, interval: timedelta) -> list[object]:
        self.polls += 1
        return []


async def test_a_feed_poll_is_skipped_while_another_replica_holds_the_build_lock(tmp_path: Path, corpus_dir: Path,
                                                                                 redis_url: str) -> None:
    async with in_process_bot(tmp_path, corpus_dir, NEWSBOT_REDIS_URL=redis_url) as bot:
        shared = SharedState(redis_url, TOKEN.partition(":")[0])
        service = RecordingService()
        schedule_feed_polls(bot.app, service, timedelta(minutes=15), SharedLocks(shared))  # type: ignore[arg-type]
        [job] = [job for job in bot.app.job_queue.jobs() if job.name == "feed poll"]
        other = SharedState(redis_url, TOKEN.partition(":")[0])  # another replica, building
        async with SharedLocks(other).held(BUILD) as held:
            assert held
            await job.callback(None)  # type: ignore[arg-type]
            assert service.polls == 0
        await job.callback(None)  # type: ignore[arg-type]
        assert service.polls == 1
        async with SharedLocks(other).held(BUILD) as held:
            assert held  # the poll released the lock when it was done
        await other.close()
        await shared.close()


def test_newsbot_index_says_in_one_line_that_milvus_did_not_take_its_build(
        tmp_path: Path, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NEWSBOT_STORE", unreachable_milvus().uri)
    assert main(["index", "--model", "hashing", "--corpus-dir", str(corpus_dir), "--index-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"newsbot: {PUBLISH_FAILED}"
