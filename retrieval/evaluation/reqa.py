"""The ReQA answer-sentence retrieval task on SQuAD-format JSON Lines: the data, the task, the metrics.

The protocol (see ../shared/eval/README.md): the candidate pool is every sentence of every
paragraph, deduplicated on (text, paragraph); each question is paired with each distinct
sentence that holds one of its answers; a retrieved sentence is right when its text equals the
gold sentence's; each unique question string keeps its best rank; P@1, R@5 and MRR (over the
top 100) are averaged over unique question strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsbot.corpus.article import PARAGRAPH_SEPARATOR, Article, Sentence
from newsbot.corpus.segment import split_sentences
from newsbot.corpus.terms import sentence_terms, terms
from newsbot.index import Document
from newsbot.retrieval.features import coverage, idf_weights

TOP_K = 100  # MRR is over the top 100
SEGMENTATIONS = ("dataset", "own")
LOW_OVERLAP = 0.4  # a question sharing less than this share of its term weight with its answer is a paraphrase


@dataclass(frozen=True)
class Query:
    question: str
    gold: str  # the text of a sentence that holds an answer


class DatasetError(ValueError):
    """The evaluation file is not SQuAD-format JSON Lines; the message says where, for a one-line error."""


def load_squad(path: Path, articles: slice | None = None) -> list[dict]:
    """The dataset's article records, optionally a slice of them (e.g. 0:24 for tuning).

    Each record is checked for the fields the evaluation reads, so a wrong file is a DatasetError
    naming its line rather than a KeyError half-way through an evaluation.
    """
    records = []
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    records.append(_squad_record(line, f"{path}:{number}"))
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text") from None
    except OSError as error:
        raise DatasetError(f"{path} cannot be read ({error.strerror or type(error).__name__})") from None
    if not records:
        raise DatasetError(f"{path} holds no articles")
    return records[articles] if articles is not None else records


def reqa_task(records: Iterable[dict], segmentation: str) -> tuple[list[Document], list[Query]]:
    """The candidate sentences (as indexable documents) and the (question, gold sentence) pairs."""
    if segmentation not in SEGMENTATIONS:
        raise ValueError(f"segmentation must be one of {SEGMENTATIONS}")
    documents: list[Document] = []
    queries: list[Query] = []
    for record in records:
        sentences: list[Sentence] = []
        offset = 0
        for number, paragraph in enumerate(record["paragraphs"]):
            context = paragraph["context"]
            spans = _spans(context, paragraph, segmentation)
            seen: set[str] = set()
            for start, end in spans:
                text = context[start:end]
                if text not in seen:
                    seen.add(text)
                    sentences.append(Sentence(text, number, offset + start, offset + end))
            for qa in paragraph["qas"]:
                golds = {_containing(context, spans, answer["answer_start"]) for answer in qa["answers"]}
                queries.extend(Query(qa["question"], gold) for gold in sorted(g for g in golds if g))
            offset += len(context) + len(PARAGRAPH_SEPARATOR)
        article = Article(id=record["id"], title=record["title"].replace("_", " "),  # Wikipedia page names
                          paragraphs=tuple(p["context"] for p in record["paragraphs"]))
        documents.append((article, sentences))
    return documents, queries


def reqa_metrics(queries: Sequence[Query], retrieved: Sequence[Sequence[str]]) -> dict[str, float | int]:
    """P@1, R@5 and MRR over unique question strings, from each query's ranked sentence texts."""
    best: dict[str, int | None] = {}
    for query, texts in zip(queries, retrieved, strict=True):
        rank = next((position for position, text in enumerate(texts, start=1) if text == query.gold), None)
        previous = best.get(query.question)
        if query.question not in best or (rank is not None and (previous is None or rank < previous)):
            best[query.question] = rank
    ranks = list(best.values())
    count = len(ranks) or 1
    return {
        "questions": len(ranks),
        "p_at_1": round(sum(r == 1 for r in ranks) / count, 4),
        "r_at_5": round(sum(r is not None and r <= 5 for r in ranks) / count, 4),
        "mrr": round(sum(1 / r for r in ranks if r is not None) / count, 4),
    }


def low_overlap(documents: Sequence[Document], queries: Sequence[Query]) -> list[bool]:
    """Which queries share less than LOW_OVERLAP of their informative terms with their gold sentence
    (`overlap_shares`): the paraphrase-heavy slice, where lexical matching cannot help."""
    return [share < LOW_OVERLAP for share in overlap_shares(documents, queries)]


def overlap_shares(documents: Sequence[Document], queries: Sequence[Query]) -> list[float]:
    """For each query, the share of its IDF-weighted terms found in its gold sentence and its title
    (`retrieval.features.coverage`, document frequencies over the candidate sentences)."""
    sentence_sets = {s.text: sentence_terms(article.title, s.text) for article, found in documents for s in found}
    frequencies: dict[str, int] = {}
    for found in sentence_sets.values():
        for term in found:
            frequencies[term] = frequencies.get(term, 0) + 1
    return [float(coverage(idf_weights(terms(q.question), frequencies, len(sentence_sets)),
                           [sentence_sets[q.gold]])[0]) for q in queries]


def _squad_record(line: str, where: str) -> dict:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        raise DatasetError(f"{where}: not valid JSON; expected one SQuAD article per line") from None
    if not _is_squad_article(record):
        raise DatasetError(f"{where}: not a SQuAD article (id, title, and paragraphs with context, "
                           "reqa_sentence_spans and qas, each with a question and answers or not_first)")
    return record


def _is_squad_article(record: object) -> bool:
    def listed(value: object, check: Callable[[Any], bool]) -> bool:
        return isinstance(value, list) and all(check(item) for item in value)

    def answer(item: Any) -> bool:
        return isinstance(item, dict) and isinstance(item.get("text"), str) and type(item.get("answer_start")) is int

    def qa(item: Any) -> bool:  # answers, or (in an exported feedback set) only sentences that must not come first
        return (isinstance(item, dict) and isinstance(item.get("question"), str)
                and listed(item.get("answers"), answer) and listed(item.get("not_first", []), answer)
                and bool(item["answers"] or item.get("not_first")))

    def span(item: Any) -> bool:
        return isinstance(item, list) and len(item) == 2 and all(type(n) is int for n in item)

    def paragraph(item: Any) -> bool:
        return (isinstance(item, dict) and isinstance(item.get("context"), str)
                and listed(item.get("reqa_sentence_spans"), span) and listed(item.get("qas"), qa))

    return (isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("title"), str)
            and listed(record.get("paragraphs"), paragraph))


def _spans(context: str, paragraph: dict, segmentation: str) -> list[tuple[int, int]]:
    if segmentation == "own":
        return split_sentences(context)
    spans = []
    for start, end in paragraph["reqa_sentence_spans"]:
        text = context[start:end]
        stripped = text.strip()
        if stripped:
            start += len(text) - len(text.lstrip())
            spans.append((start, start + len(stripped)))
    return spans


def _containing(context: str, spans: Sequence[tuple[int, int]], position: int) -> str | None:
    """The sentence holding a character position (or the next one, if it falls in the space between)."""
    for start, end in spans:
        if position < end:
            return context[start:end]
    return None
