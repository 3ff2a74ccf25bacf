"""Knowing when not to answer, measured honestly: index half of the articles, ask the questions
of all of them, and see how well confidence separates questions the index can answer from
questions about articles it does not hold. The product's confidence and default threshold
(`retrieval.confidence`) were chosen from these figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from newsbot.index import Embedder, ProgressCallback, build_from_documents
from newsbot.retrieval.confidence import confidence, default_min_confidence
from newsbot.retrieval.evaluation.reqa import reqa_task
from newsbot.retrieval.retriever import Retriever

REFUSE_OUT_OF_CORPUS = 0.90  # the operating point: at least this share of out-of-corpus questions refused
CURVE = tuple(round(0.2 * n, 1) for n in range(2, 13))  # the thresholds `abstention_split` reports


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
                     progress: ProgressCallback | None = None) -> dict[str, object] | None:
    """Index the first half of the articles, ask every question: the first half's must be answered,
    the second half's refused. The operating point refuses 90% of the second half; the default
    threshold is the product's for an index of this size (`default_min_confidence`)."""
    half = len(records) // 2
    if half == 0 or not reqa_task(records[:half], "dataset")[1] or not reqa_task(records[half:], "dataset")[1]:
        return None  # a half without answerable questions (a small exported feedback set) has nothing to split
    documents, _ = reqa_task(records[:half], "dataset")
    build_from_documents(documents, index_dir, embedder, progress=progress)
    retriever = Retriever.open(index_dir, embedder=embedder)
    inside, correct = question_confidences(retriever, records[:half])
    outside, _ = question_confidences(retriever, records[half:])
    retriever.close()
    threshold = operating_threshold(outside)
    return {"indexed_articles": half, "indexed_sentences": retriever.manifest.sentences,
            "asked_articles": len(records),
            "operating_point": abstention_report(inside, correct, outside, threshold),
            "refusing_95_percent": abstention_report(inside, correct, outside, operating_threshold(outside, 0.95)),
            "default_threshold": abstention_report(inside, correct, outside,
                                                   default_min_confidence(retriever.manifest.sentences)),
            "curve": abstention_curve(inside, correct, outside, CURVE)}


def question_confidences(retriever: Retriever, records: Sequence[dict]) -> tuple[list[float], list[bool]]:
    """Each unique question's answer confidence, and whether its top sentence is a gold one."""
    golds: dict[str, set[str]] = {}
    for query in reqa_task(records, "dataset")[1]:
        golds.setdefault(query.question, set()).add(query.gold)
    questions = list(golds)
    scores, correct = [], []
    for start in range(0, len(questions), 256):
        for question, hits in zip(questions[start:start + 256], retriever.search_many(questions[start:start + 256], 2)):
            scores.append(confidence([hit.score for hit in hits]))
            correct.append(bool(hits) and hits[0].text in golds[question])
    return scores, correct
