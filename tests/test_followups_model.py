"""Follow-up questions about the bundled article with the real model, over the article alone and over the
article among the 48 SQuAD dev articles: each question of a conversation, asked after the ones before it,
must return its sentence first (tests/data/followups_lavrov.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsbot.corpus import BUNDLED_CORPUS_DIR, article_sentences, parse_article
from newsbot.index import build_from_documents
from newsbot.index.onnx_embedder import OnnxEmbedder
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.reqa import load_squad, reqa_task
from tests.conftest import SQUAD_DEV

CONVERSATIONS = json.loads((Path(__file__).parent / "data" / "followups_lavrov.json").read_text())["conversations"]
ARTICLE = BUNDLED_CORPUS_DIR / "ahram-2012-01-25-russia-syria-lavrov.txt"
TURNS = [(conversation[:turn], step) for conversation in CONVERSATIONS for turn, step in enumerate(conversation)]


@pytest.fixture(scope="module")
def article_retriever(tmp_path_factory: pytest.TempPathFactory, int8: OnnxEmbedder) -> Retriever:
    article = parse_article(ARTICLE.name, ARTICLE.read_text(encoding="utf-8"))
    index_dir = tmp_path_factory.mktemp("lavrov")
    build_from_documents([(article, article_sentences(article))], index_dir, int8)
    return Retriever.open(index_dir, embedder=int8)


@pytest.fixture(scope="module")
def many_stories(tmp_path_factory: pytest.TempPathFactory, int8: OnnxEmbedder) -> Retriever:
    """The article among the 48 SQuAD dev articles (their own sentence boundaries, as the bot would read them)."""
    if not SQUAD_DEV.is_file():
        pytest.skip(f"{SQUAD_DEV} is not here (the shared evaluation set is optional)")
    article = parse_article(ARTICLE.name, ARTICLE.read_text(encoding="utf-8"))
    documents, _ = reqa_task(load_squad(SQUAD_DEV), "own")
    index_dir = tmp_path_factory.mktemp("lavrov-and-squad")
    build_from_documents([(article, article_sentences(article)), *documents], index_dir, int8)
    return Retriever.open(index_dir, embedder=int8)


def _returns_its_sentence(retriever: Retriever, before: list[dict], step: dict, *, history: bool = True) -> bool:
    top = retriever.search(step["question"], k=1, history=[e["question"] for e in before] if history else [])[0].text
    wanted = step["first"] if isinstance(step["first"], list) else [step["first"]]
    return any(text in top for text in wanted)


@pytest.mark.parametrize(("before", "step"), TURNS, ids=[" / ".join(s["question"] for s in [*b, t]) for b, t in TURNS])
def test_each_question_of_a_conversation_returns_its_sentence_over_the_article(
        article_retriever: Retriever, before: list[dict], step: dict) -> None:
    assert _returns_its_sentence(article_retriever, before, step)


@pytest.mark.parametrize(("before", "step"), TURNS, ids=[" / ".join(s["question"] for s in [*b, t]) for b, t in TURNS])
def test_each_question_of_a_conversation_returns_its_sentence_among_many_stories(
        many_stories: Retriever, before: list[dict], step: dict) -> None:
    assert _returns_its_sentence(many_stories, before, step)


def test_follow_ups_need_their_history_among_many_stories(many_stories: Retriever) -> None:
    """Without the history, most follow-ups do not find their sentence: the set tests the history, not the article."""
    follow_ups = [(before, step) for before, step in TURNS if before]
    alone = sum(_returns_its_sentence(many_stories, before, step, history=False) for before, step in follow_ups)
    assert alone <= len(follow_ups) // 2
