"""Fitting the reranker's weights (`retrieval.features.FEATURES`) on questions with known answers.

`fit_named` reads and writes weights by feature name: the caller fixes some (the sentence cosine at
1, the scale, and the overlaps real users' reworded questions punish) and the rest are fitted.
`benchmarks/research/ranker.py` runs it on SQuAD dev 0-23 (docs/QUALITY.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from newsbot.retrieval.features import NAMES


def fit_named(features: Sequence[np.ndarray], gold: Sequence[np.ndarray], fixed: Mapping[str, float],
              free: Collection[str]) -> dict[str, float]:
    """Every feature's weight by name: `fixed` ones as given, `free` ones fitted, the rest 0.

    `features[q]` is a candidates x `NAMES` matrix. The fixed features enter the fit as one column,
    their weighted sum, so the fitted weights come out on the scale the fixed ones set.
    """
    fitting = [name for name in NAMES if name in free and name not in fixed]
    combined = [np.column_stack([sum(w * x[:, NAMES.index(name)] for name, w in fixed.items()),
                                 x[:, [NAMES.index(name) for name in fitting]]]) for x in features]
    fitted = fit_weights(combined, gold)
    return {name: fixed.get(name, 0.0) for name in NAMES} | dict(zip(fitting, (fitted[1:] / fitted[0]).tolist()))


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
