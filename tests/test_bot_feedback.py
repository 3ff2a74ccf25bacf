"""The "👍 Helpful" / "👎 Wrong answer" buttons: in-process through the real handlers (fake Bot API, fake
embedder), the store, its faults, and `newsbot feedback export` scored by `newsbot eval`."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsbot.bot import texts
from newsbot.bot.cli import main
from newsbot.bot.feedback import FEEDBACK_FILE, HELPFUL, WRONG, Feedback, FeedbackStore, FeedbackUnavailable, Shown, ShownSentence, hour
from newsbot.bot.feedback_export import evaluation_set, indexed_sentences
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.retrieval.evaluation.evaluate import evaluate, format_report
from newsbot.retrieval.evaluation.reqa import load_squad
from tests.bot_harness import GROUP, USER, Harness, in_process_bot
from tests.fake_bot_api import BOT_USERNAME, Call
from tests.reliability import Record

ZEBRAS = "How many zebras escaped from the zoo?"
PRIVATE_USER = 987_654_321  # distinctive, to look for it in the stored file


async def _ask(bot: Harness, question: str = ZEBRAS, chat_id: int = PRIVATE_USER, **kwargs: object) -> tuple[int, Call]:
    """Ask; the id of the question's message and the answer sent."""
    before = len(bot.telegram.sent(chat_id))
    update = bot.telegram.push_text(chat_id, question, **kwargs)
    await bot.deliver()
    [reply] = bot.telegram.sent(chat_id)[before:]
    return update["message"]["message_id"], reply


async def _tap(bot: Harness, data: str, chat_id: int = PRIVATE_USER, **kwargs: object) -> str | None:
    """Tap a button; the notice the bot answered the tap with."""
    before = len(bot.telegram.sent(method="answerCallbackQuery"))
    bot.telegram.push_callback(chat_id, data, message_id=1, **kwargs)
    await bot.deliver()
    [notice] = bot.telegram.sent(method="answerCallbackQuery")[before:]
    return notice.params.get("text")


def _store(bot: Harness) -> FeedbackStore:
    return FeedbackStore(bot.service.index_dir / FEEDBACK_FILE)


def _ratings(reply: Call) -> list[dict]:
    return reply.params["reply_markup"]["inline_keyboard"][-1]


async def test_an_answer_has_helpful_and_wrong_buttons_and_a_tap_is_stored_and_acknowledged(bot: Harness) -> None:
    question_id, reply = await _ask(bot)
    helpful, wrong = _ratings(reply)
    assert (helpful["text"], wrong["text"]) == (texts.HELPFUL, texts.WRONG_ANSWER) == ("👍 Helpful", "👎 Wrong answer")
    assert (helpful["callback_data"], wrong["callback_data"]) == (f"fb:{question_id}:1:+", f"fb:{question_id}:1:-")
    assert await _tap(bot, helpful["callback_data"]) == texts.rated(HELPFUL, changed=False)
    [stored] = _store(bot).all()
    assert (stored.verdict, stored.question) == (HELPFUL, ZEBRAS)
    assert stored.sentences[0].text == "Seven zebras escaped from the city zoo on Tuesday."
    assert stored.sentences[0].article_id == "zebras.txt" and stored.sentences[0].article_title.startswith("Zebras")
    shown_ids = [s.id for s in stored.sentences]
    assert shown_ids == [hit.sentence_id for hit in (await bot.service.answer(ZEBRAS, 3)).hits]
    assert stored.index_version == bot.service.retriever.version_dir.name
    assert stored.at == hour(datetime.now(UTC))
    raw = (bot.service.index_dir / FEEDBACK_FILE).read_bytes()
    assert str(PRIVATE_USER).encode() not in raw and b"987654321" not in raw  # no user or chat id kept


async def test_tapping_twice_or_changing_ones_mind_keeps_one_verdict_per_answer(bot: Harness,
                                                                                reliability: Record) -> None:
    question_id, reply = await _ask(bot)
    helpful, wrong = (button["callback_data"] for button in _ratings(reply))
    notices = [await _tap(bot, data) for data in (helpful, helpful, wrong)]
    assert notices == [texts.rated(HELPFUL, False), texts.rated(HELPFUL, False), texts.rated(WRONG, True)]
    assert "Changed" in notices[2]
    [stored] = _store(bot).all()
    assert stored.verdict == WRONG
    _, again = await _ask(bot)  # the same question asked again is another answer, rated on its own
    await _tap(bot, _ratings(again)[0]["callback_data"])
    assert sorted(v.verdict for v in _store(bot).all()) == [HELPFUL, WRONG]
    reliability("Consistency", "a rating tapped twice, then the other rating of the same answer", 3,
                "one verdict kept per answer, the last; each tap acknowledged, the change said as such")


async def test_each_page_of_results_is_rated_with_its_own_sentences(tmp_path: Path, corpus_dir: Path) -> None:
    herd = " ".join(f"Zebra number {n} ran across the plain." for n in range(1, 9))
    (corpus_dir / "herd.txt").write_text(f"title: The herd\n\n{herd}\n", encoding="utf-8")
    async with in_process_bot(tmp_path, corpus_dir) as bot:
        question_id, first = await _ask(bot, "zebra number ran across the plain", chat_id=USER)
        [[more], _] = first.params["reply_markup"]["inline_keyboard"]
        bot.telegram.push_callback(USER, more["callback_data"], message_id=question_id + 1)
        await bot.deliver()
        second = bot.telegram.sent(USER)[-1]
        assert [b["callback_data"] for b in _ratings(second)] == [f"fb:{question_id}:4:+", f"fb:{question_id}:4:-"]
        await _tap(bot, _ratings(first)[0]["callback_data"], chat_id=USER)
        await _tap(bot, _ratings(second)[1]["callback_data"], chat_id=USER)
        first_page, second_page = _store(bot).all()
        assert (first_page.verdict, second_page.verdict) == (HELPFUL, WRONG)
        assert not {s.id for s in first_page.sentences} & {s.id for s in second_page.sentences}
        assert second_page.sentences[0].text in second.text


async def test_nothing_found_has_no_rating_buttons(bot: Harness) -> None:
    [reply] = await bot.say("Who won the chess olympiad in Ulaanbaatar?")
    assert "I found nothing" in reply.text
    assert "fb:" not in json.dumps(reply.params.get("reply_markup"))


async def test_a_rating_of_an_answer_the_bot_no_longer_remembers_says_so(bot: Harness, reliability: Record) -> None:
    assert await _tap(bot, "fb:424242:1:+") == texts.RATING_FORGOTTEN
    question_id, _ = await _ask(bot)
    assert await _tap(bot, f"fb:{question_id}:7:-") == texts.RATING_FORGOTTEN  # a page never sent
    assert _store(bot).all() == []
    reliability("Bad input", "a rating button for an answer the bot never sent or no longer remembers (a forged "
                "callback, or one from before a restart)", 2, "told \"That answer is too old for me to rate…\"; "
                "nothing stored")


async def test_in_a_group_only_the_person_who_asked_can_rate(bot: Harness, reliability: Record) -> None:
    question_id, reply = await _ask(bot, f"@{BOT_USERNAME} how many zebras escaped?", chat_id=GROUP,
                                    user_id=USER, chat_type="group")
    helpful = _ratings(reply)[0]["callback_data"]
    assert await _tap(bot, helpful, chat_id=GROUP, user_id=USER + 1, chat_type="group") == texts.RATING_NOT_YOURS
    assert _store(bot).all() == []
    assert await _tap(bot, helpful, chat_id=GROUP, user_id=USER, chat_type="group") == texts.rated(HELPFUL, False)
    assert len(_store(bot).all()) == 1
    reliability("Security", "another member of a group rating someone else's answer", 1,
                "told only the person who asked can rate it; nothing stored")


async def test_the_store_is_written_off_the_event_loop(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    record = FeedbackStore.record

    def spy(self: FeedbackStore, *args: object) -> bool:
        threads.append(threading.current_thread().name)
        return record(self, *args)

    monkeypatch.setattr(FeedbackStore, "record", spy)
    _, reply = await _ask(bot)
    await _tap(bot, _ratings(reply)[0]["callback_data"])
    assert threads and threads[0] != threading.main_thread().name


@pytest.mark.parametrize("fault", ["damaged", "full"])
async def test_a_broken_store_loses_the_verdict_not_the_answers(bot: Harness, fault: str, reliability: Record,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    path = bot.service.index_dir / FEEDBACK_FILE
    if fault == "damaged":
        path.write_bytes(b"this is not a database " * 200)
    else:
        def full(*args: object, **kwargs: object) -> sqlite3.Connection:
            raise sqlite3.OperationalError("database or disk is full")
        monkeypatch.setattr("newsbot.bot.feedback.sqlite3.connect", full)
    _, reply = await _ask(bot)
    assert await _tap(bot, _ratings(reply)[0]["callback_data"]) == texts.RATING_NOT_SAVED
    assert "could not store a verdict" in caplog.text
    _, again = await _ask(bot)  # answering goes on, with its buttons
    assert "Seven zebras" in again.text and _ratings(again)
    assert not any(texts.SORRY in (call.text or "") for call in bot.telegram.sent())
    reliability("Index faults", f"the feedback file {'damaged (not a database)' if fault == 'damaged' else 'on a full disk'}"
                " when a rating is tapped", 1, "the tap told \"Sorry, I could not save that just now…\" and logged; "
                "questions answered as before, with their buttons")


def test_the_store_keeps_one_row_per_answer_and_reports_a_damaged_file(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / FEEDBACK_FILE)
    assert store.all() == []  # no file yet: no verdicts, and none created by reading
    assert not (tmp_path / FEEDBACK_FILE).exists()
    answer = Shown("a1", "q?", (ShownSentence(3, "S.", "x.txt", "X"),), "v1", asker=5)
    moment = datetime(2026, 1, 2, 3, 44, 55, tzinfo=UTC)
    assert store.record(answer, HELPFUL, moment) is False
    assert store.record(answer, WRONG, moment) is True
    assert store.all() == [Feedback("a1", WRONG, "q?", answer.sentences, "v1", "2026-01-02T03:00Z")]
    (tmp_path / FEEDBACK_FILE).write_bytes(b"\0garbage" * 100)
    with pytest.raises(FeedbackUnavailable, match="cannot be used"):
        store.all()


def _verdict(answer: str, verdict: str, question: str, *sentences: tuple[str, str]) -> Feedback:
    return Feedback(answer, verdict, question, tuple(ShownSentence(n, text, article, article.title())
                                                     for n, (article, text) in enumerate(sentences)), "v1", "2026-01-01T00:00Z")


async def test_export_writes_an_evaluation_set_that_newsbot_eval_scores(bot: Harness, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _, helpful = await _ask(bot)
    await _tap(bot, _ratings(helpful)[0]["callback_data"])
    wrong_question = "What did keepers find grazing in a park?"
    _, wrong = await _ask(bot, wrong_question)
    await _tap(bot, _ratings(wrong)[1]["callback_data"])
    output = tmp_path / "feedback.jsonl"
    assert main(["feedback", "export", "--index-dir", str(bot.service.index_dir), "--output", str(output)]) == 0
    assert "exported 1 helpful and 1 wrong answers" in capsys.readouterr().err
    records = load_squad(output)  # the schema `newsbot eval` reads
    assert {r["id"] for r in records} == {a.id for a in bot.service.retriever.articles()}  # the bot's whole pool
    qas = {qa["question"]: (qa, paragraph) for r in records for paragraph in r["paragraphs"] for qa in paragraph["qas"]}
    good, paragraph = qas[ZEBRAS]
    [gold] = good["answers"]
    assert gold["text"] == "Seven zebras escaped from the city zoo on Tuesday." and good["feedback"] == HELPFUL
    assert paragraph["context"][gold["answer_start"]:][:len(gold["text"])] == gold["text"]
    bad, _ = qas[wrong_question]
    assert bad["answers"] == [] and bad["not_first"][0]["text"] in wrong.text

    report = evaluate(records, HashingEmbedder(), segmentations=("dataset",))
    assert report["segmentations"]["dataset"]["questions"] == 1  # the helpful one: gold = the sentence shown first
    assert report["segmentations"]["dataset"]["p_at_1"] == 1.0  # same index, same ranking
    assert report["rejected"] == {"questions": 1, "ranked_first_again": 1, "share_ranked_first_again": 1.0}
    assert "answers users marked wrong (1 questions" in format_report({"dataset": str(output), **report})
    assert report["spans"]["questions"] == 0  # a whole sentence as gold says nothing about answer spans


def test_export_places_each_verdict_in_its_paragraph_and_leaves_out_vanished_sentences(
        tmp_path: Path, corpus_dir: Path, fake_embedder: HashingEmbedder) -> None:
    from newsbot.index import build_index

    build_index(corpus_dir, tmp_path / "index", fake_embedder)
    sentences = indexed_sentences(tmp_path / "index")
    assert [s.id for s in sentences] == list(range(len(sentences)))
    last = sentences[-1]
    exported = evaluation_set([
        _verdict("a", HELPFUL, "q1?", (last.article.id, last.text)),
        _verdict("b", WRONG, "q2?", (last.article.id, last.text), (sentences[0].article.id, sentences[0].text)),
        _verdict("c", HELPFUL, "q3?", (last.article.id, "A sentence since edited away.")),
        _verdict("d", HELPFUL, "q4?"),
    ], sentences)
    assert (exported.helpful, exported.wrong, exported.skipped) == (1, 1, 2)
    [record] = [r for r in exported.records if r["id"] == last.article.id]
    [paragraph] = [p for p in record["paragraphs"] if p["qas"]]
    spans = paragraph["reqa_sentence_spans"]
    assert [paragraph["context"][s:e] for s, e in spans][-1] == last.text
    assert [qa["question"] for qa in paragraph["qas"]] == ["q1?", "q2?"]
    assert paragraph["qas"][1]["not_first"] == [{"text": last.text, "answer_start": spans[-1][0]}]
    assert sum(len(p["reqa_sentence_spans"]) for r in exported.records for p in r["paragraphs"]) == len(sentences)


def test_export_without_verdicts_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feedback", "export", "--index-dir", str(tmp_path), "--output", str(tmp_path / "out.jsonl")]) == 0
    assert "no verdicts yet" in capsys.readouterr().err and not (tmp_path / "out.jsonl").exists()
