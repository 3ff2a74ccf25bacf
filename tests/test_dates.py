"""Answers that know their dates: the newest of equally good answers leads, a changing figure's earlier
reports are listed and dated, and a question naming a time is answered from the articles published then."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from benchmarks.dated_stories import FIRST, NEWEST, REPORTS, SYNDICATED, UNRELATED, write_dated_corpus
from newsbot.bot import cli
from newsbot.bot.console import render_answer
from newsbot.bot.render import render
from newsbot.bot.texts import answer_blocks
from newsbot.index import build_index
from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval import Answer, Hit, Retriever
from newsbot.retrieval.recency import newest_first
from newsbot.retrieval.timeline import figure_key, figure_kind, figure_reports, figure_timeline
from newsbot.retrieval.when import Period, asked_period
from tests.bot_harness import in_process_bot
from tests.fake_bot_api import visible_text
from tests.reliability import Record

TODAY = date(2012, 2, 20)  # a Monday


def _hit(text: str, score: float, article: str, source: str | None, published: date | None, number: int = 0) -> Hit:
    return Hit(text, score, ArticleInfo(article, f"Title {article}", source, published, None), number, 0, 0, len(text))


# --- recency ---

def test_the_newest_of_the_sentences_within_the_margin_leads_and_the_rest_keep_their_order() -> None:
    scores = [1.0, 0.99, 0.985, 0.5]
    published = [date(2012, 1, 1), date(2012, 1, 5), date(2012, 2, 1), date(2013, 1, 1)]
    assert newest_first(scores, published, margin=0.02) == [2, 1, 0, 3]  # the 2013 one is far below: it stays last
    assert newest_first(scores, published, margin=0.0) == [0, 1, 2, 3]


def test_an_undated_sentence_keeps_its_place_and_equal_dates_keep_their_rank() -> None:
    day = date(2012, 1, 25)
    assert newest_first([1.0, 0.995, 0.99], [None, date(2012, 1, 1), date(2012, 2, 1)], 0.02) == [0, 2, 1]
    assert newest_first([1.0, 0.99, 0.98], [day, day, day], 0.05) == [0, 1, 2]
    assert newest_first([], []) == []


# --- changing figures ---

def test_questions_about_a_changing_figure_are_told_from_others() -> None:
    assert figure_kind("How many people have died?") == "number"
    assert figure_kind("What is the death toll?") == "number"
    assert figure_kind("How much did the bridge cost?") == "quantity"
    assert figure_kind("What is the price of oil?") == "quantity"
    assert figure_kind("How many casualties were there?") == "number"
    for question in ("How long did the siege last?", "Who won?", "When did the war end?", "How old is he?"):
        assert figure_kind(question) is None, question


def test_reports_of_one_figure_share_a_key_whatever_their_modifier() -> None:
    assert figure_key("more than 5,400 people") == figure_key("over 5,400") == figure_key("5400 people")
    assert figure_key("5,400") != figure_key("5,800")
    assert figure_key("2 million") != figure_key("2 thousand")


def test_a_timeline_groups_one_figure_from_several_sources_newest_first_and_leaves_other_stories_out() -> None:
    question = "How many people have died?"
    hits = [_hit("Activists say more than 6,000 people have died since March.", 1.4, "b", "BBC", date(2012, 2, 8)),
            _hit("The UN says more than 5,400 people have died since March.", 0.9, "a", "AFP", date(2012, 1, 25)),
            _hit("The UN says more than 5,400 people have died since March.", 0.9, "x", "Xinhua", date(2012, 1, 25)),
            _hit("Half of the town's 900 people died of plague.", 1.0, "p", "History", date(2012, 3, 1)),
            _hit("The ferry opened on Friday.", 0.8, "f", "Gazette", date(2012, 2, 10))]
    reports = figure_reports(question, hits)
    assert [p for p, _ in reports] == [0, 1, 2, 3]  # the ferry gives no number of people
    same, other = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    timeline = figure_timeline(hits, reports, [same, same, same, other], [1.0] * 4)
    assert [(r.figure, r.published, r.sources) for r in timeline] == [
        ("more than 6,000 people", date(2012, 2, 8), ("BBC",)),
        ("more than 5,400 people", date(2012, 1, 25), ("AFP", "Xinhua"))]  # the plague, the newest, is another story
    assert timeline[1].to_dict() == {"text": hits[1].text, "figure": "more than 5,400 people",
                                     "published": "2012-01-25", "sources": ["AFP", "Xinhua"], "article_id": "a",
                                     "article_ids": ["a", "x"]}
    assert figure_timeline(hits, reports[:1], [same], [1.0]) == ()  # one figure: no timeline
    assert figure_reports("Who said it?", hits) == []


def test_a_report_from_an_article_the_question_does_not_name_is_another_story() -> None:
    question = "How many full-time teachers does Victoria have?"
    hits = [_hit("Victoria has about 63,519 full-time teachers.", 1.7, "v", "Gazette", date(2012, 1, 5)),
            _hit("Classes were limited to 17 students, led by a full-time teacher.", 0.8, "c", "Tribune", date(2012, 2, 1))]
    reports = figure_reports(question, hits)
    vectors = [np.array([1.0])] * 2
    assert figure_timeline(hits, reports, vectors, [6.0, 1.0]) == ()  # "Victoria" names one article, not the other
    assert len(figure_timeline(hits, reports, vectors, [6.0, 5.0])) == 2


def test_no_timeline_leads_when_the_best_sentence_is_of_another_article_than_its_reports() -> None:
    question = "How many people were killed in the earthquake?"
    hits = [_hit("At least 450 people were killed when a magnitude 7.1 earthquake struck on Friday.", 1.5, "q", "AP",
                 date(2012, 1, 20)),  # two numbers as near the question's words: no figure is read from it
            _hit("More than 5,400 people have died in the floods since March.", 0.9, "f2", "BBC", date(2012, 1, 23)),
            _hit("More than 4,100 people have died in the floods since March.", 0.9, "f1", "AFP", date(2012, 1, 16))]
    reports = figure_reports(question, hits)
    assert [p for p, _ in reports] == [1, 2]
    same = np.array([1.0])
    assert figure_timeline(hits, reports, [same, same], [1.0, 1.0]) == ()  # the floods' toll must not lead
    assert len(figure_timeline(hits[1:], [(0, reports[0][1]), (1, reports[1][1])], [same, same], [1.0, 1.0])) == 2


def test_undated_articles_report_no_figure_to_a_timeline() -> None:
    hits = [_hit("More than 6,000 people have died.", 1.0, "b", "BBC", None),
            _hit("More than 5,400 people have died.", 0.9, "a", "AFP", date(2012, 1, 25))]
    assert [p for p, _ in figure_reports("How many people have died?", hits)] == [1]


# --- time phrases ---

@pytest.mark.parametrize(("question", "start", "end"), [
    ("How many people had died by 30 January 2012?", None, date(2012, 1, 30)),
    ("How many died last week?", date(2012, 2, 13), date(2012, 2, 19)),
    ("What happened yesterday?", date(2012, 2, 19), date(2012, 2, 19)),
    ("What did Lavrov say on 25 January?", date(2012, 1, 25), date(2012, 1, 25)),
    ("What did Lavrov say on the 25th of January about Syria?", date(2012, 1, 25), date(2012, 1, 25)),
    ("Who spoke at the 25 January meeting?", date(2012, 1, 25), date(2012, 1, 25)),
    ("What did Lavrov say on Wednesday?", date(2012, 2, 15), date(2012, 2, 15)),
    ("Wednesday: what did Lavrov say?", date(2012, 2, 15), date(2012, 2, 15)),
    ("How many were killed in January 2012?", date(2012, 1, 1), date(2012, 1, 31)),
    ("What was said this month?", date(2012, 2, 1), date(2012, 2, 29)),
    ("How much did it cost in 2011?", date(2011, 1, 1), date(2011, 12, 31)),
    ("How many people have died since March?", date(2011, 3, 1), None),
    ("How many died before 1 February 2012?", None, date(2012, 1, 31)),
    ("How many died two weeks ago?", date(2012, 2, 6), date(2012, 2, 12)),
])
def test_a_time_phrase_is_read_as_a_period_relative_to_today(question: str, start: date | None,
                                                             end: date | None) -> None:
    period = asked_period(question, TODAY)
    assert period is not None and (period.start, period.end) == (start, end)


@pytest.mark.parametrize("question", [
    "How many people have died?", "What happened on the Nile?", "Who won in 2-1?", "What year did the war end?",
    "How many people may have died?", "May I ask who won?", "What caused the 2011 uprising?",
    "Who will march on the capital?", "In what year did the war end?", "Who is the second in command?",
    "Who leads the March 14 alliance?", "What was the January 25 revolution?", "Who founded the 6 April movement?",
    "Who won the Super Tuesday primaries?", "What was agreed on Good Friday?", "How many died on Bloody Sunday?"])
def test_a_question_naming_no_time_has_no_period(question: str) -> None:
    assert asked_period(question, TODAY) is None


def test_a_period_holds_its_days_and_says_them() -> None:
    period = Period(date(2012, 1, 1), date(2012, 1, 31), "in January 2012")
    assert date(2012, 1, 31) in period and date(2012, 2, 1) not in period and None not in period
    assert Period(None, date(2012, 1, 30), "by 30 January").describe() == "up to 30 Jan 2012"
    assert Period(date(2012, 2, 1), None, "since February").describe() == "since 1 Feb 2012"
    assert Period(date(2011, 1, 1), date(2011, 12, 31), "in 2011").describe() == "in 2011"
    assert Period(date(2012, 2, 1), date(2012, 2, 29), "this month").describe() == "in February 2012"
    assert Period(date(2012, 2, 13), date(2012, 2, 19), "last week").describe() == "13 Feb 2012 to 19 Feb 2012"


def test_impossible_or_hostile_time_words_name_no_period_and_stay_cheap(reliability: Record) -> None:
    hostile = ["What happened on 31 February 2012?", "What happened on 45/13/2012?", "In 0000?",
               "January " * 150, "yesterday " * 150 + "?", "What happened in May 99999999999?",
               "\x00 last week \u202e", "On 2012-13-45 what died?"]
    for question in hostile:
        started = time.perf_counter()
        period = asked_period(question, TODAY)
        assert time.perf_counter() - started < 1.0, question
        assert period is None or period.start is None or period.end is None or period.start <= period.end
    assert asked_period("What happened on 31 February 2012?", TODAY) is None
    reliability("Bad input", "questions naming impossible dates (31 February, month 13), a time word repeated "
                "150 times, control characters", len(hostile), "no period or a valid one, each read within a second")


# --- the reply ---

def test_the_reply_dates_the_lead_then_lists_the_earlier_reports_dated_and_no_sentence_twice() -> None:
    question = "How many people have died?"
    hits = [_hit("The toll has risen to more than 7,500 people.", 1.0, "d", "AP", date(2012, 2, 20)),
            _hit("More than 6,000 people have died.", 0.98, "b", "BBC", date(2012, 2, 8), 1),
            _hit("More than 5,400 people have died.", 0.97, "a", "AFP", date(2012, 1, 25), 2),
            _hit("More than 5,400 people have died.", 0.97, "x", "Xinhua", date(2012, 1, 25), 3)]
    reports = figure_reports(question, hits)
    timeline = figure_timeline(hits, reports, [np.array([1.0])] * len(reports), [1.0] * len(reports))
    answer = Answer(question, True, hits[:1], sure=True, timeline=timeline)
    for text in (render(answer_blocks(answer))[0].plain, render_answer(answer)):
        assert "(AP, 20 Feb 2012)" in text.splitlines()[0]
        earlier = text[text.index("Earlier reports:"):]
        assert earlier.index("6,000") < earlier.index("5,400")
        assert "(BBC, 8 Feb 2012)" in earlier and "(AFP, Xinhua, 25 Jan 2012)" in earlier
        assert text.count("More than 5,400 people have died.") == 1 and text.count("7,500") == 2  # the answer's line and its sentence


def test_the_reply_says_which_period_it_answers_from() -> None:
    hit = _hit("More than 5,400 people have died.", 1.0, "a", "AFP", date(2012, 1, 25))
    period = Period(None, date(2012, 1, 30), "by 30 January 2012")
    inside = Answer("q", True, (hit,), sure=True, period=period, from_period=True)
    outside = Answer("q", True, (hit,), sure=True, period=Period(date(2010, 1, 1), date(2010, 12, 31), "in 2010"))
    assert render_answer(inside).startswith("From the articles published up to 30 Jan 2012:")
    assert "None of my articles was published" in render(answer_blocks(outside))[0].plain


# --- the acceptance corpus, with the real model ---

@pytest.fixture(scope="module")
def dated_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    folder = tmp_path_factory.mktemp("dated")
    build_index(write_dated_corpus(folder / "corpus"), folder / "index", real_embedder)
    return folder


async def test_how_many_died_leads_with_the_newest_toll_and_dates_the_earlier_ones_in_the_cli_and_the_bot(
        dated_index: Path, real_embedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "_embedder", lambda args: real_embedder)
    folders = ["--corpus-dir", str(dated_index / "corpus"), "--index-dir", str(dated_index / "index")]
    assert cli.main(["ask", *folders, "--json", "How many people have died?"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["found"] and result["hits"][0]["article"]["published"] == NEWEST[2].isoformat()
    timeline = result["timeline"]
    assert [entry["published"] for entry in timeline] == [r[2].isoformat() for r in reversed(REPORTS)]
    assert [entry["figure"].split()[-2] for entry in timeline] == ["7,500", "6,000", "5,800", "5,400"]
    assert sorted(timeline[-1]["sources"]) == sorted([FIRST[1], SYNDICATED[1]])  # the syndicated pair, once
    texts = [hit["text"] for hit in result["hits"]] + [entry["text"] for entry in timeline[1:]]
    assert len(texts) == len(set(texts))  # no sentence twice
    assert UNRELATED[3] not in json.dumps(result)

    async with in_process_bot(tmp_path, write_dated_corpus(tmp_path / "corpus"), real_embedder) as bot:
        [message] = await bot.say("How many people have died?")
    reply = visible_text(message.text)
    assert reply.startswith("Answer: more than 7,500 people (AP, 20 Feb 2012)")
    earlier = reply[reply.index("Earlier reports:"):]
    assert [earlier.index(f) for f in ("6,000", "5,800", "5,400")] == sorted(earlier.index(f) for f in ("6,000", "5,800", "5,400"))
    assert "8 Feb 2012" in earlier and "31 Jan 2012" in earlier
    assert earlier.count("25 Jan 2012") == 1 and "Xinhua" in earlier and "AFP" in earlier


def test_a_question_naming_a_time_is_answered_from_the_articles_published_then(dated_index: Path,
                                                                                real_embedder) -> None:
    retriever = Retriever.open(dated_index / "index", embedder=real_embedder)
    try:
        by_date = retriever.answer("How many people had died by 30 January 2012?", today=TODAY)
        assert by_date.found and by_date.from_period
        assert {hit.article.published for hit in by_date.hits} == {FIRST[2]}
        assert "5,400" in by_date.hits[0].text and by_date.timeline == ()
        last_week = retriever.answer("How many died last week?", today=date(2012, 2, 15))  # 6-12 February
        assert last_week.found and last_week.from_period and "6,000" in last_week.hits[0].text
        never = retriever.answer("How many people had died in 2010?", today=TODAY)
        assert not never.from_period and never.period is not None
        assert render_answer(never).startswith("None of my articles was published in 2010")
        plain = retriever.answer("How many people have died?", today=TODAY)
        assert plain.period is None and "7,500" in plain.hits[0].text  # no time named: unaffected
    finally:
        retriever.close()


def test_of_two_copies_of_a_report_the_newer_leads_and_the_sentence_is_shown_once(tmp_path: Path,
                                                                                  fake_embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = "The harbour bridge reopened after repairs to its north tower.\n\nTraffic was light on the first day."
    for name, source, day in (("a-old.txt", "Gazette", "2012-01-05"), ("b-new.txt", "Tribune", "2012-02-05")):
        (corpus / name).write_text(f"title: Harbour bridge reopens\nsource: {source}\ndate: {day}\n\n{body}\n",
                                   encoding="utf-8")
    build_index(corpus, tmp_path / "index", fake_embedder)
    retriever = Retriever.open(tmp_path / "index", embedder=fake_embedder, min_confidence=0.0)
    try:
        answer = retriever.answer("Which bridge reopened after repairs to its north tower?")
    finally:
        retriever.close()
    assert answer.found and answer.hits[0].article.source == "Tribune"
    texts = [hit.text for hit in answer.hits]
    assert len(texts) == len(set(texts))
