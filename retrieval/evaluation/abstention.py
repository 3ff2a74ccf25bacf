"""Knowing when not to answer, measured honestly: index half of the articles, ask the questions
of all of them, and see how well confidence separates questions the index can answer from
questions about articles it does not hold. The product's confidence and default threshold
(`retrieval.confidence`) were chosen from these figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from newsbot.index import Embedder, ProgressCallback
from newsbot.index.stores import Store
from newsbot.retrieval.confidence import SURE_MARGIN, Signals, confidence, default_min_confidence, outcome, sure_confidence
from newsbot.retrieval.evaluation.indexing import index_and_open
from newsbot.retrieval.evaluation.reqa import overlap_shares, reqa_task
from newsbot.retrieval.retriever import Retriever, clean_question
from newsbot.retrieval.span import missing_answer

REFUSE_OUT_OF_CORPUS = 0.90  # the operating point: at least this share of out-of-corpus questions refused
CURVE = tuple(round(0.1 * n, 1) for n in range(1, 10))  # the thresholds `abstention_split` reports
OVERLAP_BANDS = 5  # quintiles of word overlap


def operating_threshold(out_scores: Sequence[float], refuse: float = REFUSE_OUT_OF_CORPUS) -> float:
    """The lowest threshold that refuses at least `refuse` of the out-of-corpus questions
    (a question is answered when its top score is at least the threshold)."""
    ordered = np.sort(np.asarray(out_scores, dtype=np.float64))
    if len(ordered) == 0:
        raise ValueError("no out-of-corpus questions")
    index = int(np.ceil(refuse * len(ordered))) - 1  # scores up to here must be refused
    return float(np.nextafter(ordered[index], np.inf))


def abstention_report(in_scores: Sequence[float], in_correct: Sequence[bool], out_scores: Sequence[float],
                      threshold: float) -> dict[str, float | int]:
    """Answer rate and accuracy on in-corpus questions and refusal rate on out-of-corpus ones at a threshold."""
    inside, correct, outside = np.asarray(in_scores), np.asarray(in_correct, dtype=bool), np.asarray(out_scores)
    answered = inside >= threshold
    return {
        "threshold": round(threshold, 4),
        "in_corpus_questions": len(inside),
        "out_of_corpus_questions": len(outside),
        "in_corpus_answered": round(float(answered.mean()), 4),
        "in_corpus_answered_correctly": round(float((answered & correct).mean()), 4),
        "out_of_corpus_refused": round(float((outside < threshold).mean()), 4),
    }


def abstention_curve(in_scores: Sequence[float], in_correct: Sequence[bool], out_scores: Sequence[float],
                     thresholds: Sequence[float]) -> list[dict[str, float | int]]:
    """The report at each threshold, to choose an operating point from."""
    return [abstention_report(in_scores, in_correct, out_scores, t) for t in thresholds]


def abstention_split(records: Sequence[dict], embedder: Embedder, index_dir: Path,
                     progress: ProgressCallback | None = None, store: Store | None = None) -> dict[str, object] | None:
    """Index the first half of the articles, ask every question: the first half's must be answered,
    the second half's refused. The operating point refuses 90% of the second half; the default
    threshold is the product's for an index of this size (`default_min_confidence`)."""
    half = len(records) // 2
    if half == 0 or not reqa_task(records[:half], "dataset")[1] or not reqa_task(records[half:], "dataset")[1]:
        return None  # a half without answerable questions (a small exported feedback set) has nothing to split
    documents, _ = reqa_task(records[:half], "dataset")
    retriever = index_and_open(documents, index_dir, embedder, progress, store)
    asked_in, asked_out = asked_questions(retriever, records[:half]), asked_questions(retriever, records[half:])
    retriever.close()
    inside, correct = [q.confidence for q in asked_in], [q.right for q in asked_in]
    outside = [q.confidence for q in asked_out]
    threshold, default = operating_threshold(outside), default_min_confidence(retriever.manifest.sentences)
    return {"indexed_articles": half, "indexed_sentences": retriever.manifest.sentences,
            "asked_articles": len(records),
            "operating_point": abstention_report(inside, correct, outside, threshold),
            "refusing_95_percent": abstention_report(inside, correct, outside, operating_threshold(outside, 0.95)),
            "default_threshold": {**abstention_report(inside, correct, outside, default),
                                  **sure_report(asked_in, asked_out, default)},
            "overlap_bands": overlap_bands(asked_in, default),
            "curve": abstention_curve(inside, correct, outside, CURVE)}


def sure_report(inside: Sequence[Asked], outside: Sequence[Asked], min_confidence: float) -> dict[str, float]:
    """At a threshold, the shares answered sure (`retrieval.confidence.outcome`), in and out of corpus,
    and the share of in-corpus questions answered sure with a right top sentence."""
    sure_in = [_outcome(q, min_confidence) == "sure" for q in inside]
    return {"sure_threshold": round(sure_confidence(min_confidence), 4),
            "in_corpus_sure": _share(sure_in),
            "in_corpus_sure_and_right": _share([s and q.right for s, q in zip(sure_in, inside)]),
            "out_of_corpus_sure": _share([_outcome(q, min_confidence) == "sure" for q in outside])}


def overlap_bands(inside: Sequence[Asked], min_confidence: float, *, bands: int = OVERLAP_BANDS,
                  sure_margin: float = SURE_MARGIN) -> list[dict[str, float]]:
    """In-corpus questions in quantile bands of their word overlap with their answer (the share of their
    IDF-weighted terms found in the gold sentence), lowest first: how many are answered (sure or hedged)
    and answered sure at a threshold, also among those whose top sentence is right. Rewording should
    not decide whether a question is answered: the lowest band's rates should be near the highest's."""
    if not inside:
        return []
    overlap = np.array([q.overlap for q in inside])
    edges = np.quantile(overlap, np.arange(1, bands) / bands)
    band = np.searchsorted(edges, overlap, side="right")
    rows = []
    for number in range(bands):
        members = [q for q, b in zip(inside, band) if b == number]
        right = [q for q in members if q.right]
        rows.append({"overlap_from": round(float(min((q.overlap for q in members), default=0.0)), 3),
                     "overlap_to": round(float(max((q.overlap for q in members), default=0.0)), 3),
                     "questions": len(members),
                     "answered": _share([_outcome(q, min_confidence, sure_margin) != "not found" for q in members]),
                     "sure": _share([_outcome(q, min_confidence, sure_margin) == "sure" for q in members]),
                     "right": _share([q.right for q in members]),
                     "answered_when_right": _share([_outcome(q, min_confidence, sure_margin) != "not found"
                                                    for q in right]),
                     "sure_when_right": _share([_outcome(q, min_confidence, sure_margin) == "sure" for q in right])})
    return rows


def _outcome(asked: Asked, min_confidence: float, margin: float = SURE_MARGIN) -> str:
    return outcome(asked.confidence, min_confidence, asked.missing, margin)


def _share(flags: Sequence[bool]) -> float:
    return round(float(np.mean(flags)), 4) if len(flags) else 0.0


def question_confidences(retriever: Retriever, records: Sequence[dict]) -> tuple[list[float], list[bool]]:
    """Each unique question's answer confidence, and whether its top sentence is a gold one."""
    asked = asked_questions(retriever, records)
    return [question.confidence for question in asked], [question.right for question in asked]


@dataclass(frozen=True)
class Asked:
    """One unique question as the product answers it."""

    question: str
    confidence: float
    right: bool  # its top sentence is a gold one
    missing: str | None  # what its top sentence lacks of what was asked (`retrieval.span.missing_answer`)
    overlap: float  # the share of its term weight found in its gold sentence (`reqa.overlap_shares`)
    signals: Signals | None  # what the confidence read (`retrieval.confidence.signals`)
    score: float  # its top sentence's reranked score


def asked_questions(retriever: Retriever, records: Sequence[dict]) -> list[Asked]:
    """Every unique question of the records, asked through the product's own path."""
    documents, queries = reqa_task(records, "dataset")
    golds: dict[str, set[str]] = {}
    overlap: dict[str, float] = {}
    for query, share in zip(queries, overlap_shares(documents, queries)):
        golds.setdefault(query.question, set()).add(query.gold)
        overlap[query.question] = max(overlap.get(query.question, 0.0), share)
    questions = list(golds)
    asked = []
    for start in range(0, len(questions), 256):
        batch = questions[start:start + 256]
        for question, (hits, evidence) in zip(batch, retriever.search_with_signals(batch, 1)):
            top = hits[0].text if hits else ""
            asked.append(Asked(question, confidence(evidence), top in golds[question],
                               missing_answer(clean_question(question), top) if hits else None, overlap[question],
                               evidence, hits[0].score if hits else 0.0))
    return asked
