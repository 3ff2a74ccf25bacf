"""Questions about the bundled article asked over it and the 48 SQuAD dev articles, with the real model:
a question that names its story is answered from it, and SQuAD's own questions still from their article.

The set (tests/data/many_stories.json) was written by hand from the article; its rate before and after
the many-story steps is in docs/QUALITY.md#many-stories (benchmarks/research/stories.py).
"""

import json
import shutil
import time
from pathlib import Path

import pytest

from benchmarks.stories import MANY_STORY_QUESTIONS, write_many_story_corpus
from newsbot.index import build_index
from newsbot.index.store import CACHE_DIR
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.reqa import load_squad
from tests.conftest import SQUAD_DEV

QUESTIONS = json.loads(MANY_STORY_QUESTIONS.read_text(encoding="utf-8"))["questions"]
# Measured misses, each for a reason the steps do not address; strict, so a fix shows up here
KNOWN_MISSES = {
    # the Syria sentence scores 19th of the stories' best (the plague's "Half of Paris's population of
    # 100,000 people died." 1.47, it 0.52): no closeness margin shows it without 18 other stories first
    "How many people have died?":
        "the Syria sentence is not among the candidates of a question that names no story",
    # "US State Department spokeswoman Victoria Nuland said." ends a long quote: its sentence is not
    # among the 100 best by embedding, nor its paragraph among the 10 best
    "Who is the spokeswoman of the State Department?":
        "Nuland's sentence is not among the candidates over 49 articles",
}


@pytest.fixture(scope="module")
def many_stories(tmp_path_factory: pytest.TempPathFactory, int8) -> Retriever:
    """The bundled article and the 48 SQuAD dev articles, indexed once for the module with the product's
    default (int8) backend. Their embeddings are kept beside pytest's temporary folders between runs
    (12,000 sentences: minutes to embed on a busy machine, a second to copy)."""
    if not SQUAD_DEV.is_file():
        pytest.skip(f"{SQUAD_DEV} is not here (the shared evaluation set is optional)")
    folder = tmp_path_factory.mktemp("many-stories")
    kept = tmp_path_factory.getbasetemp().parent / "newsbot-many-stories-embeddings"
    if kept.is_dir():
        shutil.copytree(kept, folder / "index" / CACHE_DIR)
    started = time.perf_counter()
    build_index(write_many_story_corpus(load_squad(SQUAD_DEV), folder / "corpus"), folder / "index", int8)
    print(f"many-story index built in {time.perf_counter() - started:.0f} s")
    shutil.copytree(folder / "index" / CACHE_DIR, kept, dirs_exist_ok=True)
    retriever = Retriever.open(folder / "index", embedder=int8)
    yield retriever
    retriever.close()


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
