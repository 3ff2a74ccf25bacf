"""The evidence that orders a question's candidate sentences: each feature a function beside its weight.

A candidate's score is the weighted sum of its features (`FEATURES`, whose order is the columns'):
- sentence: cosine of the question and "Title: sentence";
- paragraph: cosine of the question and the sentence's paragraph;
- paragraph_terms: the share of the question's information (IDF-weighted terms) found anywhere in
  the paragraph: the passage is about what was asked, even when the answer sentence rewords it
  ("How many people have died?" -> "...has killed more than 5,400 people");
- answer_type: the question asks for a kind of answer (a number, a date, a person...) and the
  sentence holds one it does not already say (`retrieval.span.offers_answer`);
- sentence_terms: the same share within the sentence itself.

Weights were fitted on SQuAD dev articles 0-23 (`benchmarks/research/ranker.py`, docs/QUALITY.md) by a
listwise softmax over each question's candidates, with three weights fixed beforehand: the
sentence cosine at 1 (the scale), and the two overlaps, sentence_terms at 0.2 and
paragraph_terms at 0.3. Word overlap is the evidence that real users' reworded questions
punish, so it is not left to the fit (which takes as much as SQuAD rewards: 0.67 for the
paragraph). Each is the largest weight that keeps P@1 at or above dense scoring alone on the
questions that share little with their answer: the sentence's on those sharing < 40% of their
term weight with the answer sentence, the paragraph's on those sharing < 40% with its whole
paragraph, both on the tuning half and on the slice as a whole.

A new feature is a function here and a line in `FEATURES`; the fit reads and writes weights by name
(`retrieval.evaluation.fit`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace

import numpy as np

from newsbot.corpus.terms import terms
from newsbot.index.version import IndexVersion, SentenceMetadata
from newsbot.retrieval.candidates import Candidates
from newsbot.retrieval.span import offers_answer

ANSWER_TYPE_DEPTH = 10  # answer types are looked for in this many best candidates (no change in P@1 beyond)


@dataclass(frozen=True)
class Evidence:
    """What one question's features are computed from."""

    question: str
    candidates: Candidates
    term_weights: Mapping[str, float]  # the question's terms and their IDF (`idf_weights`)
    metadata: SentenceMetadata  # the candidates' texts and terms
    provisional: np.ndarray | None = None  # the score by every feature but the `ranked` ones


@dataclass(frozen=True)
class Feature:
    """One column of evidence: its weight, and the function giving its value for every candidate.

    A `ranked` feature is too slow to compute for every candidate: it is computed last, from the
    score the other features give (`Evidence.provisional`), for the best of them only.
    """

    weight: float
    compute: Callable[[Evidence], np.ndarray]
    ranked: bool = False


def sentence_cosine(evidence: Evidence) -> np.ndarray:
    return evidence.candidates.sentence_scores


def paragraph_cosine(evidence: Evidence) -> np.ndarray:
    return evidence.candidates.paragraph_scores


def paragraph_terms(evidence: Evidence) -> np.ndarray:
    """The share of the question's term weight in each candidate's paragraph (each paragraph read once)."""
    rows = np.unique(evidence.candidates.paragraphs)
    shares = dict(zip(rows.tolist(), coverage(evidence.term_weights, evidence.metadata.paragraph_terms(rows))))
    return np.array([shares[p] for p in evidence.candidates.paragraphs.tolist()], dtype=np.float32)


def answer_type(evidence: Evidence) -> np.ndarray:
    """1 where one of the ANSWER_TYPE_DEPTH best candidates offers the kind of answer the question asks for."""
    assert evidence.provisional is not None, "answer_type is a ranked feature"
    found = np.zeros(len(evidence.candidates.ids), dtype=np.float32)
    best = np.argsort(-evidence.provisional, kind="stable")[:ANSWER_TYPE_DEPTH]
    found[best] = [offers_answer(evidence.question, text) for text in evidence.metadata.texts(evidence.candidates.ids[best])]
    return found


def sentence_terms(evidence: Evidence) -> np.ndarray:
    return coverage(evidence.term_weights, evidence.metadata.terms(evidence.candidates.ids))


FEATURES: dict[str, Feature] = {
    "sentence": Feature(1.0, sentence_cosine),
    "paragraph": Feature(0.404, paragraph_cosine),
    "paragraph_terms": Feature(0.3, paragraph_terms),
    "answer_type": Feature(0.144, answer_type, ranked=True),
    "sentence_terms": Feature(0.2, sentence_terms),
}
NAMES = tuple(FEATURES)
WEIGHTS = np.array([feature.weight for feature in FEATURES.values()], dtype=np.float32)


def feature_matrix(question: str, candidates: Candidates, version: IndexVersion) -> np.ndarray:
    """The candidates x `FEATURES` matrix of evidence for a (cleaned) question."""
    weights = idf_weights(terms(question), version.document_frequencies, version.manifest.sentences)
    evidence = Evidence(question, candidates, weights, version.metadata)
    matrix = np.zeros((len(candidates.ids), len(FEATURES)), dtype=np.float32)
    for column, feature in enumerate(FEATURES.values()):
        if not feature.ranked:
            matrix[:, column] = feature.compute(evidence)
    evidence = replace(evidence, provisional=scores(matrix))
    for column, feature in enumerate(FEATURES.values()):
        if feature.ranked:
            matrix[:, column] = feature.compute(evidence)
    return matrix


def scores(matrix: np.ndarray, weights: np.ndarray = WEIGHTS) -> np.ndarray:
    """One score per candidate row of a feature matrix."""
    return (matrix @ weights).astype(np.float32)


def weight_vector(named: Mapping[str, float]) -> np.ndarray:
    """Weights given by feature name as a vector in column order; a feature not named weighs 0."""
    unknown = set(named) - set(NAMES)
    if unknown:
        raise ValueError(f"no such features: {', '.join(sorted(unknown))}")
    return np.array([named.get(name, 0.0) for name in NAMES])


def idf_weights(question_terms: Set[str], frequencies: Mapping[str, int], documents: int) -> dict[str, float]:
    """Each question term's BM25 IDF as Lucene computes it, ln(1 + (N - df + 0.5) / (df + 0.5)) =
    ln((N + 1) / (df + 0.5)) over N sentences: positive even for a term most sentences hold, and
    highest for a term no sentence has (it can never match, so it only lowers every share)."""
    return {term: math.log((documents + 1) / (frequencies.get(term, 0) + 0.5)) for term in question_terms}


def coverage(weights: Mapping[str, float], candidates: Sequence[Set[str]]) -> np.ndarray:
    """For each candidate's term set, the share of the question's total term weight it contains: in [0, 1],
    so a rare name counts and "said" hardly does, and overlap can reorder close sentences but not lift far ones."""
    total = sum(weights.values())
    if total <= 0:
        return np.zeros(len(candidates), dtype=np.float32)
    return np.array([sum(w for term, w in weights.items() if term in found) / total for found in candidates],
                    dtype=np.float32)
