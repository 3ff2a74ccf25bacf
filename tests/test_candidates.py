import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbot.index.vectors import new_vector_index
from newsbot.retrieval.candidates import find_candidates, rare_terms


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _corpus(seed: int, paragraphs: int, per_paragraph: int, dimension: int = 16):
    rng = np.random.default_rng(seed)
    sentence_paragraphs = np.repeat(np.arange(paragraphs), rng.integers(1, per_paragraph + 1, size=paragraphs))
    sentences = _unit(rng.normal(size=(len(sentence_paragraphs), dimension)))
    paragraph_vectors = _unit(rng.normal(size=(paragraphs, dimension)))
    return rng, _indexed(sentences), sentences, paragraph_vectors, sentence_paragraphs


def _indexed(vectors: np.ndarray):
    index = new_vector_index(vectors.shape[1])
    index.add(vectors)
    return index


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 6))
def test_candidates_carry_the_brute_force_cosines_and_cover_a_small_corpus(seed: int, paragraphs: int,
                                                                         per_paragraph: int) -> None:
    rng, index, sentences, paragraph_vectors, sentence_paragraphs = _corpus(seed, paragraphs, per_paragraph)
    queries = _unit(rng.normal(size=(3, 16)))
    everything = find_candidates(queries, index, _indexed(paragraph_vectors), paragraph_vectors,
                                 sentence_paragraphs, sentence_candidates=len(sentences))
    for query, found in zip(queries, everything):
        np.testing.assert_array_equal(found.ids, np.arange(len(sentences)))  # every sentence is a candidate
        np.testing.assert_allclose(found.sentence_scores, sentences @ query, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(found.paragraphs, sentence_paragraphs)
        np.testing.assert_allclose(found.paragraph_scores, (paragraph_vectors @ query)[sentence_paragraphs],
                                   rtol=1e-5, atol=1e-5)


def test_candidates_are_the_best_sentences_and_every_sentence_of_the_best_paragraphs() -> None:
    rng, index, sentences, paragraph_vectors, sentence_paragraphs = _corpus(7, paragraphs=200, per_paragraph=5)
    query = _unit(rng.normal(size=16))
    target = int(sentence_paragraphs[-1])
    paragraph_vectors[target] = query  # a perfect paragraph whose sentences are ordinary
    members = set(np.nonzero(sentence_paragraphs == target)[0])
    own_best = set(np.argsort(-(sentences @ query))[:3])
    assert not members <= own_best  # FAISS alone would not propose them all
    found = find_candidates(query[None, :], index, _indexed(paragraph_vectors), paragraph_vectors,
                            sentence_paragraphs, sentence_candidates=3, paragraph_candidates=2)[0]
    best_paragraphs = set(np.argsort(-(paragraph_vectors @ query))[:2])
    expected = own_best | set(np.nonzero(np.isin(sentence_paragraphs, list(best_paragraphs)))[0])
    assert members <= set(found.ids) and set(found.ids) == expected


def test_an_empty_index_has_no_candidates() -> None:
    index = new_vector_index(4)
    found = find_candidates(_unit(np.ones((2, 4))), index, new_vector_index(4), np.zeros((0, 4), np.float32),
                            np.zeros(0, np.int64))
    assert [len(f.ids) for f in found] == [0, 0]


def test_the_sentences_found_by_words_join_with_their_own_cosines() -> None:
    rng, index, sentences, paragraph_vectors, sentence_paragraphs = _corpus(11, paragraphs=100, per_paragraph=4)
    query = _unit(rng.normal(size=16))
    args = (query[None, :], index, _indexed(paragraph_vectors), paragraph_vectors, sentence_paragraphs)
    [dense] = find_candidates(*args, sentence_candidates=5, paragraph_candidates=1)
    worst = [int(i) for i in np.argsort(sentences @ query)[:3]]  # no embedding search proposes these
    assert not set(worst) & set(dense.ids)
    [hybrid] = find_candidates(*args, [np.array(worst)], sentence_candidates=5, paragraph_candidates=1)
    assert set(hybrid.ids) == set(dense.ids) | set(worst) and list(hybrid.ids) == sorted(hybrid.ids)
    np.testing.assert_allclose(hybrid.sentence_scores, sentences[hybrid.ids] @ query, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hybrid.paragraph_scores, (paragraph_vectors @ query)[sentence_paragraphs[hybrid.ids]],
                               rtol=1e-5, atol=1e-5)


def test_only_the_rare_terms_of_a_question_are_searched_by_words() -> None:
    frequencies = {"nuland": 1, "spokeswoman": 40, "state": 900, "said": 5000}
    asked = {"nuland", "spokeswoman", "state", "said", "zanzibarite"}  # the last is in no sentence
    assert rare_terms(asked, frequencies, most=1000) == {"nuland", "spokeswoman", "state"}
    assert rare_terms(asked, frequencies, most=40) == {"nuland", "spokeswoman"}
    assert rare_terms({"said"}, frequencies, most=1000) == set()  # then no lexical candidates at all
