"""Rank sentences for a question: the sentence's own similarity plus a share of its paragraph's.

Pure functions over arrays, tested against a brute-force scoring of every sentence.
FAISS proposes candidates (the best sentences by their own score, and every sentence of the best
paragraphs); the combined score then orders them. With enough candidates this equals scoring
every sentence, at the cost of a few hundred dot products.
"""

from __future__ import annotations

import faiss
import numpy as np

from index.vectors import search_vectors

PARAGRAPH_WEIGHT = 0.4  # tuned on SQuAD dev articles 0-23 (docs/QUALITY.md)
SENTENCE_CANDIDATES = 100
PARAGRAPH_CANDIDATES = 10


def rank_sentences(queries: np.ndarray, sentences: faiss.Index, paragraph_vectors: np.ndarray,
                   sentence_paragraphs: np.ndarray, k: int, *, weight: float = PARAGRAPH_WEIGHT,
                   sentence_candidates: int = SENTENCE_CANDIDATES,
                   paragraph_candidates: int = PARAGRAPH_CANDIDATES) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each query row, the ids and combined scores of its best k sentences, best first.

    `sentence_paragraphs[i]` is the paragraph row of sentence i; it never decreases, since a
    paragraph's sentences are stored together.
    """
    if sentences.ntotal == 0:
        return [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in queries]
    _, proposed = search_vectors(sentences, queries, max(k, sentence_candidates))
    paragraph_scores = queries @ paragraph_vectors.T
    best_paragraphs = _top(paragraph_scores, paragraph_candidates)
    results = []
    for row, query in enumerate(queries):
        from_paragraphs = [np.arange(*np.searchsorted(sentence_paragraphs, [p, p + 1])) for p in best_paragraphs[row]]
        candidates = np.unique(np.concatenate([proposed[row][proposed[row] >= 0], *from_paragraphs]))
        scores = combined_scores(query, sentences.reconstruct_batch(candidates),
                                 paragraph_scores[row, sentence_paragraphs[candidates]], weight)
        order = np.argsort(-scores, kind="stable")[:k]
        results.append((candidates[order], scores[order]))
    return results


def combined_scores(query: np.ndarray, sentence_vectors: np.ndarray, paragraph_scores: np.ndarray,
                    weight: float = PARAGRAPH_WEIGHT) -> np.ndarray:
    """Cosine of question and sentence, plus `weight` times the cosine of question and paragraph."""
    return (sentence_vectors @ query + weight * paragraph_scores).astype(np.float32)


def _top(scores: np.ndarray, count: int) -> np.ndarray:
    count = min(count, scores.shape[1])
    if count == scores.shape[1]:
        return np.tile(np.arange(count), (len(scores), 1))
    return np.argpartition(-scores, count - 1, axis=1)[:, :count]
