from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbot.corpus import Article, article_sentences, read_corpus
from newsbot.corpus.terms import sentence_terms, terms
from newsbot.index import IndexIncompatible, build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.vectors import new_vector_index, search_vectors
from newsbot.index.version import open_version
from newsbot.retrieval import Retriever, clean_question
from newsbot.retrieval.confidence import default_min_confidence
from newsbot.retrieval.features import WEIGHTS, coverage, idf_weights
from newsbot.retrieval.retriever import EMPTY_QUESTION, NOT_FOUND
from tests.conftest import add_filler_articles


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_faiss_ranking_equals_brute_force(count: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors, queries = _unit(rng.normal(size=(count, 32))), _unit(rng.normal(size=(5, 32)))
    index = new_vector_index(32)
    index.add(vectors)
    scores, ids = search_vectors(index, queries, k)
    expected = queries @ vectors.T
    for row in range(len(queries)):
        want = np.argsort(-expected[row], kind="stable")[: min(k, count)]
        np.testing.assert_allclose(scores[row], expected[row][want], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(expected[row][ids[row]], expected[row][want], rtol=1e-5, atol=1e-5)


@pytest.fixture
def retriever(corpus_dir: Path, tmp_path: Path) -> Retriever:
    build_index(corpus_dir, tmp_path / "idx", HashingEmbedder())
    return Retriever.open(tmp_path / "idx", embedder=HashingEmbedder(), min_confidence=0.6)


def test_search_scores_sentence_paragraph_and_lexical_evidence_and_cites_the_article(retriever: Retriever,
                                                                                     corpus_dir: Path) -> None:
    hits = retriever.search("Russia and China vetoed a previous European attempt", k=5)
    assert hits[0].text.startswith("Russia and China vetoed")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].article.title.startswith("Russia against sanctions")
    assert hits[0].article.source == "AFP" and str(hits[0].article.published) == "2012-01-25"
    embedder = HashingEmbedder()
    query = embedder.encode(["Russia and China vetoed a previous European attempt"])[0]
    article = next(a for a in read_corpus(corpus_dir) if isinstance(a, Article))
    sentences = article_sentences(article)
    frequencies = Counter(t for s in sentences for t in sentence_terms(article.title, s.text))
    weights = idf_weights(terms("Russia and China vetoed a previous European attempt"), frequencies, len(sentences))
    for hit in hits:
        sentence, paragraph = embedder.encode([f"{article.title}: {hit.text}", article.paragraphs[hit.paragraph]])
        in_paragraph = set().union(*(sentence_terms(article.title, s.text) for s in sentences
                                     if s.paragraph == hit.paragraph))
        evidence = [sentence @ query, paragraph @ query, coverage(weights, [in_paragraph])[0],
                    0.0,  # the question asks for no kind of answer
                    coverage(weights, [sentence_terms(article.title, hit.text)])[0]]
        assert hit.score == pytest.approx(float(np.dot(WEIGHTS, evidence)), abs=1e-5)


def test_k_larger_than_the_index_returns_everything_once(retriever: Retriever) -> None:
    hits = retriever.search("Syria", k=1000)
    assert len(hits) == retriever.manifest.sentences == len({h.sentence_id for h in hits})
    with pytest.raises(ValueError):
        retriever.search("Syria", k=0)


def test_search_many_matches_search(retriever: Retriever) -> None:
    questions = ["Who vetoed?", "", "What did Lavrov say?"]
    batch = retriever.search_many(questions, k=3)
    assert batch == [retriever.search(q, k=3) for q in questions]
    assert batch[1] == []


def test_answer_is_explicit_when_evidence_is_weak_or_question_empty(retriever: Retriever) -> None:
    found = retriever.answer("Russia and China vetoed a previous European attempt")
    assert found.found and found.hits and all(h.score >= 0.3 for h in found.hits)
    missing = retriever.answer("zebra giraffe okapi")
    assert not missing.found and missing.hits == () and missing.message == NOT_FOUND
    for empty in ("", "   ", "\x00\x07"):
        blank = retriever.answer(empty)
        assert not blank.found and blank.message == EMPTY_QUESTION


def test_answer_many_is_answer_for_each_question(retriever: Retriever) -> None:
    questions = ["Russia and China vetoed", "", "   ", "qwertyuiop zxcvbnm", "Russia sanctions", "Lavrov"]
    ks = [3, 3, 1, 2, 5, 1]
    assert retriever.answer_many(questions, ks) == [retriever.answer(q, k) for q, k in zip(questions, ks)]
    assert retriever.answer_many(questions, 2) == [retriever.answer(q, 2) for q in questions]


def test_answer_json_shape(retriever: Retriever) -> None:
    data = retriever.answer("Russia and China vetoed a previous European attempt", k=1).to_dict()
    assert set(data) >= {"question", "found", "hits"}
    hit = data["hits"][0]
    assert set(hit) >= {"text", "score", "article"}
    assert set(hit["article"]) >= {"id", "title", "source", "published", "url"}
    assert hit["article"]["published"] == "2012-01-25"


def test_concurrent_searches_agree(retriever: Retriever) -> None:
    from concurrent.futures import ThreadPoolExecutor

    questions = [f"Lavrov sanctions Syria {n}" for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda q: retriever.search(q, k=3), questions))
    assert parallel == [retriever.search(q, k=3) for q in questions]


def test_clean_question() -> None:
    assert clean_question("  How\tmany\n people? ") == "How many people?"
    assert clean_question("a\x00b\u200bc") == "a b c"
    assert len(clean_question("x" * 50_000)) == 1000
    assert clean_question(None) == ""


def test_the_threshold_follows_the_index_size_unless_one_is_given(corpus_dir: Path, tmp_path: Path) -> None:
    question = "Russia and China vetoed a previous European attempt"
    build_index(corpus_dir, tmp_path / "idx", HashingEmbedder())
    small = Retriever.open(tmp_path / "idx", embedder=HashingEmbedder())
    assert small.min_confidence == default_min_confidence(small.manifest.sentences)
    add_filler_articles(corpus_dir, 30, sentences=100)
    build_index(corpus_dir, tmp_path / "idx", HashingEmbedder())
    large = Retriever.open(tmp_path / "idx", embedder=HashingEmbedder())
    assert large.manifest.sentences > 2_600
    assert large.min_confidence == default_min_confidence(large.manifest.sentences) > small.min_confidence
    sure = large.answer(question).confidence
    assert Retriever.open(tmp_path / "idx", embedder=HashingEmbedder(), min_confidence=sure).answer(question).found
    refused = Retriever.open(tmp_path / "idx", embedder=HashingEmbedder(), min_confidence=sure + 0.01).answer(question)
    assert not refused.found and refused.message == NOT_FOUND


def test_a_retriever_answers_from_an_opened_version_built_with_its_model(corpus_dir: Path, tmp_path: Path) -> None:
    build_index(corpus_dir, tmp_path / "idx", HashingEmbedder())
    question = "Russia and China vetoed a previous European attempt"
    version = open_version(tmp_path / "idx")
    retriever = Retriever(version, HashingEmbedder())
    opened = Retriever.open(tmp_path / "idx", embedder=HashingEmbedder())
    assert retriever.version_dir == version.folder == opened.version_dir
    assert retriever.answer(question) == opened.answer(question)

    class OtherModel(HashingEmbedder):
        name = "some/other-model"

    with pytest.raises(IndexIncompatible, match="built with the model hashing.*newsbot index"):
        Retriever(version, OtherModel())
    retriever.close()
    opened.close()
