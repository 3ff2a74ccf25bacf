"""When several articles answer a question about equally well, the most recently published one leads.

News figures and statements change; of two sentences the ranker cannot tell apart, the newer report is
the one a reader wants first. Pure functions over a question's ranked hits; `retriever._answer` calls
`newest_first` before it chooses the answer's sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

# How far below the best score a newer article's sentence may be and still lead. Measured on SQuAD dev articles
# 0-23 with a random publication date per article, 10 draws (benchmarks/research/dates.py, docs/QUALITY.md#answers-that-know-their-dates):
# the largest margin whose reordering costs P@1 less than 0.05 point on average; reported on 24-47.
RECENCY_MARGIN = 0.02


def newest_first(scores: Sequence[float], published: Sequence[date | None],
                 margin: float = RECENCY_MARGIN) -> list[int]:
    """Positions of the ranked sentences (`scores` best first, `published` their articles' dates) in their
    new order: among those within `margin` of the first's score, the dated ones newest first (equal dates
    in rank order) in the places dated ones held; an undated sentence keeps its place, as nothing says it
    is older. The rest keep their rank order."""
    order = list(range(len(scores)))
    slots = [i for i in order if scores[0] - scores[i] <= margin and published[i] is not None]
    for slot, position in zip(slots, sorted(slots, key=lambda i: published[i], reverse=True)):  # stable
        order[slot] = position
    return order
