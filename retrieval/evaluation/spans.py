"""How well `find_answer_span` points at SQuAD's gold answers, per kind of question, and what is shown.

Each question is paired with the dataset sentence (`reqa_sentence_spans`) holding its first
answer, which is what the bot shows when its top sentence is right; the span found there is
scored against every gold answer that lies in that sentence with the official SQuAD v1.1
exact match and token F1. A span is **right** when its token F1 against some gold answer is at
least RIGHT_F1: SQuAD's own annotators disagree on boundaries ("more than 5,400 people" or
"5,400"), so exact match would call most right number highlights wrong (EM 0.48 against
F1 >= 0.5 0.96 for how-many questions on articles 0-23), while half the words in common still
rejects a span pointing elsewhere. Each kind of question (`answer_kind`) gets its precision,
which decides the kinds shown (`retrieval.span.OFFERED_KINDS`); the overall figures are those of
the spans shown, over the questions offered one and over all questions (no span scores 0), so
that abstaining shows as lower coverage, not as higher precision for free. With the sentences
the retriever ranks first (`first`), the same is measured on what users see, right sentence or not.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from newsbot.retrieval.span import MARGIN, OFFERED_KINDS, AnswerSpan, answer_kind, find_answer_span

RIGHT_F1 = 0.5  # a span at least this close (token F1) to a gold answer points at the answer
NO_KIND = "none"  # the questions whose wording names no kind of answer ("what is...")


@dataclass(frozen=True)
class SpanCase:
    question: str
    sentence: str
    answers: tuple[str, ...]


def span_cases(records: Iterable[dict]) -> list[SpanCase]:
    """One case per question: the dataset sentence holding its first answer, and the gold answers
    lying wholly inside that sentence (a question with none there is left out). A gold answer that is
    its whole sentence (as in an exported feedback set) says nothing about which words answer: left out."""
    cases = []
    for record in records:
        for paragraph in record["paragraphs"]:
            context, bounds = paragraph["context"], paragraph["reqa_sentence_spans"]
            for qa in paragraph["qas"]:
                if not qa["answers"]:
                    continue
                first = qa["answers"][0]["answer_start"]
                start, end = next(((s, e) for s, e in bounds if first < e), (len(context), len(context)))
                sentence = context[start:end].strip()
                inside = tuple(a["text"] for a in qa["answers"]
                               if start <= a["answer_start"] and a["answer_start"] + len(a["text"]) <= end
                               and a["text"].strip() != sentence)
                if inside:
                    cases.append(SpanCase(qa["question"], sentence, inside))
    return cases


def first_ranked_cases(records: Iterable[dict], first: Mapping[str, str]) -> list[SpanCase]:
    """The cases of `span_cases`, each with the sentence the retriever ranked first for its question
    (`first`: question -> sentence) instead of the gold one, and all of its gold answers."""
    cases = []
    for record in records:
        for paragraph in record["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = tuple(a["text"] for a in qa["answers"])
                if qa["question"] in first and answers:
                    cases.append(SpanCase(qa["question"], first[qa["question"]], answers))
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


def span_metrics(records: Sequence[dict], *, first: Mapping[str, str] | None = None,
                 margin: int = MARGIN, offered: frozenset[str] = OFFERED_KINDS) -> dict[str, object]:
    """The spans in the gold sentence (and, given `first`, in the sentence ranked first): per kind of
    question, and overall for the spans of the `offered` kinds (what users are shown)."""
    report = span_summary(span_cases(records), margin=margin, offered=offered)
    if first is not None:
        report["first_ranked"] = span_summary(first_ranked_cases(records, first), margin=margin, offered=offered)
    return report


def span_summary(cases: Sequence[SpanCase], *, margin: int = MARGIN,
                 offered: frozenset[str] = OFFERED_KINDS) -> dict[str, object]:
    """Coverage, exact match, F1 and precision (share right) of the spans shown, and each kind's figures."""
    found: list[tuple[SpanCase, AnswerSpan]] = [
        (case, span) for case in cases
        if (span := find_answer_span(case.question, case.sentence, margin=margin)) is not None]
    shown = [(case, span) for case, span in found if span.kind in offered]
    em = sum(exact_match(span.text, case.answers) for case, span in shown)
    f1 = sum(token_f1(span.text, case.answers) for case, span in shown)
    count, total = len(shown) or 1, len(cases) or 1
    return {
        "questions": len(cases), "offered": len(shown), "coverage": round(len(shown) / total, 4),
        "em_offered": round(em / count, 4), "f1_offered": round(f1 / count, 4),
        "precision_offered": round(_right(shown) / count, 4),
        "em_all": round(em / total, 4), "f1_all": round(f1 / total, 4),
        "right_f1": RIGHT_F1, "kinds": _by_kind(cases, found, offered),
    }


def kinds_right_often(report: Mapping[str, object], precision: float) -> frozenset[str]:
    """The kinds whose found spans are right at least `precision` of the time in a `span_summary`."""
    kinds: Mapping[str, Mapping[str, object]] = report["kinds"]  # type: ignore[assignment]
    return frozenset(kind for kind, row in kinds.items() if row["found"] and row["precision"] >= precision)


def _by_kind(cases: Sequence[SpanCase], found: Sequence[tuple[SpanCase, AnswerSpan]],
             offered: frozenset[str]) -> dict[str, dict[str, object]]:
    asked = Counter(answer_kind(case.question) or NO_KIND for case in cases)
    rows = {}
    for kind, questions in sorted(asked.items()):
        spans = [(case, span) for case, span in found if span.kind == kind]
        rows[kind] = {"questions": questions, "found": len(spans),
                      "precision": round(_right(spans) / (len(spans) or 1), 4), "offered": kind in offered}
    return rows


def _right(pairs: Sequence[tuple[SpanCase, AnswerSpan]]) -> int:
    return sum(token_f1(span.text, case.answers) >= RIGHT_F1 for case, span in pairs)
