"""Follow-up questions in the bot and the console: each conversation's recent questions are kept, expire,
are cleared by /new, are kept per user in groups, and reach the retriever (fake embedder: the keeping is
the point; retrieval/history.py's rule is tested in test_history.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import newsbot.bot.history
from newsbot.bot.cli import main
from newsbot.bot.console import chat
from newsbot.bot.history import HISTORY_QUESTIONS, QUIET_SECONDS, History, history_of
from newsbot.retrieval import Answer
from tests.bot_harness import GROUP, USER, Harness
from tests.fake_bot_api import BOT_USERNAME, visible_text

ASKED = "How many zebras escaped from the zoo?"
FOLLOW_UP = "Where were they found?"  # alone its evidence is too weak to answer (the fake embedder's scores)
NOT_FOUND = "I found nothing in my articles"
OTHER_USER = 3


def _answered(replies: list) -> bool:
    [reply] = replies
    return "Keepers found the zebras" in visible_text(reply.text)


async def test_a_follow_up_is_answered_after_the_question_before_and_not_after_new(bot: Harness) -> None:
    assert not _answered(await bot.say(FOLLOW_UP))  # alone it means nothing
    await bot.say(ASKED)
    assert _answered(await bot.say(FOLLOW_UP))
    [cleared] = await bot.say("/new")
    assert "forgotten your earlier questions" in cleared.text
    [alone] = await bot.say(FOLLOW_UP)
    assert visible_text(alone.text).startswith(NOT_FOUND)


async def test_a_new_topic_is_answered_as_in_a_fresh_chat(bot: Harness) -> None:
    question = "Russia and China vetoed a previous European attempt"
    [fresh] = await bot.say(question, chat_id=OTHER_USER)
    await bot.say(ASKED)
    [after_zebras] = await bot.say(question)
    assert after_zebras.text == fresh.text and "Russia and China vetoed" in fresh.text


async def test_the_history_expires_after_a_quiet_period(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(newsbot.bot.history, "now", lambda: clock[0])
    await bot.say(ASKED)
    clock[0] += QUIET_SECONDS - 1
    assert _answered(await bot.say(FOLLOW_UP))  # still within the quiet period, which the follow-up restarts
    clock[0] += QUIET_SECONDS + 1
    [expired] = await bot.say(FOLLOW_UP)
    assert visible_text(expired.text).startswith(NOT_FOUND)


async def test_in_a_group_each_user_has_a_history_of_their_own(bot: Harness) -> None:
    def say(text: str, user: int) -> object:
        return bot.say(f"@{BOT_USERNAME} {text}", chat_id=GROUP, user_id=user, chat_type="group")

    await say(ASKED, USER)
    [other] = await say(FOLLOW_UP, OTHER_USER)  # the other user asked nothing before
    assert visible_text(other.text).startswith(NOT_FOUND)
    assert _answered(await say(FOLLOW_UP, USER))
    [cleared] = await bot.say(f"/new@{BOT_USERNAME}", chat_id=GROUP, user_id=OTHER_USER, chat_type="group")
    assert "forgotten" in cleared.text
    assert _answered(await say(FOLLOW_UP, USER))  # one user's /new leaves the others' histories
    await bot.say(f"/new@{BOT_USERNAME}", chat_id=GROUP, user_id=USER, chat_type="group")
    [alone] = await say(FOLLOW_UP, USER)
    assert visible_text(alone.text).startswith(NOT_FOUND)


async def test_more_continues_the_follow_up_in_its_context(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, tuple[str, ...]]] = []
    answer = bot.service.answer

    async def spy(question: str, k: int, history: tuple[str, ...] = ()) -> Answer:
        seen.append((question, tuple(history)))
        return await answer(question, k, history)

    monkeypatch.setattr(bot.service, "answer", spy)
    await bot.say(ASKED)
    await bot.say(FOLLOW_UP)
    await bot.say("/new")  # forgets the history for the next question, not the context /more was asked in
    await bot.say("/more")
    assert seen == [(ASKED, ()), (FOLLOW_UP, (ASKED,)), (FOLLOW_UP, (ASKED,))]


def test_a_history_keeps_the_last_few_questions_and_users_separately(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(newsbot.bot.history, "now", lambda: clock[0])
    history = History()
    for n in range(HISTORY_QUESTIONS + 2):
        history.add(f"question {n}?")
    assert history.earlier() == tuple(f"question {n}?" for n in range(2, HISTORY_QUESTIONS + 2))
    clock[0] += QUIET_SECONDS + 1
    history.add("a new start?")
    assert history.earlier() == ("a new start?",)  # an expired history is not continued
    chat_data: dict = {}
    history_of(chat_data, 1).add("one?")
    assert history_of(chat_data, 1).earlier() == ("one?",) and history_of(chat_data, 2).earlier() == ()
    assert history_of(None, 1).earlier() == () and history_of(chat_data, None).earlier() == ()


def test_the_console_keeps_the_session_history_until_new() -> None:
    asked: list[tuple[str, tuple[str, ...]]] = []

    def ask(question: str, k: int, history: tuple[str, ...]) -> Answer:
        asked.append((question, history))
        return Answer(question, False, (), "nothing found")

    out = io.StringIO()
    chat(ask, stdin=io.StringIO(f"{ASKED}\nhi!\n{FOLLOW_UP}\nmore\nnew\n{FOLLOW_UP}\nquit\n"), stdout=out)
    assert asked == [(ASKED, ()), (FOLLOW_UP, (ASKED,)), (FOLLOW_UP, (ASKED,)), (FOLLOW_UP, ())]  # small talk is no question
    assert "forgotten your earlier questions" in out.getvalue()


def test_ask_after_earlier_questions(corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dirs = ["--corpus-dir", str(corpus_dir), "--index-dir", str(tmp_path / "idx"), "--model", "hashing"]
    (corpus_dir / "zebras.txt").write_text("title: Zebras\n\nSeven zebras escaped from the city zoo on Tuesday.\n",
                                           encoding="utf-8")
    assert main(["ask", *dirs, FOLLOW_UP]) == 0
    assert NOT_FOUND in capsys.readouterr().out
    assert main(["ask", *dirs, FOLLOW_UP, "--after", "What is the capital of France?", "--after", ASKED]) == 0
    assert "1. Seven zebras escaped" in capsys.readouterr().out


async def test_an_edited_follow_up_is_asked_in_the_context_of_the_question_it_replaces(bot: Harness) -> None:
    await bot.say(ASKED)
    sent = bot.telegram.push_text(USER, "Where were the okapis?")
    await bot.deliver()
    [edited] = await bot.edit(sent, FOLLOW_UP)
    assert edited.method == "editMessageText" and "Keepers found the zebras" in visible_text(edited.text)
    conversation = history_of(bot.app.chat_data[USER], USER)
    assert conversation.earlier() == (ASKED, FOLLOW_UP)  # the edit took the place of what the message said
