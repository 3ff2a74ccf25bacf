"""Answer-sentence retrieval measured with the ReQA protocol on SQuAD-format JSON Lines.

The protocol (see ../shared/eval/README.md): the candidate pool is every sentence of every
paragraph, deduplicated on (text, paragraph); each question is paired with each distinct
sentence that holds one of its answers; a retrieved sentence is right when its text equals the
gold sentence's; each unique question string keeps its best rank; P@1, R@5 and MRR (over the
top 100) are averaged over unique question strings.

The candidates are indexed and searched through the product's own path (`build_from_documents`
and `Retriever.search_many`), so the figures are those of what users get.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.article import PARAGRAPH_SEPARATOR, Article, Sentence
from corpus.segment import split_sentences
from corpus.terms import sentence_terms, terms
from index import Document, Embedder, build_from_documents
from retrieval.abstention import (
    abstention_curve,
    abstention_report,
    confidence,
    default_min_confidence,
    operating_threshold,
)
from retrieval.lexical import coverage, term_weights
from retrieval.retriever import Retriever
from retrieval.span_eval import span_metrics

TOP_K = 100
SEGMENTATIONS = ("dataset", "own")
LOW_OVERLAP = 0.4  # a question sharing less than this share of its term weight with its answer is a paraphrase
CURVE = tuple(round(0.2 * n, 1) for n in range(2, 13))

Progress = Callable[[str, int, int | None], None]
"""Called with (stage, done, total)."""


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


def evaluate(records: Sequence[dict], embedder: Embedder, *, segmentations: Sequence[str] = SEGMENTATIONS,
             work_dir: Path | None = None, progress: Progress | None = None) -> dict[str, object]:
    """Index the candidates and run every query, for each segmentation asked for."""
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="newsbot-eval-") as scratch:
        for segmentation in segmentations:
            documents, queries = reqa_task(records, segmentation)
            index_dir = Path(work_dir or scratch) / segmentation
            started = time.perf_counter()
            build_from_documents(documents, index_dir, embedder,
                                 progress=_build_stages(progress, f"index ({segmentation})"))
            indexed = time.perf_counter() - started
            retriever = Retriever.open(index_dir, embedder=embedder)
            started = time.perf_counter()
            retrieved = _search_all(retriever, [q.question for q in queries],
                                    _stage(progress, f"searching ({segmentation})"))
            searched = time.perf_counter() - started
            retriever.close()
            paraphrased = low_overlap(documents, queries)
            results[segmentation] = {
                **reqa_metrics(queries, retrieved),
                "low_overlap": reqa_metrics([q for q, low in zip(queries, paraphrased) if low],
                                            [r for r, low in zip(retrieved, paraphrased) if low]),
                "candidates": sum(len(sentences) for _, sentences in documents),
                "pairs": len(queries),
                "index_seconds": round(indexed, 1),
                "search_seconds": round(searched, 1),
            }
        abstention = abstention_split(records, embedder, Path(work_dir or scratch) / "abstention", progress)
    return {"model": embedder.name, "articles": len(records), "top_k": TOP_K, "segmentations": results,
            "abstention": abstention,
            "spans": span_metrics(records)}  # answer spans inside the gold sentence: no model, dataset boundaries


def low_overlap(documents: Sequence[Document], queries: Sequence[Query]) -> list[bool]:
    """Which queries share less than LOW_OVERLAP of their informative (IDF-weighted) terms with their
    gold sentence and its title: the paraphrase-heavy slice, where lexical matching cannot help."""
    sentence_sets = {s.text: sentence_terms(article.title, s.text) for article, found in documents for s in found}
    frequencies: dict[str, int] = {}
    for found in sentence_sets.values():
        for term in found:
            frequencies[term] = frequencies.get(term, 0) + 1
    return [float(coverage(term_weights(terms(q.question), frequencies, len(sentence_sets)),
                           [sentence_sets[q.gold]])[0]) < LOW_OVERLAP for q in queries]


def abstention_split(records: Sequence[dict], embedder: Embedder, index_dir: Path,
                     progress: Progress | None = None) -> dict[str, object] | None:
    """Index the first half of the articles, ask every question: the first half's must be answered,
    the second half's refused. The operating point refuses 90% of the second half; the default
    threshold is the product's for an index of this size (`default_min_confidence`)."""
    half = len(records) // 2
    if half == 0:
        return None
    documents, _ = reqa_task(records[:half], "dataset")
    build_from_documents(documents, index_dir, embedder, progress=_build_stages(progress, "index (abstention)"))
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


def evaluate_file(path: Path, embedder: Embedder, *, segmentations: Sequence[str] = SEGMENTATIONS,
                  articles: slice | None = None, work_dir: Path | None = None,
                  progress: Progress | None = None) -> dict[str, object]:
    records = load_squad(path, articles)
    report = evaluate(records, embedder, segmentations=segmentations, work_dir=work_dir, progress=progress)
    return {"dataset": str(path), **report}


def format_report(report: dict) -> str:
    """A small table for people."""
    lines = [f"{report['dataset']}: {report['articles']} articles, model {report['model']}",
             f"{'boundaries':<12}{'candidates':>11}{'questions':>10}{'P@1':>8}{'R@5':>8}{'MRR':>8}"]
    for name, row in report["segmentations"].items():
        lines.append(f"{name:<12}{row['candidates']:>11}{row['questions']:>10}"
                     f"{row['p_at_1']:>8.3f}{row['r_at_5']:>8.3f}{row['mrr']:>8.3f}")
    for name, row in report["segmentations"].items():
        low = row["low_overlap"]
        lines.append(f"{name:<12}{'low-overlap':>11}{low['questions']:>10}"
                     f"{low['p_at_1']:>8.3f}{low['r_at_5']:>8.3f}{low['mrr']:>8.3f}")
    if report["abstention"]:
        point, default = report["abstention"]["operating_point"], report["abstention"]["default_threshold"]
        lines.append(f"abstention (index the first {report['abstention']['indexed_articles']} articles, ask all): "
                     f"refusing {point['out_of_corpus_refused']:.0%} of out-of-corpus questions needs threshold "
                     f"{point['threshold']:.2f} and answers {point['in_corpus_answered']:.1%} of in-corpus ones; "
                     f"the default for its {report['abstention']['indexed_sentences']:,} sentences, "
                     f"{default['threshold']:.2f}, answers {default['in_corpus_answered']:.1%} and refuses "
                     f"{default['out_of_corpus_refused']:.1%}")
    spans = report["spans"]
    lines.append(f"answer spans in the gold sentence ({spans['questions']} questions): coverage "
                 f"{spans['coverage']:.3f}; EM {spans['em_offered']:.3f}, F1 {spans['f1_offered']:.3f} over offered; "
                 f"EM {spans['em_all']:.3f}, F1 {spans['f1_all']:.3f} over all")
    return "\n".join(lines)


def _squad_record(line: str, where: str) -> dict:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        raise DatasetError(f"{where}: not valid JSON; expected one SQuAD article per line") from None
    if not _is_squad_article(record):
        raise DatasetError(f"{where}: not a SQuAD article (id, title, and paragraphs with context, "
                           "reqa_sentence_spans and qas, each with a question and answers)")
    return record


def _is_squad_article(record: object) -> bool:
    def listed(value: object, check: Callable[[Any], bool]) -> bool:
        return isinstance(value, list) and all(check(item) for item in value)

    def answer(item: Any) -> bool:
        return isinstance(item, dict) and isinstance(item.get("text"), str) and type(item.get("answer_start")) is int

    def qa(item: Any) -> bool:
        return (isinstance(item, dict) and isinstance(item.get("question"), str) and bool(item.get("answers"))
                and listed(item["answers"], answer))

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


def _search_all(retriever: Retriever, questions: list[str], progress: Callable[[int, int], None] | None,
                batch: int = 256) -> list[list[str]]:
    retrieved: list[list[str]] = []
    for start in range(0, len(questions), batch):
        hits = retriever.search_many(questions[start:start + batch], k=TOP_K)
        retrieved.extend([hit.text for hit in row] for row in hits)
        if progress:
            progress(len(retrieved), len(questions))
    return retrieved


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    return (lambda done, total: progress(stage, done, total)) if progress else None


def _build_stages(progress: Progress | None, doing: str) -> Progress | None:
    """A build's stages ("reading", "embedding", "indexing") named after what the build is for."""
    return (lambda stage, done, total: progress(f"{doing}: {stage}", done, total)) if progress else None
