"""Order candidate sentences by a learned linear score over evidence that does not merely reward overlap.

The evidence for each candidate (`FEATURES`):
- sentence: cosine of the question and "Title: sentence";
- paragraph: cosine of the question and the sentence's paragraph;
- paragraph_terms: the share of the question's information (IDF-weighted terms) found anywhere in
  the paragraph: the passage is about what was asked, even when the answer sentence rewords it
  ("How many people have died?" -> "...has killed more than 5,400 people");
- answer_type: the question asks for a kind of answer (a number, a date, a person...) and the
  sentence holds one it does not already say (`retrieval.span.offers_answer`);
- sentence_terms: the same share within the sentence itself.

Weights were fitted on SQuAD dev articles 0-23 (`benchmarks/ranker.py`, docs/QUALITY.md) by a
listwise softmax over each question's candidates, with three weights fixed beforehand: the
sentence cosine at 1 (the scale), and the two overlaps, sentence_terms at 0.2 and
paragraph_terms at 0.3. Word overlap is the evidence that real users' reworded questions
punish, so it is not left to the fit (which takes as much as SQuAD rewards: 0.67 for the
paragraph). Each is the largest weight that keeps P@1 at or above dense scoring alone on the
questions that share little with their answer: the sentence's on those sharing < 40% of their
term weight with the answer sentence, the paragraph's on those sharing < 40% with its whole
paragraph, both on the tuning half and on the slice as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FEATURES = ("sentence", "paragraph", "paragraph_terms", "answer_type", "sentence_terms")
WEIGHTS = np.array([1.0, 0.404, 0.3, 0.144, 0.2], dtype=np.float32)
ANSWER_TYPE_DEPTH = 10  # answer types are looked for in this many best candidates (no change in P@1 beyond)


def scores(features: np.ndarray, weights: np.ndarray = WEIGHTS) -> np.ndarray:
    """One score per candidate row of `features` (columns in `FEATURES` order)."""
    return (features @ weights).astype(np.float32)


def fit_weights(features: Sequence[np.ndarray], gold: Sequence[np.ndarray], *, l2: float = 1e-3,
                steps: int = 100) -> np.ndarray:
    """Weights maximising the softmax likelihood of each question's gold candidates.

    `features[q]` is a candidates x features matrix and `gold[q]` a boolean mask of its right
    candidates; questions without a right candidate teach nothing and are skipped. The loss is
    convex; Newton's method with step halving converges in a few dozen steps for a handful of features.
    """
    kept = [(x.astype(np.float64), g / g.sum()) for x, g in zip(features, gold) if g.any()]
    if not kept:
        raise ValueError("no question has a right candidate to learn from")

    def loss(weights: np.ndarray) -> float:
        return l2 * weights @ weights - sum(target @ _log_softmax(x @ weights) for x, target in kept) / len(kept)

    weights = np.zeros(kept[0][0].shape[1])
    current = loss(weights)
    for _ in range(steps):
        gradient = 2 * l2 * weights
        hessian = 2 * l2 * np.eye(len(weights))
        for x, target in kept:
            p = np.exp(_log_softmax(x @ weights))
            gradient += x.T @ (p - target) / len(kept)
            centred = x - p @ x
            hessian += (centred.T * p) @ centred / len(kept)
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        size = 1.0
        while size > 1e-6 and loss(weights - size * step) > current:
            size /= 2
        weights = weights - size * step
        previous, current = current, loss(weights)
        if previous - current < 1e-10:
            break
    return weights


def _log_softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max()
    return shifted - np.log(np.exp(shifted).sum())
