"""Knowing when not to answer: how likely the best sentence is to answer the question, and the
thresholds for an answer, a hedged answer ("I am not sure; the closest I found") and "not found".

The confidence reads evidence that survives rewording: the embedding similarities of the best
sentence and of its paragraph, how far that paragraph stands out from the other candidates'
paragraphs, and the best sentence's lead over the runner-up in the reranked order. Words shared with
the article order the candidates (`retrieval.features`) but are not read here: a question worded
unlike its answer ("What's the death toll so far?") shares few of them while its answer still stands
out. Fitted and measured by `benchmarks/research/confidence.py` (docs/QUALITY.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from newsbot.retrieval.features import NAMES

# Logistic regression of "the best sentence is a right answer" against "the question has no answer in
# the index" on SQuAD dev 0-23: half of the articles indexed (other articles' questions as negatives)
# and their even paragraphs indexed (the odd paragraphs' questions, on topic but unanswerable, as negatives)
WEIGHTS = {"sentence": 3.13, "paragraph": 2.22, "paragraph_lead": 1.739, "lead": 5.512}
BIAS = -3.608
# The size-aware default threshold in log-odds, a + b ln(sentences): the least-squares fit of the thresholds
# that refuse 95% of out-of-corpus questions in 48 indexes of 1-20 articles of SQuAD dev 0-23
# (benchmarks/research/abstention_sizes.py)
THRESHOLD_AT_ONE_SENTENCE = -2.895
THRESHOLD_PER_LOG_SENTENCE = 0.284
# Not used below the size the weights were fitted at (the 1,300-sentence tuning split): single articles
# of 127-454 sentences needed 0.15-0.27 to refuse 95% of out-of-corpus questions, one far above the curve,
# and on the 13-sentence bundled article an off-topic question whose one paragraph stands out by chance
# reaches 0.29 ("What is the capital of Australia?" over "...capitalising on...")
THRESHOLD_FLOOR_SENTENCES = 1300
# A sure answer needs this much more (in log-odds) than a hedged one: the margin that gives the best
# F1 of sure answers over on-topic questions on SQuAD dev 0-23, unanswerable ones counted twice
SURE_MARGIN = 0.95
# and never less than where that margin put it on the tuning split (1,300 sentences, log-odds -0.573 + 0.95):
# a small index's lower threshold is for refusing less, not for being sure of more
SURE_FLOOR = 0.593

Outcome = Literal["sure", "hedged", "missing", "not found"]


@dataclass(frozen=True)
class Signals:
    """The evidence about a question's best sentence that the confidence reads."""

    sentence: float  # cosine of the question and the best sentence
    paragraph: float  # cosine of the question and the best sentence's paragraph
    paragraph_lead: float  # that cosine minus the best of any other candidate paragraph (0 when none)
    lead: float  # the best sentence's reranked score minus the runner-up's (0 when alone)


def signals(matrix: np.ndarray, ranked: np.ndarray, paragraphs: np.ndarray) -> Signals | None:
    """The Signals of the best candidate from the candidates x `FEATURES` matrix, their scores and
    paragraph rows, all ordered best first; None without candidates."""
    if len(ranked) == 0:
        return None
    paragraph = matrix[:, NAMES.index("paragraph")]
    others = paragraphs != paragraphs[0]
    return Signals(sentence=float(matrix[0, NAMES.index("sentence")]), paragraph=float(paragraph[0]),
                   paragraph_lead=float(paragraph[0] - paragraph[others].max()) if others.any() else 0.0,
                   lead=float(ranked[0] - ranked[1]) if len(ranked) > 1 else 0.0)


def confidence(evidence: Signals | None) -> float:
    """The fitted probability that the best sentence answers the question (0 without one)."""
    if evidence is None:
        return 0.0
    return _probability(BIAS + sum(weight * getattr(evidence, name) for name, weight in WEIGHTS.items()))


def default_min_confidence(sentences: int) -> float:
    """The confidence an answer (sure or hedged) needs by default in an index of `sentences` sentences.

    Why it grows with the index: a question the index cannot answer still meets its best sentence,
    and the best of n unrelated scores grows like the logarithm of n (the maximum of n draws from a
    roughly exponential tail), so a fixed threshold answers ever more such questions as an archive
    grows, and refuses too much in a small one. The curve refuses 95% of out-of-corpus questions in
    the measured indexes, so that a new index refuses at least 90% (docs/QUALITY.md).
    """
    size = max(int(sentences), THRESHOLD_FLOOR_SENTENCES)
    return _probability(THRESHOLD_AT_ONE_SENTENCE + THRESHOLD_PER_LOG_SENTENCE * math.log(size))


def sure_confidence(min_confidence: float, margin: float = SURE_MARGIN) -> float:
    """The confidence a sure answer needs where `min_confidence` is what any answer needs."""
    return max(SURE_FLOOR, _probability(_log_odds(min_confidence) + margin))


def outcome(sure: float, min_confidence: float, missing: str | None, margin: float = SURE_MARGIN) -> Outcome:
    """What to say given the confidence, the threshold and what the best sentence lacks (`missing`,
    from `retrieval.span.missing_answer`): an answer, a hedged answer, what is missing, or not found.

    A sentence without the kind of answer asked for ("how many children" over one that counts
    people) is never presented as the answer, however close it is: the reply says what is missing and
    shows it as the closest found, which tells the user more than "not found" about a story they know
    is there."""
    if sure < min_confidence:
        return "not found"
    if missing is not None:
        return "missing"
    return "sure" if sure >= sure_confidence(min_confidence, margin) else "hedged"


def _probability(log_odds: float) -> float:
    return 1.0 / (1.0 + math.exp(-log_odds))


def _log_odds(probability: float) -> float:
    clipped = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log(clipped / (1 - clipped))
