"""BM25 as SQLite's FTS5 `bm25()` computes it, for a store without FTS5: the same lexical candidates from
the same stored terms, so that the Milvus store ranks as the files store does (tests/test_milvus_store.py).

FTS5 scores a row by sum over the query's phrases of idf * f * (k1 + 1) / (f + k1 * (1 - b + b * D / avgdl)),
idf = ln((N - n + 0.5) / (n + 0.5)) (1e-6 when not positive), with k1 = 1.2 and b = 0.75, D the row's tokens
and avgdl their mean over the N rows. A sentence's stored terms are a set, one token each, so f is 1 and D the
number of its terms; n is the term's document frequency (`index.lexicon`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Set

import numpy as np

K1 = 1.2
B = 0.75
SMALLEST_IDF = 1e-6  # FTS5's floor for a term most rows hold


def bm25_best(question_terms: Iterable[str], held: Mapping[int, Set[str]], lengths: Mapping[int, int],
              frequencies: Mapping[str, int], documents: int, average_terms: float, limit: int) -> np.ndarray:
    """The ids of the (at most `limit`) sentences best matching any question term, best first, equal scores in
    id order; `held` maps each sentence holding some question term to those it holds, `lengths` to its number of
    terms."""
    wanted = sorted(set(question_terms))
    idf = {term: max(math.log((documents - frequencies.get(term, 0) + 0.5) / (frequencies.get(term, 0) + 0.5)),
                     SMALLEST_IDF) for term in wanted}
    scored = []
    for sentence, found in held.items():
        norm = 1 - B + B * lengths[sentence] / average_terms if average_terms > 0 else 1.0
        score = sum(idf[term] * (K1 + 1) / (1 + K1 * norm) for term in wanted if term in found)
        if score > 0:
            scored.append((-score, sentence))
    return np.array([sentence for _, sentence in sorted(scored)[:max(limit, 0)]], dtype=np.int64)
