"""Compare the encoding backends (torch fp32, ONNX fp32, ONNX int8): speed and ReQA quality on SQuAD dev.

Benchmarks, not tests. Speed rounds interleave the backends, so load from other processes hits
each alike, and report medians over the rounds: texts/s encoding a sample of what a build embeds
(index.build.embedding_texts: "Title: sentence" and paragraphs) and the latency of encoding one
question (`encode([question])`, 200 SQuAD questions). Quality runs retrieval.evaluation.evaluate.evaluate,
dense scoring (cos(question, "Title: sentence") + PARAGRAPH_WEIGHT x cos(question, paragraph), the
evidence the reranker starts from) with numpy over the whole candidate pool, as benchmarks/research/levers.py
does, so the figures isolate the encoder from the rest of the answer path; each backend's vectors
are computed once (timed: index sentences/s) and cached in --cache-dir.
Usage (from the project root):

    .venv/bin/python -m benchmarks.research.encoders                  # table
    .venv/bin/python -m benchmarks.research.encoders --json
    .venv/bin/python -m benchmarks.research.encoders --skip-quality   # speed only, a few minutes
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.core import question_encode_ms
from benchmarks.squad import squad_records
from benchmarks.stats import machine
from newsbot.index.build import embedding_texts
from newsbot.index.embedder import BACKENDS, Embedder, load_embedder
from newsbot.retrieval.evaluation.reqa import TOP_K, Query, reqa_metrics, reqa_task
from newsbot.retrieval.threads import answer_on_one_thread

PARAGRAPH_WEIGHT = 0.4  # the dense scoring the backends are compared on (docs/QUALITY.md, 'dense only')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds (default 3)")
    parser.add_argument("--texts", type=int, default=1000, help="texts encoded per speed round (default 1000)")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--skip-quality", action="store_true", help="no ReQA evaluation (it takes minutes per backend)")
    parser.add_argument("--skip-speed", action="store_true", help="only the ReQA evaluation")
    parser.add_argument("--articles", default=None, metavar="FROM:TO", help="evaluate on these SQuAD articles only")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/newsbot-encoders"),
                        help="vectors per backend, reused by the next run (default /tmp/newsbot-encoders)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    answer_on_one_thread()  # as the `newsbot` command does
    records = squad_records(_slice(args.articles))
    if records is None:
        return
    documents, queries = reqa_task(records, "dataset")
    texts = [text for article, sentences in documents for text in embedding_texts(article, sentences)]
    unique = list(dict.fromkeys(q.question for q in queries))
    sample = texts[:: max(1, len(texts) // args.texts)][:args.texts]  # spread over all articles
    questions = unique[:: max(1, len(unique) // args.questions)][:args.questions]
    embedders = {backend: load_embedder(backend=backend) for backend in args.backends}
    for embedder in embedders.values():
        embedder.encode(sample[:64])
        embedder.encode(questions[:5])
    rounds = [{backend: _speed(embedder, sample, questions) for backend, embedder in embedders.items()}
              for _ in range(0 if args.skip_speed else args.rounds)]
    report: dict[str, object] = {"machine": machine(), "texts": len(sample), "questions": len(questions),
                                 "rounds": len(rounds), "articles": len(records), "backends": {}}
    for backend, embedder in embedders.items():
        row: dict[str, object] = {"name": embedder.name}
        for figure in ("texts_per_second", "p50_ms", "p99_ms") if rounds else ():
            row[figure] = round(statistics.median(r[backend][figure] for r in rounds), 2)
        if "torch" in embedders and rounds:
            row["speedup_vs_torch"] = round(statistics.median(
                r[backend]["texts_per_second"] / r["torch"]["texts_per_second"] for r in rounds), 2)
            row["latency_vs_torch"] = round(statistics.median(
                r[backend]["p50_ms"] / r["torch"]["p50_ms"] for r in rounds), 3)
        if not args.skip_quality:
            row.update(_quality(embedder, documents, queries, args.cache_dir))
        report["backends"][backend] = row  # type: ignore[index]
    print(json.dumps(report, indent=2) if args.json else _table(report))


def _quality(embedder: Embedder, documents: list, queries: list[Query], cache_dir: Path) -> dict[str, object]:
    """ReQA figures of the dense ranking, and how fast the build's texts were embedded."""
    titled, paragraphs, sentence_paragraph, texts = [], [], [], []
    for article, sentences in documents:
        embedded = embedding_texts(article, sentences)
        first = len(paragraphs)
        titled.extend(embedded[:len(sentences)])
        numbers = list(dict.fromkeys(s.paragraph for s in sentences))
        paragraphs.extend(embedded[len(sentences):])
        sentence_paragraph.extend(first + numbers.index(s.paragraph) for s in sentences)
        texts.extend(s.text for s in sentences)
    unique = list(dict.fromkeys(q.question for q in queries))
    path = cache_dir / f"{embedder.name.replace('/', '_')}-{len(titled)}-{len(paragraphs)}-{len(unique)}.npz"
    if path.is_file():
        saved = np.load(path)
        vectors, seconds = {key: saved[key] for key in ("titled", "paragraphs", "questions")}, float(saved["seconds"])
    else:
        started = time.perf_counter()
        vectors = {"titled": embedder.encode(titled), "paragraphs": embedder.encode(paragraphs)}
        seconds = time.perf_counter() - started
        vectors["questions"] = embedder.encode(unique)
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(path, seconds=seconds, **vectors)
    row_of = {question: row for row, question in enumerate(unique)}
    pool = np.array(texts, dtype=object)
    paragraph_of = np.array(sentence_paragraph)
    retrieved: list[list[str]] = []
    for start in range(0, len(queries), 1000):
        chunk = vectors["questions"][[row_of[q.question] for q in queries[start:start + 1000]]]
        scores = chunk @ vectors["titled"].T + PARAGRAPH_WEIGHT * (chunk @ vectors["paragraphs"].T)[:, paragraph_of]
        top = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
        retrieved.extend(list(pool[row]) for row in top)
    return {**reqa_metrics(queries, retrieved), "candidates": len(titled), "paragraphs": len(paragraphs),
            "embed_seconds": round(seconds, 1), "index_sentences_per_second": round(len(titled) / seconds, 1)}


def _slice(text: str | None) -> slice | None:
    if text is None:
        return None
    start, _, stop = text.partition(":")
    return slice(int(start) if start else None, int(stop) if stop else None)


def _speed(embedder: Embedder, sample: list[str], questions: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    embedder.encode(sample)
    rate = len(sample) / (time.perf_counter() - started)
    return {"texts_per_second": rate, **question_encode_ms(embedder, questions)}


def _table(report: dict) -> str:
    machine = report["machine"]
    versions = machine["libraries"]
    lines = [(f"{machine['cpu']}, {machine['cores']} cores, {' '.join(machine['simd'])}; torch {versions['torch']}, "
              f"onnxruntime {versions['onnxruntime']}; load {machine['load_average']}; medians of {report['rounds']} interleaved rounds, "
              f"{report['texts']} texts, {report['questions']} questions"),
             (f"{'backend':<11}{'texts/s':>9}{'x torch':>9}{'p50 ms':>9}{'p99 ms':>9}{'index s/s':>11}"
              f"{'P@1':>8}{'R@5':>8}{'MRR':>8}")]
    nan = float("nan")
    for backend, row in report["backends"].items():
        lines.append(f"{backend:<11}{row.get('texts_per_second', nan):>9.1f}{row.get('speedup_vs_torch', nan):>9.2f}"
                     f"{row.get('p50_ms', nan):>9.2f}{row.get('p99_ms', nan):>9.2f}{row.get('index_sentences_per_second', nan):>11.1f}"
                     f"{row.get('p_at_1', nan):>8.3f}{row.get('r_at_5', nan):>8.3f}"
                     f"{row.get('mrr', nan):>8.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
