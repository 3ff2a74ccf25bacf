"""How well `find_answer_span` points at SQuAD's gold answers inside the gold sentence.

Each question is paired with the dataset sentence (`reqa_sentence_spans`) holding its first
answer, which is what the bot shows when its top sentence is right; the span found there is
scored against every gold answer that lies in that sentence with the official SQuAD v1.1
exact match and token F1. Figures are given over the questions offered a span and over all
questions (no span scores 0), so that abstaining shows as lower coverage, not as higher
precision for free.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from newsbot.retrieval.span import MARGIN, AnswerSpan, find_answer_span


@dataclass(frozen=True)
class SpanCase:
    question: str
    sentence: str
    answers: tuple[str, ...]


def span_cases(records: Iterable[dict]) -> list[SpanCase]:
    """One case per question: the dataset sentence holding its first answer, and the gold answers
    lying wholly inside that sentence (a question with none there is left out)."""
    cases = []
    for record in records:
        for paragraph in record["paragraphs"]:
            context, bounds = paragraph["context"], paragraph["reqa_sentence_spans"]
            for qa in paragraph["qas"]:
                first = qa["answers"][0]["answer_start"]
                start, end = next(((s, e) for s, e in bounds if first < e), (len(context), len(context)))
                inside = tuple(a["text"] for a in qa["answers"]
                               if start <= a["answer_start"] and a["answer_start"] + len(a["text"]) <= end)
                if inside:
                    cases.append(SpanCase(qa["question"], context[start:end].strip(), inside))
    return cases


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """The best token F1 of the prediction against any gold answer."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def span_metrics(records: Iterable[dict], *, margin: int = MARGIN) -> dict[str, float | int]:
    """Coverage, and exact match and F1 over offered spans and over all questions."""
    cases = span_cases(records)
    found: list[tuple[SpanCase, AnswerSpan]] = [
        (case, span) for case in cases
        if (span := find_answer_span(case.question, case.sentence, margin=margin)) is not None]
    em = sum(exact_match(span.text, case.answers) for case, span in found)
    f1 = sum(token_f1(span.text, case.answers) for case, span in found)
    offered, total = len(found) or 1, len(cases) or 1
    return {
        "questions": len(cases), "offered": len(found), "coverage": round(len(found) / total, 4),
        "em_offered": round(em / offered, 4), "f1_offered": round(f1 / offered, 4),
        "em_all": round(em / total, 4), "f1_all": round(f1 / total, 4),
    }
