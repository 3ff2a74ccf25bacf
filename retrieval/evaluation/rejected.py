"""Questions whose answer users marked wrong (`"not_first"` in an exported feedback set, `newsbot feedback
export`): the sentence they were shown first must not be ranked first again. Scored as the share of such
questions whose sentence ranked first is still one they rejected: lower is better."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rejected:
    question: str
    sentences: frozenset[str]  # the sentences users marked wrong for this question


def rejected_questions(records: Iterable[dict]) -> list[Rejected]:
    """Each question with `not_first` sentences (a question rated wrong more than once keeps them all)."""
    found: dict[str, set[str]] = {}
    for record in records:
        for paragraph in record["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                for shown in qa.get("not_first", []):
                    start = shown["answer_start"]
                    sentence = next((context[s:e] for s, e in paragraph["reqa_sentence_spans"] if s <= start < e),
                                    shown["text"])
                    found.setdefault(qa["question"], set()).add(sentence.strip())
    return [Rejected(question, frozenset(sentences)) for question, sentences in found.items()]


def rejected_metrics(rejected: Sequence[Rejected], first: Sequence[str | None]) -> dict[str, float | int]:
    """How many of the questions still rank a rejected sentence first (`first`: each one's top sentence)."""
    again = sum(top is not None and top in case.sentences for case, top in zip(rejected, first, strict=True))
    return {"questions": len(rejected), "ranked_first_again": again,
            "share_ranked_first_again": round(again / (len(rejected) or 1), 4)}
