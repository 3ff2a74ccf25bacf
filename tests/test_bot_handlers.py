"""In-process tests of every command and message path: the real Application and handlers, the
Bot API replaced by FakeRequest (no sockets), the fake embedder (the model is not the point)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from telegram import Update

import newsbot.bot.progress
from newsbot.bot.small_talk import FOREIGN, GOODBYE, GREETING, OKAY, THANKS
from newsbot.bot.texts import ADMIN_ONLY, ASK_FIRST, HOW_TO_ADD, ONLY_TEXT, SMALL_TALK, SORRY, progress_text
from newsbot.index.build import EMBEDDING, INDEXING, READING
from newsbot.index.hashing_embedder import HashingEmbedder
from tests.bot_harness import ADMIN, GROUP, USER, Harness, in_process_bot
from tests.fake_bot_api import BOT_USERNAME, TOKEN, visible_text
from tests.reliability import Record


class GatedEmbedder(HashingEmbedder):
    """The fake embedder, but a build (encoding more than one text) waits for `gate`: lets a test
    ask questions while a rebuild is provably still running."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.build_waiting = threading.Event()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) > 1:
            self.build_waiting.set()
            self.gate.wait(timeout=30)
        return super().encode(texts)


# --- users ---

async def test_start_greets_someone_new_with_what_the_bot_is_and_one_question_to_try(bot: Harness) -> None:
    [reply] = await bot.say("/start")
    shown = visible_text(reply.text)
    assert shown.startswith("Hello! I answer questions about the news from the 2 articles I have read")
    assert "Try: How many people have died?" in shown and "/help" in shown
    assert "/sources" not in shown and len(shown) < 300  # a greeting, not the reference


async def test_help_is_the_reference_what_the_bot_knows_how_to_ask_and_the_commands(bot: Harness) -> None:
    [reply] = await bot.say("/help")
    shown = visible_text(reply.text)
    assert "2 news articles, from 25 Jan 2012 to 1 May 2024" in shown and "in English" in shown
    assert "How many people have died?" in shown and all(c in shown for c in ("/more", "/sources", "/help"))
    assert not shown.startswith("Hello") and "/reindex" not in shown  # admin commands are shown to admins only
    [reply] = await bot.say("/help", chat_id=ADMIN)
    assert "/reindex" in visible_text(reply.text)


async def test_a_question_is_answered_with_cited_escaped_html(bot: Harness) -> None:
    [reply] = await bot.say("How many zebras escaped from the zoo?")
    assert reply.params["parse_mode"] == "HTML"  # accepted as HTML: no plain-text fallback was needed
    shown = visible_text(reply.text)
    assert shown.startswith("Answer: Seven zebras (Daily \"Planet\", 1 May 2024)\n\n1. Seven zebras escaped from the city zoo on Tuesday.")
    assert "<b>1. </b><b>Seven zebras</b> escaped" in reply.text  # the answering words in bold
    assert 'Zebras <b>escape</b> & roam — Daily "Planet", 1 May 2024' in shown  # escaped, so shown literally
    assert "&lt;b&gt;escape&lt;/b&gt; &amp; roam" in reply.text
    assert 'href="https://example.com/zebras?a=1&amp;b=2"' in reply.text
    assert reply.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "More results"


async def test_typing_is_shown_only_while_an_answer_is_slow(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsbot.bot.replies.TYPING_AFTER", 60.0)
    await bot.say("How many zebras escaped from the zoo?")
    assert not bot.telegram.sent(USER, "sendChatAction")  # answered well within the delay: no indicator

    monkeypatch.setattr("newsbot.bot.replies.TYPING_AFTER", 0.05)
    quick = bot.service.answer

    async def slow(question: str, k: int, history: tuple[str, ...] = ()) -> object:
        await asyncio.sleep(0.5)
        return await quick(question, k)

    monkeypatch.setattr(bot.service, "answer", slow)
    [reply] = await bot.say("How many zebras escaped from the zoo?")
    assert bot.telegram.sent(USER, "sendChatAction")[0].params["action"] == "typing"
    assert visible_text(reply.text).startswith("Answer: Seven zebras")


async def test_weak_evidence_gets_a_plain_not_found_instead_of_a_guess(bot: Harness) -> None:
    [reply] = await bot.say("qwertyuiop asdfghjkl")
    shown = visible_text(reply.text)
    assert shown.startswith("I found nothing in my articles that answers that.")
    assert "reply_markup" not in reply.params


async def test_more_results_by_button_and_by_command_continue_the_numbering(
        tmp_path: Path, corpus_dir: Path) -> None:
    herd = " ".join(f"Zebra number {n} ran across the plain." for n in range(1, 9))
    (corpus_dir / "herd.txt").write_text(f"title: The herd\n\n{herd}\n", encoding="utf-8")
    async with in_process_bot(tmp_path, corpus_dir) as harness:
        question = harness.telegram.push_text(USER, "zebra number ran across the plain")["message"]
        await harness.deliver()
        [first] = harness.telegram.sent(USER)
        assert "3. " in first.text and "4. " not in first.text
        [[button], ratings] = first.params["reply_markup"]["inline_keyboard"]
        assert button["callback_data"] == f"more:{question['message_id']}"
        assert [b["callback_data"] for b in ratings] == [f"fb:{question['message_id']}:1:+", f"fb:{question['message_id']}:1:-"]
        harness.telegram.push_callback(USER, button["callback_data"], message_id=question["message_id"] + 1)
        await harness.deliver()
        assert harness.telegram.sent(method="answerCallbackQuery")
        second = harness.telegram.sent(USER)[-1]
        assert "4. " in second.text and "6. " in second.text and "1. " not in second.text
        [third] = await harness.say("/more")
        assert "7. " in third.text
        while "More results" in str(harness.telegram.sent(USER)[-1].params.get("reply_markup")):
            await harness.say("/more")
        [last] = await harness.say("/more")
        assert last.text == "That's all I found for this question."


async def test_more_without_a_question_explains_itself(bot: Harness) -> None:
    [reply] = await bot.say("/more")
    assert "Ask me a question first" in reply.text


async def test_sources_lists_articles_in_pages(tmp_path: Path, corpus_dir: Path) -> None:
    for number in range(20):
        (corpus_dir / f"extra-{number:02}.txt").write_text(
            f"title: Extra story {number:02}\nsource: Wire\ndate: 2023-01-{number + 1:02}\n\n"
            f"Story {number:02} has a sentence here.\n",  # each its own story (the same text would be one)
            encoding="utf-8")
    async with in_process_bot(tmp_path, corpus_dir) as harness:
        [page_one] = await harness.say("/sources")
        shown = visible_text(page_one.text)
        assert shown.startswith("Articles 1–15 of 22")
        assert "Zebras <b>escape</b> & roam" in shown  # newest first, escaped
        [[next_button]] = page_one.params["reply_markup"]["inline_keyboard"]
        assert next_button["callback_data"] == "src:2"
        harness.telegram.push_callback(USER, "src:2", message_id=5)
        await harness.deliver()
        [edit] = harness.telegram.sent(USER, "editMessageText")
        assert visible_text(edit.text).startswith("Articles 16–22 of 22")
        [later] = await harness.say("/sources 2")
        assert visible_text(later.text).startswith("Articles 16–22 of 22")
        [beyond] = await harness.say("/sources 7")
        assert visible_text(beyond.text) == "There is no page 7: my 22 articles fill pages 1 to 2."
        [superscript] = await harness.say("/sources ²")  # a digit to str.isdigit, not to int()
        assert visible_text(superscript.text).startswith("Articles 1–15 of 22")


async def test_non_text_messages_and_unknown_commands_get_a_polite_pointer(bot: Harness) -> None:
    bot.telegram.push_document(USER, "photo.jpg", b"\xff\xd8", caption="")
    await bot.deliver()
    assert bot.telegram.sent(USER)[-1].text == ONLY_TEXT
    [reply] = await bot.say("/frobnicate")
    assert "/help" in reply.text


async def test_in_groups_only_mentions_replies_and_commands_are_answered(bot: Harness) -> None:
    assert await bot.say("zebras escaped from the zoo", chat_id=GROUP, user_id=USER, chat_type="group") == []
    [mentioned] = await bot.say(f"@{BOT_USERNAME} how many zebras escaped from the zoo?", chat_id=GROUP, user_id=USER,
                                chat_type="group")
    assert "escaped from the city zoo" in mentioned.text and "Answer: <b>Seven zebras</b>" in mentioned.text
    assert mentioned.params["reply_parameters"]["message_id"] > 0  # quotes the question it answers
    [replied] = await bot.say("and the zebras?", chat_id=GROUP, user_id=USER, chat_type="group", reply_to_bot=True)
    assert "zebras escaped" in replied.text
    [command] = await bot.say(f"/help@{BOT_USERNAME}", chat_id=GROUP, user_id=USER, chat_type="group")
    assert "What I know:" in visible_text(command.text)
    assert await bot.say("/frobnicate", chat_id=GROUP, user_id=USER, chat_type="group") == []


async def test_a_long_answer_is_split_under_telegrams_limit_at_sentence_boundaries(
        tmp_path: Path, corpus_dir: Path) -> None:
    def sentence(number: int) -> str:  # ~2,700 UTF-16 units, emoji counting two each
        return f"Walrus council report {number} 🦭 " + "and they argued about herring quotas " * 70 + "until dawn."

    body = "\n\n".join(sentence(n) for n in range(3))
    (corpus_dir / "walrus.txt").write_text(f"title: Walrus council\n\n{body}\n", encoding="utf-8")
    async with in_process_bot(tmp_path, corpus_dir) as harness:
        replies = await harness.say("Walrus council report: they argued about herring quotas until dawn")
        assert len(replies) >= 2  # the fake Bot API rejects any message over 4096 UTF-16 units
        assert all(r.params["parse_mode"] == "HTML" for r in replies)
        shown = [visible_text(r.text) for r in replies]
        assert all(text.rstrip().endswith(("dawn.", "Walrus council")) for text in shown)  # whole answers
        assert sum(text.count("Walrus council report") for text in shown) == 3
        assert "reply_markup" in replies[-1].params and "reply_markup" not in replies[0].params


async def test_telegram_rejecting_the_html_gets_the_same_reply_as_plain_text(bot: Harness) -> None:
    bot.telegram.fail_next("sendMessage", "400")
    [reply] = await bot.say("How many zebras escaped from the zoo?")
    assert "parse_mode" not in reply.params
    assert reply.text.startswith("Answer: Seven zebras (Daily \"Planet\", 1 May 2024)\n\n1. Seven zebras escaped from the city zoo on Tuesday.")
    assert "<b>escape</b>" in reply.text  # plain text: the title exactly as written, no markup
    assert "https://example.com/zebras?a=1&b=2" in reply.text


async def test_rate_limit_refuses_a_burst_politely_once_without_slowing_others(tmp_path: Path,
                                                                               corpus_dir: Path) -> None:
    async with in_process_bot(tmp_path, corpus_dir, NEWSBOT_RATE_LIMIT_QUESTIONS="2") as harness:
        first = await harness.say("How many zebras escaped from the zoo?")
        second = await harness.say("/sources")
        [third] = await harness.say("park?")
        assert "zebras" in first[0].text and "Articles 1–2 of 2" in second[0].text  # commands count too
        assert "my limit of 2 messages a minute for each person" in third.text and "again in 30 s" in third.text
        assert await harness.say("park?") == [] and await harness.say("/help") == []  # told once, then ignored
        [other] = await harness.say("How many zebras escaped from the zoo?", chat_id=3)
        assert "zebras" in other.text and "my limit" not in other.text


async def test_admins_are_not_rate_limited(tmp_path: Path, corpus_dir: Path) -> None:
    """An admin adding a dozen articles in a minute is working, not flooding; a user at the same pace is limited."""
    async with in_process_bot(tmp_path, corpus_dir, NEWSBOT_RATE_LIMIT_QUESTIONS="1") as harness:
        admin_replies = [await harness.say("/stats", chat_id=ADMIN) for _ in range(5)]
        assert all(len(replies) == 1 and "Articles:" in replies[0].text for replies in admin_replies)
        user_replies = [await harness.say("/sources") for _ in range(3)]
        assert "Articles 1" in user_replies[0][0].text and "my limit of 1 message a minute" in user_replies[1][0].text
        assert user_replies[2] == []


async def test_questions_sent_back_to_back_are_answered_in_order(bot: Harness,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    quick = bot.service.answer

    async def first_is_slow(question: str, k: int, history: tuple[str, ...] = ()) -> object:
        if question.startswith("How many"):
            await asyncio.sleep(0.3)
        return await quick(question, k)

    monkeypatch.setattr(bot.service, "answer", first_is_slow)
    for question in ("How many zebras escaped from the zoo?", "qwertyuiop asdfghjkl",
                     "Lavrov said Russia is open to constructive proposals"):
        bot.telegram.push_text(USER, question)
    bot.telegram.push_text(3, "Lavrov Russia sanctions")
    updates = [Update.de_json(u, bot.app.bot) for u in bot.telegram.pop_updates()]
    await asyncio.gather(*(bot.app.process_update(u) for u in updates))
    replies = [visible_text(c.text) for c in bot.telegram.sent(USER)]
    assert len(replies) == 3, replies  # none turned away while an earlier one was being answered
    assert replies[0].startswith("Answer: Seven zebras") and replies[1].startswith("I found nothing")
    assert "Lavrov" in replies[2]
    assert bot.telegram.sent(3)[0].at < bot.telegram.sent(USER)[0].at  # another user does not wait for them


async def test_an_update_delivered_twice_is_answered_once(bot: Harness) -> None:
    bot.telegram.push_text(USER, "zebras?")
    [data] = bot.telegram.pop_updates()
    for _ in range(2):
        await bot.app.process_update(Update.de_json(data, bot.app.bot))
    assert len(bot.telegram.sent(USER)) == 1


async def test_a_failure_is_logged_and_the_user_sees_no_exception_text(
        bot: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(question: str, k: int, history: tuple[str, ...] = ()) -> None:
        raise RuntimeError("secret internals /srv/index")

    monkeypatch.setattr(bot.service, "answer", broken)
    [reply] = await bot.say("zebras?")
    assert reply.text == SORRY
    assert "secret internals" in caplog.text  # logged for the admin, with the traceback


async def test_telegram_faults_are_retried_and_the_answer_sent_once(bot: Harness) -> None:
    bot.telegram.fail_next("sendMessage", "drop")
    bot.telegram.fail_next("sendMessage", "500")
    replies = await bot.say("zebras?")
    assert [f for f in bot.telegram.faults_served if f[0] == "sendMessage"] == [("sendMessage", "drop"),
                                                                                   ("sendMessage", "500")]
    assert len(replies) == 1 and "Seven zebras" in replies[0].text


# --- admins ---

async def test_admin_commands_are_refused_and_logged_for_everyone_else(
        bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    for command in ("/reindex", "/add title: x\n\nA body.", "/stats"):
        [reply] = await bot.say(command, chat_id=USER)
        assert reply.text == ADMIN_ONLY
    assert caplog.text.count(f"from non-admin user id {USER}") == 3
    assert not (bot.service.corpus_dir / "added").exists()


async def test_no_admin_configured_means_no_admin_commands(tmp_path: Path, corpus_dir: Path) -> None:
    async with in_process_bot(tmp_path, corpus_dir, TELEGRAM_ADMIN_IDS="") as harness:
        [reply] = await harness.say("/stats", chat_id=ADMIN)
        assert reply.text == ADMIN_ONLY


async def test_stats_shows_the_figures(bot: Harness) -> None:
    await bot.say("zebras?")
    [reply] = await bot.say("/stats", chat_id=ADMIN)
    shown = visible_text(reply.text)
    assert "Articles: 2" in shown and "Model: hashing" in shown and "Questions answered: 1" in shown
    assert "p50 " in shown and "p99 " in shown and "Index built:" in shown


async def test_reindex_keeps_answering_from_the_old_index_then_swaps(tmp_path: Path, corpus_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(newsbot.bot.progress, "PROGRESS_EVERY", 0.05)
    embedder = GatedEmbedder()
    async with in_process_bot(tmp_path, corpus_dir, embedder) as harness:
        (corpus_dir / "otters.txt").write_text(
            "title: Otters open a bakery\n\nThe otters baked rye bread. Customers queued for the otter bread.\n",
            encoding="utf-8")
        embedder.gate.clear()
        harness.telegram.push_text(ADMIN, "/reindex")
        [update] = [Update.de_json(u, harness.app.bot) for u in harness.telegram.pop_updates()]
        rebuild = asyncio.create_task(harness.app.process_update(update))
        await asyncio.to_thread(embedder.build_waiting.wait, 10)
        assert harness.service.building
        during = await harness.say("otters bread bakery")  # answered from the old index meanwhile
        assert "found nothing" in during[0].text
        [refused] = await harness.say("/reindex", chat_id=ADMIN)
        assert "already running" in refused.text
        for _ in range(100):  # the status message follows the build while the embedder waits
            edits = [visible_text(c.text) for c in harness.telegram.sent(ADMIN, "editMessageText")]
            if edits:
                break
            await asyncio.sleep(0.05)
        assert edits and "0 of " in edits[-1] and "sentences and paragraphs embedded (0%)" in edits[-1]
        embedder.gate.set()
        await rebuild
        [status] = [c for c in harness.telegram.sent(ADMIN) if "Rebuilding the index" in c.text]
        final = harness.telegram.sent(ADMIN, "editMessageText")[-1]
        assert "Index rebuilt" in final.text and "3 articles" in final.text
        after = await harness.say("otters bread bakery")
        assert "otters baked rye bread" in after[0].text.lower() or "otter bread" in after[0].text


async def test_a_failed_reindex_reports_why_and_keeps_the_old_index(bot: Harness) -> None:
    for article in bot.service.corpus_dir.iterdir():
        article.unlink()
    await bot.say("/reindex", chat_id=ADMIN)
    final = bot.telegram.sent(ADMIN, "editMessageText")[-1]
    shown = visible_text(final.text)
    assert "failed: no article could be read" in shown and "previous index" in shown
    [answer] = await bot.say("zebras?")
    assert "Seven zebras" in answer.text


async def test_add_text_stores_and_indexes_an_article_answerable_at_once(bot: Harness) -> None:
    [before] = await bot.say("/sources")  # the article list is read once per index version...
    assert "of 2" in visible_text(before.text)
    await bot.say("/add title: Penguins elect a mayor\nsource: Ice Times\ndate: 2024-02-03\n\n"
                  "The penguins elected a mayor named Pip. Pip promised more fish for everyone.", chat_id=ADMIN)
    final = bot.telegram.sent(ADMIN, "editMessageText")[-1]
    assert "Added “Penguins elect a mayor”" in visible_text(final.text)
    assert (bot.service.corpus_dir / "added" / "2024-02-03-penguins-elect-a-mayor.txt").is_file()
    [answer] = await bot.say("which mayor did the penguins elect?")
    assert "penguins elected a mayor named Pip" in answer.text and "Ice Times" in answer.text
    [after] = await bot.say("/sources")  # ...and again for the new one
    assert "Articles 1–3 of 3" in visible_text(after.text) and "Penguins elect a mayor" in after.text


async def test_add_an_uploaded_txt_file(bot: Harness) -> None:
    bot.telegram.push_document(ADMIN, "Moose News.txt", b"title: Moose on the loose\n\nA moose visited the library."
, user_id=ADMIN)
    await bot.deliver()
    assert bot.telegram.sent(method="getFile")
    assert "Added “Moose on the loose” as added/moose-news.txt" in bot.telegram.sent(ADMIN, "editMessageText")[-1].text
    [answer] = await bot.say("moose library")
    assert "A moose visited the library." in answer.text


async def test_add_rejects_bad_input_politely_and_stores_nothing(bot: Harness) -> None:
    [how] = await bot.say("/add", chat_id=ADMIN)
    assert how.text == HOW_TO_ADD
    bot.telegram.push_document(ADMIN, "latin1.txt", "café".encode("latin-1"), user_id=ADMIN)
    await bot.deliver()
    assert bot.telegram.sent(ADMIN)[-1].text == "I could not read that file: it is not UTF-8 text."
    await bot.say("/add title: Only a title\n\n", chat_id=ADMIN)
    final = bot.telegram.sent(ADMIN, "editMessageText")[-1]
    assert "could not add that article" in final.text and "Nothing was stored" in final.text
    assert not any((bot.service.corpus_dir / "added").glob("*.txt"))


async def test_token_never_reaches_the_logs(bot: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot.telegram.fail_next("sendMessage", "500")
    await bot.say("zebras?")
    assert "retrying" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.partition(":")[2] not in caplog.text


def test_the_build_status_names_its_stage() -> None:
    assert progress_text("Rebuilding", READING, 1200, None) == "⏳ Rebuilding… reading the articles: 1,200 read"
    assert "2,500 of 10,000 sentences and paragraphs embedded (25%)" in progress_text("Adding", EMBEDDING, 2500, 10000)
    assert "search index: 10,000 of 10,000 vectors added (100%)" in progress_text("Adding", INDEXING, 10000, 10000)
    assert progress_text("Rebuilding", EMBEDDING, 0, 0) == "" and progress_text("Rebuilding", "", 0, None) == ""


# --- the chat as people use it ---

@pytest.mark.parametrize(("said", "expected"), [
    ("hi", SMALL_TALK[GREETING]), ("Hello there!", SMALL_TALK[GREETING]), ("thanks!", SMALL_TALK[THANKS]),
    ("Thank you so much", SMALL_TALK[THANKS]), ("ok", SMALL_TALK[OKAY]), ("bye!", SMALL_TALK[GOODBYE]),
    ("Сколько людей погибло в Сирии?", SMALL_TALK[FOREIGN]),
    ("كم عدد القتلى في سوريا؟", SMALL_TALK[FOREIGN]), ("Wie viele Menschen sind gestorben?", SMALL_TALK[FOREIGN])])
async def test_greetings_thanks_and_other_languages_get_a_persons_reply_not_nothing_found(
        bot: Harness, said: str, expected: str) -> None:
    [reply] = await bot.say(said)
    assert reply.text == expected and "found nothing" not in reply.text
    assert "reply_markup" not in reply.params
    [answer] = await bot.say("/more")
    assert answer.text == ASK_FIRST  # small talk is not remembered as a question


def test_the_small_talk_replies_read_as_a_person_would_say_them() -> None:
    assert SMALL_TALK[GREETING].startswith("Hello!") and "How many people have died?" in SMALL_TALK[GREETING]
    assert SMALL_TALK[THANKS].startswith("You're welcome")
    assert "only read questions in English" in SMALL_TALK[FOREIGN]


async def test_a_greeting_with_a_question_is_answered_as_the_question(bot: Harness) -> None:
    [reply] = await bot.say("hi, how many zebras escaped from the zoo?")
    assert "Seven zebras" in reply.text


async def test_an_edited_question_is_answered_in_the_earlier_reply(bot: Harness) -> None:
    sent = bot.telegram.push_text(USER, "qwertyuiop asdfghjkl")
    await bot.deliver()
    [first] = bot.telegram.sent(USER)
    [edited] = await bot.edit(sent, "How many zebras escaped from the zoo?")
    assert edited.method == "editMessageText" and int(edited.params["message_id"]) == first.result["message_id"]
    assert "Seven zebras" in edited.text and "Seven zebras" not in first.text
    [again] = await bot.edit(sent, "Keepers found the zebras grazing where?")  # edited twice: the same reply again
    assert again.method == "editMessageText" and int(again.params["message_id"]) == first.result["message_id"]
    assert "grazing in a park" in again.text
    [more] = await bot.say("/more")  # /more goes on from the edited question
    assert "grazing in a park" not in more.text


async def test_an_edit_arriving_while_the_first_reply_is_still_being_sent_edits_that_reply(bot: Harness) -> None:
    """The edit is handled while the original's answer is on its way: the reply to edit is known only
    once the original's turn is over (a typo fixed at once must not get a second reply)."""
    sent = bot.telegram.push_text(USER, "qwertyuiop asdfghjkl")
    bot.telegram.push_edit(sent, "How many zebras escaped from the zoo?")
    await asyncio.gather(*(bot.app.process_update(Update.de_json(data, bot.app.bot))
                           for data in bot.telegram.pop_updates()))
    [first] = bot.telegram.sent(USER)
    [edited] = bot.telegram.sent(USER, "editMessageText")
    assert int(edited.params["message_id"]) == first.result["message_id"] and "Seven zebras" in edited.text


async def test_a_question_edited_to_the_same_answer_leaves_the_reply_as_it_is(bot: Harness) -> None:
    sent = bot.telegram.push_text(USER, "How many zebras escaped from the zoo")
    await bot.deliver()
    [first] = bot.telegram.sent(USER)
    assert await bot.edit(sent, "How many zebras escaped from the zoo?") == []  # no new message
    assert "message is not modified" in bot.telegram.rejected[-1]  # Telegram said the answer was the same
    [edited] = await bot.edit(sent, "Keepers found the zebras grazing where?")  # and it is still the reply
    assert int(edited.params["message_id"]) == first.result["message_id"]


async def test_an_edited_question_whose_reply_cannot_be_edited_is_answered_anew(bot: Harness,
                                                                              reliability: Record) -> None:
    sent = bot.telegram.push_text(USER, "qwertyuiop asdfghjkl")
    await bot.deliver()
    bot.telegram.fail_next("editMessageText", "400", times=2)  # e.g. the reply was deleted
    [reply] = await bot.edit(sent, "How many zebras escaped from the zoo?")
    assert reply.method == "sendMessage" and "Seven zebras" in reply.text
    reliability("Telegram faults", "an edited question whose earlier reply Telegram refuses to edit (400, as for a "
                "deleted message), as HTML and as plain text", 1, "answered in a new reply")


async def test_an_edited_question_never_answered_before_gets_a_new_reply(bot: Harness) -> None:
    sent = bot.telegram.push_text(USER, "How many zebras escaped?")
    bot.telegram.pop_updates()  # the original never reached the bot
    [reply] = await bot.edit(sent, "How many zebras escaped from the zoo?")
    assert reply.method == "sendMessage" and "Seven zebras" in reply.text


async def test_an_edited_greeting_or_command_is_not_answered_as_a_question(bot: Harness) -> None:
    sent = bot.telegram.push_text(USER, "How many zebras escaped from the zoo?")
    await bot.deliver()
    assert [r.text for r in await bot.edit(sent, "thanks!")] == [SMALL_TALK[THANKS]]
    assert await bot.edit(sent, "/stats") == []


async def test_a_photo_or_file_with_a_question_as_its_caption_is_answered(bot: Harness) -> None:
    bot.telegram.push_document(USER, "photo.jpg", b"\xff\xd8", caption="How many zebras escaped from the zoo?")
    await bot.deliver()
    assert "Seven zebras" in bot.telegram.sent(USER)[-1].text
    bot.telegram.push_document(GROUP, "photo.jpg", b"\xff\xd8", caption=f"@{BOT_USERNAME} how many zebras escaped?",
                               user_id=USER, chat_type="group")
    await bot.deliver()
    assert "Seven zebras" in bot.telegram.sent(GROUP)[-1].text
    before = len(bot.telegram.sent(GROUP))
    bot.telegram.push_document(GROUP, "photo.jpg", b"\xff\xd8", caption="zebras escaped", user_id=USER,
                               chat_type="group")
    await bot.deliver()
    assert len(bot.telegram.sent(GROUP)) == before  # not addressed to the bot


async def test_an_add_upload_caption_is_still_the_admin_command(bot: Harness) -> None:
    bot.telegram.push_document(USER, "a.txt", b"title: Walrus\n\nWalruses sing.", caption="/add")
    await bot.deliver()
    assert bot.telegram.sent(USER)[-1].text == ADMIN_ONLY
    bot.telegram.push_document(ADMIN, "a.txt", b"title: Walrus\n\nWalruses sing at dawn.", caption="/add")
    await bot.deliver()
    assert "Added" in bot.telegram.sent(ADMIN, "editMessageText")[-1].text
