"""Two replicas of one bot (in process, over one corpus each, one Redis between them): what a user is
allowed, and which replica answers an update, hold across them."""

from __future__ import annotations

from pathlib import Path

from tests.bot_harness import in_process_bot


async def test_a_users_rate_limit_is_one_across_two_replicas(tmp_path: Path, corpus_dir: Path,
                                                              redis_url: str) -> None:
    second_corpus = tmp_path / "corpus2"  # the replica's own copy; in_process_bot adds the zebra article
    second_corpus.mkdir()
    async with (in_process_bot(tmp_path / "a", corpus_dir, NEWSBOT_RATE_LIMIT_QUESTIONS="2",
                               NEWSBOT_REDIS_URL=redis_url) as first,
                in_process_bot(tmp_path / "b", second_corpus, NEWSBOT_RATE_LIMIT_QUESTIONS="2",
                               NEWSBOT_REDIS_URL=redis_url) as second):
        assert "zebras" in (await first.say("How many zebras escaped from the zoo?"))[0].text
        assert "zebras" in (await second.say("How many zebras escaped from the zoo?"))[0].text
        [refused] = await first.say("park?")  # the third request, whichever replica it reaches
        assert "my limit of 2 messages a minute for each person" in refused.text
        assert await second.say("park?") == []  # told once across the replicas, then ignored
        [other] = await second.say("How many zebras escaped from the zoo?", chat_id=3)
        assert "zebras" in other.text
