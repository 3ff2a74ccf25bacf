"""Questions about the bundled article asked over it and the 48 SQuAD dev articles, with the real model:
a question that names its story is answered from it, and SQuAD's own questions still from their article.

The set (tests/data/many_stories.json) was written by hand from the article; its rate before and after
the many-story steps is in docs/QUALITY.md#many-stories (benchmarks/research/stories.py).
"""

import json

import pytest

from benchmarks.stories import MANY_STORY_QUESTIONS
from newsbot.retrieval import Retriever

QUESTIONS = json.loads(MANY_STORY_QUESTIONS.read_text(encoding="utf-8"))["questions"]
# Measured misses, each for a reason the steps do not address; strict, so a fix shows up here
KNOWN_MISSES = {
    # the Syria sentence scores 19th of the stories' best (the plague's "Half of Paris's population of
    # 100,000 people died." 1.47, it 0.52): no closeness margin shows it without 18 other stories first
    "How many people have died?":
        "the Syria sentence is not among the candidates of a question that names no story",
}


@pytest.fixture(scope="module")
def answers(many_stories: Retriever) -> dict:
    """Every question's answer (k=3) and ranking, one model call each."""
    asked = [q["question"] for q in QUESTIONS]
    return {"answers": dict(zip(asked, many_stories.answer_many(asked))),
            "ranked": dict(zip(asked, many_stories.search_many(asked, 1)))}


def _case(question: dict):
    reason = KNOWN_MISSES.get(question["question"])
    return pytest.param(question, id=question["question"],
                        marks=[pytest.mark.xfail(strict=True, reason=reason)] if reason else [])


@pytest.mark.parametrize("question", [_case(q) for q in QUESTIONS])
def test_each_question_is_answered_from_its_story(question: dict, answers: dict) -> None:
    if "among" in question:
        hits = answers["answers"][question["question"]].hits
    else:
        hits = answers["ranked"][question["question"]][:1]
    wanted = question.get("among", question.get("first"))
    assert any(part in hit.text for hit in hits for part in wanted), [hit.text for hit in hits]
    first = next(hit for hit in hits if any(part in hit.text for part in wanted))
    assert first.article.id == question["article"]


def test_the_named_syria_questions_name_the_syria_story_first(many_stories: Retriever) -> None:
    """The two questions the plague's Middle East estimate answered before the named-story step."""
    for question in ("How many people have died in Syria?", "What is the death toll in Syria?"):
        hits = many_stories.search(question, 5)
        assert hits[0].article.id == "ahram-2012-01-25-russia-syria-lavrov.txt", [h.text for h in hits]
        assert "5,400" in hits[0].text
