"""The in-process speed measurements of the suite (benchmarks/suite.py): building the SQuAD dev index,
encoding one question, answering one question, and the cold start of `newsbot ask`.

Benchmarks, not tests: nothing here asserts a time. Each function returns plain figures; the suite
repeats them and reports medians.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.squad import SQUAD
from benchmarks.stats import latencies_ms, summary_ms
from newsbot.corpus import BUNDLED_CORPUS_DIR
from newsbot.index import build_from_documents
from newsbot.index.build import Document, embedding_texts
from newsbot.index.embedder import Embedder
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.reqa import load_squad, reqa_task

ROOT = Path(__file__).resolve().parents[1]
COLD_QUESTION = "How many people have died?"


@dataclass(frozen=True)
class SquadTask:
    """SQuAD dev as newsbot indexes it (the dataset's sentence boundaries, as ReQA uses) and questions
    spread over all its articles."""

    documents: list[Document]
    questions: list[str]

    @property
    def sentences(self) -> list[str]:
        return [sentence.text for _, sentences in self.documents for sentence in sentences]


def squad_task(questions: int, articles: int | None = None) -> SquadTask | None:
    """The first `articles` articles (all when None); None when ../shared/eval has no SQuAD file."""
    if not SQUAD.is_file():
        return None
    documents, queries = reqa_task(load_squad(SQUAD, slice(0, articles) if articles else None), "dataset")
    unique = list(dict.fromkeys(q.question for q in queries))
    return SquadTask(documents, unique[:: max(1, len(unique) // questions)][:questions])


def build_squad_index(task: SquadTask, embedder: Embedder, index_dir: Path) -> dict[str, float]:
    """The product's build from an empty embedding cache: every sentence and paragraph embedded,
    FAISS and SQLite written. Sentences per second of wall time, and texts embedded per second."""
    started = time.perf_counter()
    report = build_from_documents(task.documents, index_dir, embedder)
    seconds = time.perf_counter() - started
    texts = sum(len(embedding_texts(article, sentences)) for article, sentences in task.documents)
    return {"sentences": report.sentences, "texts_embedded": texts, "seconds": round(seconds, 1),
            "sentences_per_second": round(report.sentences / seconds, 1),
            "texts_per_second": round(texts / seconds, 1)}


def question_encode_ms(embedder: Embedder, questions: list[str]) -> dict[str, float]:
    """`encode([question])`, one question at a time, warm."""
    return _warm_ms(lambda question: embedder.encode([question]), questions)


def answer_ms(retriever: Retriever, questions: list[str]) -> dict[str, float]:
    """`Retriever.answer(question)` end to end in process, warm: encode, search, rank, lexical evidence, span."""
    return _warm_ms(retriever.answer, questions)


def search_ms(retriever: Retriever, questions: list[str], k: int) -> dict[str, float]:
    """`Retriever.search(question, k)`, warm: answer without the threshold and the answer span."""
    return _warm_ms(lambda question: retriever.search(question, k), questions)


def _warm_ms(call: Callable[[str], object], questions: list[str]) -> dict[str, float]:
    for question in questions[:10]:
        call(question)
    return summary_ms(latencies_ms(call, questions))


def cold_ask(index_dir: Path, runs: int, *, backend: str | None = None) -> dict[str, object]:
    """`newsbot ask` in a fresh process on the bundled corpus, its index already built: wall seconds
    to the printed answer and the process's peak RSS, over `runs`; and whether it imported torch."""
    env = {**os.environ, "NEWSBOT_INDEX_DIR": str(index_dir), "NEWSBOT_CORPUS_DIR": str(BUNDLED_CORPUS_DIR)}
    if backend:
        env["NEWSBOT_BACKEND"] = backend
    subprocess.run([sys.executable, "-m", "newsbot.bot", "ask", COLD_QUESTION], env=env, check=True,
                   capture_output=True)  # builds the index once
    seconds, peaks = [], []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _ASK_REPORTING_PEAK, "ask", COLD_QUESTION], env=env,
                              check=True, capture_output=True, text=True)
        seconds.append(round(time.perf_counter() - started, 3))
        peaks.append(round(int(done.stderr.strip().splitlines()[-1]) / 1024, 1))
    imports = subprocess.run([sys.executable, "-X", "importtime", "-m", "newsbot.bot", "ask", COLD_QUESTION], env=env,
                             check=True, capture_output=True, text=True).stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in imports.splitlines() if "|" in line}
    return {"runs": runs, "seconds": sorted(seconds), "peak_rss_mib": sorted(peaks),
            "imports_torch": "torch" in imported, "imports_transformers": "transformers" in imported}


# What the `newsbot` script runs, then the process's own peak RSS (VmHWM, KiB) on stderr. Measured from
# inside because a child's ru_maxrss starts at its parent's size (Linux carries it across fork and exec).
_ASK_REPORTING_PEAK = """
import sys
from newsbot.bot.cli import main
status = main(sys.argv[1:])
sys.stdout.flush()
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(peak.split()[1], file=sys.stderr)
sys.exit(status)
"""
