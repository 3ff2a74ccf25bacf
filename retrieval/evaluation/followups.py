"""The follow-up benchmark: SQuAD dev questions rewritten to lean on the question asked before them.

Built from the dataset alone: a question naming something (a capitalised name, or the article's
title) that an earlier question of the same paragraph also names has that name replaced by "it"
("its" before 's): "Where did Super Bowl 50 take place?" after "Which NFL team represented the AFC
at Super Bowl 50?" becomes "Where did it take place?". "it" stands for people too, which costs the
rewritten questions a little naturalness, not their meaning to a retriever.

Each follow-up is asked five ways, and P@1 (the top sentence holds an answer) is reported for each:
the rewritten question alone and after the earlier one, the original question alone (the ceiling),
and the original after the earlier question and after an unrelated question of another article
(a question that stands on its own must not pay for a history).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsbot.corpus.terms import STOP_WORDS
from newsbot.retrieval.evaluation.reqa import reqa_task
from newsbot.retrieval.history import leans_on_history

_NAME_RUN = re.compile(r"[A-Z0-9][\w'’.&-]*(?:(?: (?:of|on|for|de|the|and))* [A-Z0-9][\w'’.&-]*)*")
_LEADING = STOP_WORDS | {"name", "list", "give", "identify"}
_ADJECTIVE = re.compile(r"[A-Z]\w+(?:ish|ese|ian|ean|ic|ac|ist|an)")  # "Italian law": not a subject to point back to


@dataclass(frozen=True)
class FollowUp:
    article: int  # the article's position in the records
    earlier: str  # asked before, in the same paragraph
    original: str
    rewritten: str
    golds: frozenset[str]  # the sentences holding an answer


# the ways each follow-up is asked: (the question, its history)
ASKED: dict[str, Callable[[FollowUp, FollowUp], tuple[str, tuple[str, ...]]]] = {
    "rewritten_alone": lambda f, other: (f.rewritten, ()),
    "rewritten_after_earlier": lambda f, other: (f.rewritten, (f.earlier,)),
    "original_alone": lambda f, other: (f.original, ()),
    "original_after_earlier": lambda f, other: (f.original, (f.earlier,)),
    "original_after_unrelated": lambda f, other: (f.original, (other.earlier,)),
}
Search = Callable[[list[str], list[tuple[str, ...]]], list[str]]  # questions, histories -> each one's top sentence


def followup_task(records: Sequence[dict]) -> list[FollowUp]:
    """The first follow-up the rule finds in each paragraph, in dataset order (dataset sentence boundaries)."""
    _, queries = reqa_task(records, "dataset")
    golds: dict[str, set[str]] = {}
    for query in queries:
        golds.setdefault(query.question, set()).add(query.gold)
    found = []
    for number, record in enumerate(records):
        title = record["title"].replace("_", " ")
        for paragraph in record["paragraphs"]:
            asked: list[str] = []
            for qa in paragraph["qas"]:
                question = qa["question"].strip()
                follow_up = _follow_up(number, title, question, asked, golds.get(qa["question"], set()))
                if follow_up is not None:
                    found.append(follow_up)
                    break  # one per paragraph: more paragraphs for the same number of searches
                asked.append(question)
    return found


def rewrite(question: str, name: str) -> str | None:
    """The question with its (first) mention of `name` replaced by a pronoun, or None if not named so."""
    match = re.search(rf"(?:\b[Tt]he )?(?<![\w-]){re.escape(name)}(?![\w-])('s|’s)?", question)
    if match is None:
        return None
    pronoun = "its" if match.group(1) else "it"
    if match.start() == 0:
        pronoun = pronoun.capitalize()
    return question[:match.start()] + pronoun + question[match.end():]


def followup_metrics(followups: Sequence[FollowUp], search: Search,
                     ways: Sequence[str] = tuple(ASKED)) -> dict[str, object]:
    """P@1 of each way of asking, and how often the rewritten and the original questions lean on a history."""
    return _summary(followups, _right(followups, search, ways))


def followup_report(followups: Sequence[FollowUp], search: Search, articles: int) -> dict[str, object]:
    """The metrics over every follow-up, and over the articles' two halves (the rule was made on the first)."""
    right = _right(followups, search, tuple(ASKED))
    half = articles // 2

    def part(keep: Callable[[FollowUp], bool]) -> dict[str, object]:
        chosen = [i for i, f in enumerate(followups) if keep(f)]
        return _summary([followups[i] for i in chosen], {name: [flags[i] for i in chosen] for name, flags in right.items()})

    return {"all": _summary(followups, right), "first_half": part(lambda f: f.article < half),
            "second_half": part(lambda f: f.article >= half), "half": half}


def _right(followups: Sequence[FollowUp], search: Search, ways: Sequence[str]) -> dict[str, list[bool]]:
    """For each way of asking, whether each follow-up's top sentence holds an answer (one search call per way)."""
    right = {}
    for name in ways:
        pairs = [ASKED[name](f, followups[(i + len(followups) // 2) % len(followups)]) for i, f in enumerate(followups)]
        tops = search([q for q, _ in pairs], [h for _, h in pairs]) if pairs else []
        right[name] = [top in f.golds for top, f in zip(tops, followups)]
    return right


def _summary(followups: Sequence[FollowUp], right: dict[str, list[bool]]) -> dict[str, object]:
    count = len(followups) or 1
    return {"questions": len(followups),
            **{name: round(sum(flags) / count, 4) for name, flags in right.items()},
            "rewritten_leaning": round(sum(leans_on_history(f.rewritten) for f in followups) / count, 4),
            "original_leaning": round(sum(leans_on_history(f.original) for f in followups) / count, 4)}


def _follow_up(number: int, title: str, question: str, asked: list[str], golds: set[str]) -> FollowUp | None:
    if not asked or not golds:
        return None
    for name in sorted(_names(question, title), key=len, reverse=True):
        earlier = next((q for q in reversed(asked) if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", q)), None)
        rewritten = rewrite(question, name) if earlier else None
        if earlier and rewritten:
            return FollowUp(number, earlier, question, rewritten, frozenset(golds))
    return None


def _names(question: str, title: str) -> set[str]:
    """The capitalised names of the question (leading function words dropped), and the title if named."""
    names = set()
    for run in _NAME_RUN.findall(question):
        words = re.sub(r"['’]s$", "", run).split(" ")
        while words and words[0].lower() in _LEADING:
            words.pop(0)
        name = " ".join(words)
        if len(name) >= 3 and not _ADJECTIVE.fullmatch(name):
            names.add(name)
    if title in question:
        names.add(title)
    return names
