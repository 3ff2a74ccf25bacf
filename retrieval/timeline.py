"""A changing figure's reports over time: for "how many have died?", each figure the articles give, newest first.

News figures grow (a death toll of "more than 5,400 people" on 25 January is 7,500 a month later), and a
sentence that reports an old figure answers the question as well as one that reports the new figure. When
the sentences that answer a question about a figure from different articles give different figures, the
answer leads with the latest and lists the earlier ones, dated, with every source that reported each. Pure
functions over a question's ranked hits; `retriever._answer` calls `figure_timeline`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from newsbot.retrieval.span import NUMBER, QUANTITY, answer_kind, find_answer_span, missing_answer

if TYPE_CHECKING:
    from newsbot.retrieval.retriever import Hit

# How alike (the cosine of the sentences' own vectors, without their titles: reports of one story carry
# different headlines) a report of a figure must be to the best one to be about the same thing. Measured on
# SQuAD dev 0-23 with a random date per article (benchmarks/research/dates.py,
# docs/QUALITY.md#answers-that-know-their-dates), where every article is another story, so that every
# timeline there is a false one, and on the rising toll of benchmarks/dated_stories.py, whose four reports
# must all be listed.
SAME_STORY = 0.5
# How much less strongly the question may name a report's article than the best report's (in nats, as
# `retrieval.stories` measures it). SAME_STORY and NAMED_GAP are, of the settings measured that list all four
# reports of the rising toll, the one with the fewest false timelines on SQuAD 0-23; a gap of 1 would lose
# the toll's reports that say "killed" where the best says "died" (1.3 nats apart), as would a cosine of 0.55.
NAMED_GAP = 2.0
# Questions about a figure that changes, beyond how many / how much (`retrieval.span.answer_kind`)
_PRICE = re.compile(r"\b(?:price|prices|cost|costs|worth|value)\b", re.IGNORECASE)
_COUNT = re.compile(r"\b(?:casualt(?:y|ies)|toll|dead|deaths|killed|injured|wounded|figure)\b", re.IGNORECASE)
_FIGURE = re.compile(r"\d[\d,.]*|[a-z]+", re.IGNORECASE)
_SCALES = ("hundred", "thousand", "million", "billion", "trillion", "%", "percent")


@dataclass(frozen=True)
class Report:
    """One figure as the articles reported it: the newest sentence giving it (`hit`), the figure's words,
    that sentence's publication date, and every source whose article gave the same figure."""

    hit: Hit
    figure: str
    published: date
    sources: tuple[str, ...]
    article_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of an `Answer.to_dict()["timeline"]` entry."""
        return {"text": self.hit.text, "figure": self.figure, "published": self.published.isoformat(),
                "sources": list(self.sources), "article_id": self.hit.article.id, "article_ids": list(self.article_ids)}


def figure_kind(question: str) -> str | None:
    """The kind of figure (`retrieval.span` NUMBER or QUANTITY) a question about a changing figure asks
    for, or None for any other question (how long, how old and the like do not change from report to report)."""
    kind = answer_kind(question)
    if kind == NUMBER:
        return NUMBER
    if kind == QUANTITY:
        return QUANTITY if re.search(r"\bhow much\b", question, re.IGNORECASE) or _PRICE.search(question) else None
    if kind is None and _PRICE.search(question):
        return QUANTITY
    if kind is None and _COUNT.search(question):
        return NUMBER
    return None


def figure_key(figure: str) -> str:
    """What two reports of the same figure share: its first number (digits only) and its scale, without
    modifiers, so "more than 5,400 people", "over 5,400" and "5400" are one figure."""
    words = _FIGURE.findall(figure.lower())
    numbers = [w for w in words if w[0].isdigit()]
    if not numbers:
        return " ".join(words)
    scale = next((w for w in words if w in _SCALES), "")
    return f"{numbers[0].replace(',', '').rstrip('.')} {scale}".strip()


def figure_reports(question: str, hits: Sequence[Hit]) -> list[tuple[int, str]]:
    """The hits that report a figure the question asks about: (position, figure's words), one per dated
    article (its first such hit); empty unless the question asks about a changing figure (`figure_kind`)."""
    kind = figure_kind(question)
    if kind is None:
        return []
    found, seen = [], set()
    for position, hit in enumerate(hits):
        if hit.article.published is None or hit.article.id in seen:
            continue
        span = find_answer_span(question, hit.text, kind=kind)
        if span is not None and not missing_answer(question, hit.text):
            seen.add(hit.article.id)
            found.append((position, span.text))
    return found


def figure_timeline(hits: Sequence[Hit], reports: Sequence[tuple[int, str]], vectors: Sequence[np.ndarray],
                    lifts: Sequence[float], same_story: float = SAME_STORY,
                    named_gap: float = NAMED_GAP) -> tuple[Report, ...]:
    """The figures of the `reports` (`figure_reports` of the hits) that are about the same thing as the
    best-scoring one, grouped by figure, newest first; empty unless two or more figures were reported.

    About the same thing: their sentences' vectors (`vectors[i]` reports[i]'s) at least `same_story` alike in
    cosine, and their article named by the question (`lifts[i]`, `retrieval.stories.story_lift`) at most
    `named_gap` nats less than the best one's: "How many teachers does Victoria have?" finds Chicago's
    teachers too, in a sentence much like Victoria's, but in an article that does not say "Victoria".

    Empty too when the best-scoring sentence is not in one of the reports' articles (its figure could not be
    read, or it gives none): the latest report leads a timeline, and it must not lead in place of a better
    answer from another story ("How many were killed in the earthquake?" answered with the floods' toll)."""
    if len(reports) < 2:
        return ()
    best = max(hits, key=lambda hit: hit.score)
    if best.article.id not in {hits[position].article.id for position, _ in reports}:
        return ()
    anchor = max(range(len(reports)), key=lambda i: hits[reports[i][0]].score)
    figures: dict[str, list[tuple[Hit, str]]] = {}
    for (position, figure), vector, lift in zip(reports, vectors, lifts):
        if float(vector @ vectors[anchor]) >= same_story and lift >= lifts[anchor] - named_gap:
            figures.setdefault(figure_key(figure), []).append((hits[position], figure))
    if len(figures) < 2:
        return ()
    return tuple(sorted((_report(group) for group in figures.values()), key=lambda r: r.published, reverse=True))


def _report(group: list[tuple[Hit, str]]) -> Report:
    """One figure's report: its newest sentence (the best of equally new ones), with all its sources."""
    hit, figure = max(group, key=lambda pair: pair[0].article.published)  # the first of the newest, by rank
    sources = dict.fromkeys(source for h, _ in group for source in h.article.sources)
    return Report(hit, figure, hit.article.published, tuple(sources), tuple(h.article.id for h, _ in group))
