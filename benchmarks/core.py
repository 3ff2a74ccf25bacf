"""Core speed figures: index build throughput, warm answer latency, cold start of `newsbot ask`.

Benchmarks, not tests: nothing here asserts a time. Usage (from the project root):

    .venv/bin/python benchmarks/core.py            # a table
    .venv/bin/python benchmarks/core.py --json

Build throughput and answer latency use the SQuAD v1.1 dev sentences (10,250) and questions in
../shared/eval when present, else the bundled corpus repeated; each run starts from an empty
embedding cache, so every sentence is embedded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus import BUNDLED_CORPUS_DIR  # noqa: E402
from index import build_from_documents, build_index  # noqa: E402
from index.embedder import SentenceTransformerEmbedder  # noqa: E402
from retrieval import Retriever  # noqa: E402
from retrieval.evaluate import load_squad, reqa_task  # noqa: E402

SQUAD = ROOT.parent / "shared" / "eval" / "squad_v1.1_dev.jsonl"
QUESTIONS = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    embedder.encode(["warm up"])
    figures: dict[str, object] = {"machine": _machine()}
    with tempfile.TemporaryDirectory() as scratch:
        index_dir, questions, sentences, seconds = _build(embedder, Path(scratch))
        figures["build"] = {"sentences": sentences, "seconds": round(seconds, 1),
                            "sentences_per_second": round(sentences / seconds, 1)}
        retriever = Retriever.open(index_dir, embedder=embedder)
        figures["answer_ms"] = _latency(retriever, questions)
        figures["cold_ask_seconds"] = _cold_start(Path(scratch), args.cold_runs)
    print(json.dumps(figures, indent=2) if args.json else _table(figures))


def _build(embedder: SentenceTransformerEmbedder, scratch: Path) -> tuple[Path, list[str], int, float]:
    index_dir = scratch / "index"
    started = time.perf_counter()
    if SQUAD.is_file():
        documents, queries = reqa_task(load_squad(SQUAD), "dataset")
        report = build_from_documents(documents, index_dir, embedder)
        unique = list(dict.fromkeys(q.question for q in queries))
        questions = unique[:: len(unique) // QUESTIONS][:QUESTIONS]  # spread over all articles
    else:
        report = build_index(BUNDLED_CORPUS_DIR, index_dir, embedder)
        questions = ["How many people have died?", "Who vetoed the resolution?"] * (QUESTIONS // 2)
    return index_dir, questions, report.sentences, time.perf_counter() - started


def _latency(retriever: Retriever, questions: list[str]) -> dict[str, float]:
    for question in questions[:10]:
        retriever.answer(question)
    times = []
    for question in questions:
        started = time.perf_counter()
        retriever.answer(question)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"questions": len(times), "p50": round(statistics.median(times), 2),
            "p99": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2)}


def _cold_start(scratch: Path, runs: int) -> dict[str, float]:
    """`newsbot ask` in a fresh process against an index of the bundled corpus that already exists."""
    index_dir = scratch / "seed-index"
    env = {**os.environ, "NEWSBOT_INDEX_DIR": str(index_dir), "NEWSBOT_CORPUS_DIR": str(BUNDLED_CORPUS_DIR)}
    command = [str(Path(sys.executable).parent / "newsbot"), "ask", "How many people have died?"]
    subprocess.run(command, env=env, check=True, capture_output=True)  # builds the index once
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return {"runs": runs, "median": round(statistics.median(times), 2), "min": round(min(times), 2)}


def _machine() -> dict[str, object]:
    import faiss
    import sentence_transformers
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__, "faiss": faiss.__version__}


def _table(figures: dict) -> str:
    build, answer, cold = figures["build"], figures["answer_ms"], figures["cold_ask_seconds"]
    machine = figures["machine"]
    return "\n".join([
        f"machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}, faiss {machine['faiss']}",
        f"index build: {build['sentences']} sentences in {build['seconds']} s = {build['sentences_per_second']} sentences/s",
        f"answer (warm, {answer['questions']} questions): p50 {answer['p50']} ms, p99 {answer['p99']} ms",
        f"cold `newsbot ask` (median of {cold['runs']}): {cold['median']} s (min {cold['min']} s)",
    ])


if __name__ == "__main__":
    main()
