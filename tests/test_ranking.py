import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from index.vectors import new_vector_index
from retrieval.ranking import combined_scores, rank_sentences


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _corpus(seed: int, paragraphs: int, per_paragraph: int, dimension: int = 16):
    rng = np.random.default_rng(seed)
    sentence_paragraphs = np.repeat(np.arange(paragraphs), rng.integers(1, per_paragraph + 1, size=paragraphs))
    sentences = _unit(rng.normal(size=(len(sentence_paragraphs), dimension)))
    paragraph_vectors = _unit(rng.normal(size=(paragraphs, dimension)))
    index = new_vector_index(dimension)
    index.add(sentences)
    return rng, index, sentences, paragraph_vectors, sentence_paragraphs


def _brute_force(queries, sentences, paragraph_vectors, sentence_paragraphs, k, weight):
    scores = queries @ sentences.T + weight * (queries @ paragraph_vectors.T)[:, sentence_paragraphs]
    return [np.argsort(-row, kind="stable")[:k] for row in scores], scores


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 6), st.integers(1, 12),
       st.sampled_from([0.0, 0.4, 1.0]))
def test_equals_brute_force_when_candidates_cover_the_corpus(seed: int, paragraphs: int, per_paragraph: int,
                                                               k: int, weight: float) -> None:
    rng, index, sentences, paragraph_vectors, sentence_paragraphs = _corpus(seed, paragraphs, per_paragraph)
    queries = _unit(rng.normal(size=(3, 16)))
    ranked = rank_sentences(queries, index, paragraph_vectors, sentence_paragraphs, k, weight=weight)
    expected, scores = _brute_force(queries, sentences, paragraph_vectors, sentence_paragraphs, k, weight)
    for row, (ids, got) in enumerate(ranked):
        assert len(ids) == min(k, len(sentences))
        np.testing.assert_allclose(got, scores[row][expected[row]], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(scores[row][ids], got, rtol=1e-5, atol=1e-5)


def test_sentences_of_the_best_paragraph_are_found_beyond_the_sentence_candidates() -> None:
    rng, index, sentences, paragraph_vectors, sentence_paragraphs = _corpus(7, paragraphs=200, per_paragraph=5)
    query = _unit(rng.normal(size=16))
    target = int(sentence_paragraphs[-1])
    paragraph_vectors[target] = query  # a perfect paragraph whose sentences are ordinary
    members = set(np.nonzero(sentence_paragraphs == target)[0])
    own_best = set(np.argsort(-(sentences @ query))[:3])
    assert not members <= own_best  # FAISS alone would not propose them all
    ranked = rank_sentences(query[None, :], index, paragraph_vectors, sentence_paragraphs, 5, weight=1.0,
                            sentence_candidates=3, paragraph_candidates=2)
    assert members <= set(ranked[0][0])


def test_combined_score_is_sentence_plus_weighted_paragraph() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(combined_scores(query, vectors, np.array([0.5, 1.0]), 0.4), [1.2, 0.4])


def test_an_empty_index_ranks_nothing() -> None:
    index = new_vector_index(4)
    ranked = rank_sentences(_unit(np.ones((2, 4))), index, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), 3)
    assert [len(ids) for ids, _ in ranked] == [0, 0]
