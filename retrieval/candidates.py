"""Find the candidate sentences for a question, and their dense similarities.

Pure functions over arrays, tested against a brute-force scoring of every sentence.
FAISS proposes the best sentences by their own score, and every sentence of the best
paragraphs (an answer's sentence may be plain while its paragraph is about the question); the caller
adds the sentences that share the question's rare words (BM25 over the stored terms,
`index.metadata.MetadataReader.lexical_candidates`), which a long sentence's vector can miss; the
reranker (`retrieval.features`) then orders them with the rest of the evidence. The products here are
small and fastest on one BLAS thread, which the process chooses where it starts (retrieval/threads.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from newsbot.index.vectors import fetch_vectors, search_vectors
from newsbot.index.version import VectorSearch

# The knee of the curve on SQuAD dev's 10,250 sentences (benchmarks/research/candidates.py, docs/QUALITY.md): these
# hold the gold sentence for 98.7% of questions; 200 sentences or 40 paragraphs add 0.1 point of P@1 at most
# for 1.3-1.8 x the time of the steps after encoding, 50 sentences lose 0.2, and no paragraphs cost the
# low-overlap slice 1.8 points of R@5 (a reworded question's answer is found through its paragraph).
SENTENCE_CANDIDATES = 100
PARAGRAPH_CANDIDATES = 10
# The question's best sentences by BM25 over its terms (benchmarks/research/candidates.py --lexical, docs/QUALITY.md):
# 10 raise the gold sentence's presence among the candidates from 98.7% to 99.4% and, on the questions of
# articles 0-23, R@5 0.928 -> 0.933 and P@1 0.740 -> 0.742; 20, 50 or 100 add nothing there for 6-70 more
# candidates (one long sentence the embeddings miss, such as a quote's closing attribution, is found by its words).
LEXICAL_CANDIDATES = 10
# Terms held by more sentences than this stay out of the BM25 query: its cost is their sentences, all scored.
# At a million synthetic sentences (benchmarks/research/lexical_scale.py) the OR of every term took 318 ms p50,
# of the terms in at most 1,000 sentences 0.18 ms p50 and 2.0 ms p99; such a common term says little about
# which sentence answers, and the embeddings still see it. No SQuAD dev question term is that common.
LEXICAL_TERM_SENTENCES = 1000


def rare_terms(question_terms: Iterable[str], document_frequencies: Mapping[str, int], *,
               most: int = LEXICAL_TERM_SENTENCES) -> set[str]:
    """The question's terms worth a lexical search: held by some sentence, and by at most `most`."""
    return {term for term in question_terms if 0 < document_frequencies.get(term, 0) <= most}


@dataclass(frozen=True)
class Candidates:
    """One question's candidate sentences (ascending ids) with their paragraphs and cosines."""

    ids: np.ndarray
    sentence_scores: np.ndarray  # cos(question, "Title: sentence")
    paragraphs: np.ndarray  # the paragraph row of each sentence
    paragraph_scores: np.ndarray  # cos(question, paragraph)


def find_candidates(queries: np.ndarray, sentences: VectorSearch, paragraphs: VectorSearch,
                    paragraph_vectors: np.ndarray, sentence_paragraphs: np.ndarray,
                    lexical: Sequence[np.ndarray] | None = None, *, sentence_candidates: int = SENTENCE_CANDIDATES,
                    paragraph_candidates: int = PARAGRAPH_CANDIDATES) -> list[Candidates]:
    """For each query row, the union of its best sentences, of every sentence of its best paragraphs
    and of `lexical[row]` (sentence ids found by its words; none when not given).

    `paragraphs` indexes the rows of `paragraph_vectors` (which may be memory-mapped: only the
    candidates' rows are read). `sentence_paragraphs[i]` is the paragraph row of sentence i; it
    never decreases, since a paragraph's sentences are stored together.
    """
    if sentences.ntotal == 0:
        empty = np.empty(0, np.int64)
        return [Candidates(empty, empty.astype(np.float32), empty, empty.astype(np.float32)) for _ in queries]
    _, proposed = search_vectors(sentences, queries, sentence_candidates)
    _, best_paragraphs = search_vectors(paragraphs, queries, paragraph_candidates)
    found = []
    for row, query in enumerate(queries):
        from_paragraphs = [np.arange(*np.searchsorted(sentence_paragraphs, [p, p + 1]))
                           for p in best_paragraphs[row] if p >= 0]
        found_by_words = [] if lexical is None else [np.asarray(lexical[row], dtype=np.int64)]
        ids = np.unique(np.concatenate([proposed[row][proposed[row] >= 0], *from_paragraphs, *found_by_words])
                        ).astype(np.int64)
        rows = np.asarray(sentence_paragraphs[ids])
        distinct, position = np.unique(rows, return_inverse=True)
        paragraph_scores = (np.asarray(paragraph_vectors[distinct]) @ query)[position]
        found.append(Candidates(ids, (fetch_vectors(sentences, ids) @ query).astype(np.float32), rows,
                                paragraph_scores.astype(np.float32)))
    return found
