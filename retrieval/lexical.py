"""Lexical evidence that a sentence answers a question: the share of the question's information
(IDF-weighted terms) that the sentence and its title contain.

Bounded in [0, 1]: a rare name counts and "said" hardly does, and a term the corpus lacks
weighs most. The reranker (`retrieval.rerank`) uses it for the paragraph, where it says the
passage is about what was asked, and, lightly, for the sentence itself: questions worded unlike
their answer ("How many people have died?" vs "...has killed more than 5,400 people") must not
lose to sentences that merely repeat the question's words (docs/QUALITY.md measures both).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set

import numpy as np


def term_weights(question_terms: set[str], frequencies: Mapping[str, int], documents: int) -> dict[str, float]:
    """IDF of each question term; a term no sentence has gets the highest weight (it can never match)."""
    return {term: math.log((documents + 1) / (frequencies.get(term, 0) + 0.5)) for term in question_terms}


def coverage(weights: Mapping[str, float], candidates: Sequence[Set[str]]) -> np.ndarray:
    """For each candidate's term set, the share of the question's total term weight it contains."""
    total = sum(weights.values())
    if total <= 0:
        return np.zeros(len(candidates), dtype=np.float32)
    return np.array([sum(w for term, w in weights.items() if term in found) / total for found in candidates],
                    dtype=np.float32)
