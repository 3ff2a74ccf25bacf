"""Questions over many stories: the story a question names goes first, and a question that fits several
stories shows the best sentence of each.

Pure functions over a question's ranked candidates; `Retriever` calls `named_story_first` after scoring
and `best_per_article` when it chooses an answer's sentences.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from newsbot.index.metadata import ArticleTerms
from newsbot.index.version import SentenceMetadata

# When another candidate article's sentences go first (`named_story_first`), measured on SQuAD dev 0-23 and
# the two Syria questions of tests/data/many_stories.json (benchmarks/research/stories.py, docs/QUALITY.md#many-stories):
# the question names it by at least NAMED_LEAD nats (4.5 times likelier) more than the best sentence's article,
# by a term at most 1 sentence in e^NAMED_RARE (148) of the index holds, and its best sentence scores within
# NAMED_WITHIN of the best (0.4 was enough until "death toll" asked for a number: the plague's "death rate of
# about a third" then gains the answer-type evidence and leads the Syria sentence by 0.42; 0.5 and 0.6 move
# nothing on SQuAD either). Without the rarity condition, common words in other articles' titles ("church",
# "private", "parliament") reorder 1.4% of SQuAD's questions and cost 0.7 points of P@1; with it, none, for
# leads from 1 to 2, score margins from 0.3 to 0.5 and rarities from 4.6 to 5.6.
NAMED_LEAD = 1.5
NAMED_RARE = 5.0
NAMED_WITHIN = 0.5
# How far below the best score another article's best sentence may be and still be shown beside it: within
# 0.1 the runner-up article's best is right a third to a half as often as the top sentence (12-15% against
# 30-37%, SQuAD dev 0-23), beyond it 3.5% or less (benchmarks/research/stories.py, docs/QUALITY.md#many-stories)
CLOSE_MARGIN = 0.1
# How many ranked sentences an answer chooses from: another story's best within CLOSE_MARGIN is among them
# unless over 20 sentences of one story score that close
STORY_DEPTH = 20


def story_lift(weights: Mapping[str, float], article: ArticleTerms) -> float:
    """How strongly the question names the article: the most any one of its terms says about it, in nats.

    A term says most when it is rare in the index (its IDF, `weights`) but frequent in the article: its
    lift is the log of how much likelier a sentence of the article is to hold it than any sentence,
    IDF + ln(the share of the article's sentences holding it), the IDF itself for a title term (a
    sentence's terms hold its title's). The most, not the sum: "death toll in Syria" names the story
    on Syria, whose title holds "Syria", not a history of the plague that holds "death" in its title
    and "Syria" in 3 of 230 sentences, although their sums are close.
    """
    if article.sentences == 0:
        return 0.0
    return max((w + math.log(article.counts[term] / article.sentences)
                for term, w in weights.items() if article.counts[term]), default=0.0)


def candidate_lifts(weights: Mapping[str, float], ids: np.ndarray, metadata: SentenceMetadata) -> np.ndarray:
    """Each candidate sentence's article's `story_lift` (each article's term counts read once, then kept)."""
    articles, position = np.unique(metadata.articles_of(ids), return_inverse=True)
    lifts = np.array([story_lift(weights, metadata.article_terms(int(a))) for a in articles], dtype=np.float64)
    return lifts[position.reshape(-1)]


def named_story_first(order: np.ndarray, scores: np.ndarray, lifts: np.ndarray, lead: float = NAMED_LEAD,
                      within: float = NAMED_WITHIN, rare: float = NAMED_RARE) -> np.ndarray:
    """The ranking `order` (candidate positions, best first) with the candidates of the articles the
    question names more strongly than the best candidate's, by at least `lead`, moved ahead in their own
    order when their best scores within `within` of the best. `lifts[i]` is candidate i's article's `story_lift`."""
    if len(order) == 0:
        return order
    named = ((lifts[order] >= np.maximum(lifts[order[0]] + lead, rare))
             & (scores[order] >= scores[order[0]] - within))
    if not named.any():
        return order
    named = lifts[order] >= lifts[order][named].min()  # every sentence of those stories
    return np.concatenate([order[named], order[~named]])


def best_per_article(scores: Sequence[float], articles: Sequence[Hashable], k: int,
                     margin: float = CLOSE_MARGIN) -> list[int]:
    """Positions of the k ranked sentences to show (`scores` best first, `articles` their articles).

    The best sentence of every article whose best is within `margin` of the first's score (or above
    it, when `named_story_first` put the named story first) comes first, in rank order; the rest of the
    k places keep the ranking. With one such article this is the ranking's own top k.
    """
    firsts: dict[Hashable, int] = {}
    for position, article in enumerate(articles):
        firsts.setdefault(article, position)
    close = [position for position in firsts.values() if scores[0] - scores[position] <= margin] if scores else []
    shown = set(close)
    return (close + [position for position in range(len(scores)) if position not in shown])[:k]
