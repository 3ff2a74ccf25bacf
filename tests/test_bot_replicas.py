"""Two replicas of one bot (in process, over one corpus each, one Redis between them): what a user is
allowed, which replica answers an update, and /stats hold across them. Updates come from one Telegram
(the first harness's fake numbers them); each replica's replies go to its own fake."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from telegram import Update

from newsbot.bot import texts
from newsbot.bot.journal import UpdateJournal
from newsbot.bot.locks import BUILD, SharedLocks
from newsbot.bot.replica_stats import Figures, figures_of
from newsbot.bot.replicas import WEBHOOK, Replica
from newsbot.bot.shared import SharedState
from newsbot.bot.shared_journal import SharedJournal
from tests.bot_harness import ADMIN, USER, Harness, in_process_bot
from tests.fake_bot_api import TOKEN, Call
from tests.local_services import free_port
from tests.reliability import Record

BOT_ID = TOKEN.partition(":")[0]


def replica_in(redis_url: str, folder: Path) -> dict[str, Any]:
    """What `serve` gives a replica: its presence in the shared Redis and its journal there."""
    folder.mkdir(parents=True, exist_ok=True)
    state = SharedState(redis_url, BOT_ID)
    replica = Replica(state, WEBHOOK)
    return {"replica": replica, "journal": SharedJournal(state, replica, UpdateJournal(folder / "journal.jsonl"))}


async def ask(telegram: Harness, replica: Harness, text: str, chat_id: int = USER) -> list[Call]:
    """`text` from Telegram's side of `telegram`, delivered to `replica`; what the replica sent to the chat."""
    before = len(replica.telegram.sent(chat_id))
    telegram.telegram.push_text(chat_id, text)
    for data in telegram.telegram.pop_updates():
        await replica.app.process_update(Update.de_json(data, replica.app.bot))
    return replica.telegram.sent(chat_id)[before:]


async def test_a_users_rate_limit_is_one_across_two_replicas(tmp_path: Path, corpus_dir: Path,
                                                              redis_url: str) -> None:
    second_corpus = tmp_path / "corpus2"  # the replica's own copy; in_process_bot adds the zebra article
    second_corpus.mkdir()
    async with (in_process_bot(tmp_path / "a", corpus_dir, NEWSBOT_RATE_LIMIT_QUESTIONS="2",
                               NEWSBOT_REDIS_URL=redis_url) as first,
                in_process_bot(tmp_path / "b", second_corpus, NEWSBOT_RATE_LIMIT_QUESTIONS="2",
                               NEWSBOT_REDIS_URL=redis_url) as second):
        assert "zebras" in (await ask(first, first, "How many zebras escaped from the zoo?"))[0].text
        assert "zebras" in (await ask(first, second, "How many zebras escaped from the zoo?"))[0].text
        [refused] = await ask(first, first, "park?")  # the third request, whichever replica it reaches
        assert "my limit of 2 messages a minute for each person" in refused.text
        assert await ask(first, second, "park?") == []  # told once across the replicas, then ignored
        [other] = await ask(first, second, "How many zebras escaped from the zoo?", chat_id=3)
        assert "zebras" in other.text


async def test_an_update_delivered_to_two_replicas_at_once_is_answered_once(tmp_path: Path, corpus_dir: Path,
                                                                            redis_url: str) -> None:
    second_corpus = tmp_path / "corpus2"
    second_corpus.mkdir()
    async with (in_process_bot(tmp_path / "a", corpus_dir, NEWSBOT_REDIS_URL=redis_url,
                               **replica_in(redis_url, tmp_path / "a")) as first,
                in_process_bot(tmp_path / "b", second_corpus, NEWSBOT_REDIS_URL=redis_url,
                               **replica_in(redis_url, tmp_path / "b")) as second):
        users = range(10, 20)
        for user in users:
            first.telegram.push_text(user, "How many zebras escaped from the zoo?")
        updates = first.telegram.pop_updates()
        both = [(first, second), (second, first)]  # which replica starts first alternates
        await asyncio.gather(*(replica.app.process_update(Update.de_json(data, replica.app.bot))
                               for n, data in enumerate(updates) for replica in both[n % 2]))
        answers = [first.telegram.sent(user) + second.telegram.sent(user) for user in users]
        assert all(len(sent) == 1 and "zebras" in sent[0].text for sent in answers)
        assert first.telegram.sent() and second.telegram.sent()  # both replicas won some of the races
        again = Update.de_json(updates[0], second.app.bot)  # a late redelivery of one already answered
        await second.app.process_update(again)
        assert len(first.telegram.sent() + second.telegram.sent()) == len(users)


async def test_reindex_is_refused_while_another_replica_builds(tmp_path: Path, corpus_dir: Path,
                                                               redis_url: str) -> None:
    async with in_process_bot(tmp_path, corpus_dir, NEWSBOT_REDIS_URL=redis_url) as replica:
        other = SharedState(redis_url, TOKEN.partition(":")[0])  # another replica of the same bot
        async with SharedLocks(other).held(BUILD) as held:
            assert held
            [refused] = await replica.say("/reindex", chat_id=ADMIN)
            assert refused.text == texts.BUILD_RUNNING_MEANWHILE
        [started, *_] = await replica.say("/reindex", chat_id=ADMIN)  # once it is done
        assert texts.REBUILDING in started.text
        await other.close()


async def test_stats_adds_up_the_answers_of_the_replicas_alive(tmp_path: Path, corpus_dir: Path,
                                                                redis_url: str) -> None:
    second_corpus = tmp_path / "corpus2"
    second_corpus.mkdir()
    a, b = replica_in(redis_url, tmp_path / "a"), replica_in(redis_url, tmp_path / "b")
    async with (in_process_bot(tmp_path / "a", corpus_dir, NEWSBOT_REDIS_URL=redis_url, **a) as first,
                in_process_bot(tmp_path / "b", second_corpus, NEWSBOT_REDIS_URL=redis_url, **b) as second):
        [alone] = await ask(first, first, "/stats", chat_id=ADMIN)
        assert "Questions answered: 0" in alone.text and "Replicas serving: 1" in alone.text
        for replica, asked in ((first, 2), (second, 3)):
            for user in range(asked):
                [answer] = await ask(first, replica, "How many zebras escaped from the zoo?", chat_id=30 + user)
                assert "zebras" in answer.text
        await a["replica"].renew(figures_of(first.service))
        await b["replica"].renew(figures_of(second.service))  # what serve does every third of a lease
        [stats] = await ask(first, first, "/stats", chat_id=ADMIN)
        assert "Questions answered: 5" in stats.text and "Replicas serving: 2" in stats.text
        assert f"Sentences: {first.service.stats().sentences:,}" in stats.text  # one index: not summed
        latencies = sorted(first.service.answer_times() + second.service.answer_times())
        assert f"p99 {latencies[-1] * 1000:.0f} ms" in stats.text  # over both replicas' answers
        await b["replica"].leave()  # the second replica stops
        [after] = await ask(first, first, "/stats", chat_id=ADMIN)
        assert "Questions answered: 2" in after.text and "Replicas serving: 1" in after.text
        killed = Replica(SharedState(redis_url, BOT_ID), WEBHOOK, lease_seconds=1.0)
        await killed.renew(Figures(7, (0.5,)))  # a third replica, killed at once: its figures expire
        [three] = await ask(first, first, "/stats", chat_id=ADMIN)
        assert "Questions answered: 9" in three.text and "Replicas serving: 2" in three.text
        await asyncio.sleep(1.2)
        [gone] = await ask(first, first, "/stats", chat_id=ADMIN)
        assert "Questions answered: 2" in gone.text and "Replicas serving: 1" in gone.text


async def test_without_redis_stats_shows_this_replicas_figures_and_questions_are_still_answered(
        tmp_path: Path, corpus_dir: Path, reliability: Record) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    parts = replica_in(unreachable, tmp_path / "a")
    async with in_process_bot(tmp_path, corpus_dir, NEWSBOT_REDIS_URL=unreachable, **parts) as replica:
        data = replica.telegram.push_text(USER, "How many zebras escaped from the zoo?")
        assert await parts["journal"].received(replica.telegram.pop_updates()) == [data]  # as served
        await replica.app.process_update(Update.de_json(data, replica.app.bot))
        assert "zebras" in replica.telegram.sent(USER)[-1].text
        [stats] = await replica.say("/stats", chat_id=ADMIN)
        assert "Questions answered: 1" in stats.text and "Replicas serving" not in stats.text
    assert UpdateJournal(tmp_path / "a" / "journal.jsonl").is_done(data["update_id"])  # kept in its file meanwhile
    reliability("Consistency", "Redis unreachable when a question and /stats arrive at a replica", 2,
                "the question journalled in the replica's file and answered; /stats showed the replica's own figures")
