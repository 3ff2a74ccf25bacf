"""Follow-up questions: which questions lean on their history, what is searched for them, and that a
question standing on its own is answered exactly as without a history (fake embedder: the rule is the point)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from newsbot.index import build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.evaluate import evaluate, format_report
from newsbot.retrieval.evaluation.followups import followup_metrics, followup_task, rewrite
from newsbot.retrieval.history import CONTEXT_QUESTIONS, context, in_context, leans_on_history
from newsbot.retrieval.retriever import MAX_QUESTION_CHARS
from tests.reliability import Record

SYRIA = "How many people have died in Syria?"
ZOO = {"id": "zoo", "title": "Zebras", "paragraphs": [{
    "context": "Seven zebras escaped from the Lagos Zoo. The Lagos Zoo opened in 1950.",
    "reqa_sentence_spans": [[0, 40], [41, 71]],
    "qas": [{"id": "1", "question": "How many zebras escaped from the Lagos Zoo?",
             "answers": [{"text": "Seven", "answer_start": 0}]},
            {"id": "2", "question": "When did the Lagos Zoo open?", "answers": [{"text": "1950", "answer_start": 66}]}]}]}


@pytest.mark.parametrize("question", ["Who does the government blame for it?", "When might they vote?",
                                      "When did that happen?", "For how long?", "Who was the spokeswoman?",
                                      "What did his father do?", "How many people live there?", "Why?"])
def test_questions_that_point_back_or_say_too_little_lean_on_their_history(question: str) -> None:
    assert leans_on_history(question)


@pytest.mark.parametrize("question", [SYRIA, "Who is Nikola Tesla?", "What is Syria?", "Is there a vote on Monday?",
                                      "Which countries are working on a Security Council resolution?"])
def test_questions_that_stand_on_their_own_do_not(question: str) -> None:
    assert not leans_on_history(question)


def test_a_follow_up_reaches_back_to_the_first_question_that_stands_alone() -> None:
    history = ["What is the capital of France?", SYRIA, "Who does the government blame for it?"]
    assert context("When might they vote?", history) == ["Who does the government blame for it?", SYRIA]
    assert context("When?", [SYRIA]) == [SYRIA]
    assert context("When?", []) == []
    assert context("What is the capital of France?", history) == []
    assert in_context("When did that happen?", [SYRIA]) == f"When did that happen? {SYRIA}"  # its own words first
    assert in_context(SYRIA, ["When?"]) == SYRIA


@pytest.fixture
def retriever(tmp_path: Path, corpus_dir: Path) -> Retriever:
    (corpus_dir / "zebras.txt").write_text(
        "title: Zebras escape\n\nSeven zebras escaped from the city zoo on Tuesday. Keepers found them in a park.\n",
        encoding="utf-8")
    build_index(corpus_dir, tmp_path / "idx", HashingEmbedder())
    return Retriever.open(tmp_path / "idx", embedder=HashingEmbedder())


def test_a_follow_up_is_answered_in_the_context_of_the_question_before(retriever: Retriever) -> None:
    follow_up = "When did it happen?"
    assert not retriever.answer(follow_up).found
    answer = retriever.answer(follow_up, history=["How many zebras escaped from the zoo?"])
    assert answer.found and "zebras escaped" in answer.hits[0].text
    assert answer.question == follow_up  # the reply is about the question asked


def test_a_question_on_a_new_topic_is_answered_as_if_there_were_no_history(retriever: Retriever) -> None:
    question = "Russia and China vetoed a previous European attempt"
    alone = retriever.answer(question)
    assert retriever.answer(question, history=["How many zebras escaped from the zoo?", "When?"]) == alone
    assert retriever.search(question, history=["How many zebras escaped from the zoo?"]) == retriever.search(question)


def test_batches_take_one_history_per_question(retriever: Retriever) -> None:
    questions = ["When did it happen?", "Russia and China vetoed a previous European attempt", ""]
    histories = [["How many zebras escaped from the zoo?"], ["How many zebras escaped from the zoo?"], ["Anything?"]]
    assert retriever.answer_many(questions, 2, histories) == [retriever.answer(q, 2, h) for q, h in zip(questions, histories)]
    assert retriever.search_many(questions, 3, histories) == [retriever.search(q, 3, h) for q, h in zip(questions, histories)]


def test_bad_histories_are_no_history_or_bounded(retriever: Retriever, reliability: Record) -> None:
    question = "When did it happen?"
    assert retriever.answer(question, history=["", "  \x00\n", "\u200b\t"]) == retriever.answer(question)
    pasted = [f"How many zebras escaped from the zoo? {n} " + "zebra " * 100_000 for n in range(50)]
    started = time.perf_counter()
    answer = retriever.answer(question, history=pasted)
    assert time.perf_counter() - started < 5  # the last ones are read, not all 50 (30 million characters: ~10 s)
    assert answer == retriever.answer(question, history=pasted[-2:]) and answer.question == question
    assert retriever.answer("", history=pasted) == retriever.answer("")
    reliability("Bad input", "follow-up histories of blank or control characters, and 50 pasted earlier questions of "
                "600,000 characters each", 3, f"no history, or the last {CONTEXT_QUESTIONS} cut to "
                f"{MAX_QUESTION_CHARS:,} characters each: answered")


def test_the_benchmark_rewrites_a_named_subject_asked_about_before_with_a_pronoun() -> None:
    assert rewrite("Where did Super Bowl 50 take place?", "Super Bowl 50") == "Where did it take place?"
    assert rewrite("Who published Tesla's writings?", "Tesla") == "Who published its writings?"
    assert rewrite("The UMC was a founding member of what?", "UMC") == "It was a founding member of what?"
    assert rewrite("What did Teslas do?", "Tesla") is None  # a whole name only
    [follow_up] = followup_task([ZOO])
    assert (follow_up.earlier, follow_up.rewritten) == ("How many zebras escaped from the Lagos Zoo?", "When did it open?")
    assert follow_up.golds == {"The Lagos Zoo opened in 1950."}


def test_the_benchmark_scores_each_way_of_asking_by_its_top_sentence() -> None:
    [follow_up] = followup_task([ZOO])

    def search(questions: list[str], histories: list[tuple[str, ...]]) -> list[str]:
        return [next(iter(follow_up.golds)) if history or "it" not in question.split() else "wrong"
                for question, history in zip(questions, histories)]

    figures = followup_metrics([follow_up], search)
    assert figures["rewritten_alone"] == 0 and figures["rewritten_after_earlier"] == 1
    assert figures["original_alone"] == figures["original_after_unrelated"] == 1


def test_newsbot_eval_reports_the_follow_ups(tmp_path: Path) -> None:
    report = evaluate([ZOO, {**ZOO, "id": "zoo-2"}], HashingEmbedder(), segmentations=("dataset",), work_dir=tmp_path)
    followups = report["followups"]
    assert followups["all"]["questions"] == 2 and followups["first_half"]["questions"] == 1
    assert set(followups["all"]) >= {"rewritten_alone", "rewritten_after_earlier", "original_alone",
                                     "original_after_earlier", "original_after_unrelated"}
    assert "follow-ups (P@1)" in format_report({"dataset": "zoo.jsonl", **report})
    assert evaluate([ZOO], HashingEmbedder(), segmentations=("own",), work_dir=tmp_path / "own")["followups"] is None
