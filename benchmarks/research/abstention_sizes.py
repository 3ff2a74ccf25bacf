"""How the confidence of out-of-corpus questions grows with the index's size, and the size-aware
default threshold fitted on it (`retrieval.confidence.default_min_confidence`).

Runs the product's own path (`build_from_documents`, `Retriever.search_many`) on SQuAD v1.1 dev:
1. tuning, articles 0-23 only: for each size k in TUNING_SIZES, index blocks of k of those articles
   and ask the questions of all 24; the other articles' questions are out of corpus. Each block gives
   the thresholds that refuse 90% and 95% of them, at the index's sentence count n; a + b ln(n) is
   fitted to the log-odds of each by least squares (the printed constants are those in retrieval/confidence.py);
2. held out: indexes whose out-of-corpus questions come from articles 24-47, of sizes inside and
   beyond the tuning range (1, 6 and 12 articles of 24-47; 24, 36 and 42 articles from 0 on), each
   asked at the product's default threshold for its size: out-of-corpus refused, in-corpus
   answered (and answered with a right top sentence); for comparison, the 90% refusal point.
Usage (from the project root; the articles' embeddings are taken from --work-dir/all/cache, which
benchmarks/research/ranker.py fills, else computed once; question embeddings are computed once per run):

    .venv/bin/python -m benchmarks.research.abstention_sizes [--json]
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.squad import squad_options, squad_records
from newsbot.index import Document, build_from_documents
from newsbot.index.embedder import Embedder, load_embedder
from newsbot.index.store import CACHE_DIR
from newsbot.retrieval import Retriever
from newsbot.retrieval.confidence import default_min_confidence
from newsbot.retrieval.evaluation.abstention import abstention_report, operating_threshold, question_confidences
from newsbot.retrieval.evaluation.reqa import reqa_task
from newsbot.retrieval.threads import answer_on_one_thread

TUNING = 24  # articles 0-23 tune; 24-47 are held out
TUNING_SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 20)
HELD_OUT = {  # name: (indexed articles, articles asked as out of corpus)
    **{f"article {s}": ([s], [a for a in range(24, 48) if a != s]) for s in (24, 30, 36, 42)},
    **{f"articles {s}-{s + 5}": (list(range(s, s + 6)), [a for a in range(24, 48) if not s <= a < s + 6])
       for s in (24, 30, 36, 42)},
    "articles 24-35": (list(range(24, 36)), list(range(36, 48))),
    "articles 36-47": (list(range(36, 48)), list(range(24, 36))),
    "articles 0-23": (list(range(24)), list(range(24, 48))),
    "articles 0-35": (list(range(36)), list(range(36, 48))),
    "articles 0-41": (list(range(42)), list(range(42, 48))),
}


class RememberingEmbedder:
    """Encodes each distinct text once per run: every fold asks the same questions."""

    def __init__(self, inner: Embedder) -> None:
        self._inner, self._seen = inner, {}

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            self._seen.update(zip(missing, self._inner.encode(missing)))
        return np.stack([self._seen[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


def remembered_squad(model: str | None, work_dir: Path) -> tuple[list[dict], RememberingEmbedder] | None:
    """SQuAD dev's records (None without the shared set) and an embedder that has embedded all of them once
    and remembers every vector, so the many small indexes a study builds cost no model call."""
    answer_on_one_thread()  # as the `newsbot` command does
    records = squad_records()
    if records is None:
        return None
    embedder = RememberingEmbedder(load_embedder(model))
    build_from_documents(reqa_task(records, "dataset")[0], work_dir / "all", embedder)  # fills the cache once
    return records, embedder


def main() -> None:
    args = squad_options(__doc__.splitlines()[0]).parse_args()
    squad = remembered_squad(args.model, args.work_dir)
    if squad is None:
        return
    records, embedder = squad

    def measure(indexed: list[int], outside: list[int]) -> dict:
        retriever = _open(args.work_dir, records, indexed, embedder)
        inside, correct = question_confidences(retriever, [records[a] for a in indexed])
        out, _ = question_confidences(retriever, [records[a] for a in outside])
        sentences, default = retriever.manifest.sentences, retriever.min_confidence
        retriever.close()
        return {"articles": len(indexed), "sentences": sentences, "out_scores": out,
                "refuse_90": operating_threshold(out, 0.90), "refuse_95": operating_threshold(out, 0.95),
                "at_90": abstention_report(inside, correct, out, operating_threshold(out, 0.90)),
                "at_default": abstention_report(inside, correct, out, default)}

    tuning = []
    for size in TUNING_SIZES:
        for start in range(0, TUNING, max(3, min(size, TUNING - size))):
            indexed = [(start + i) % TUNING for i in range(size)]
            tuning.append({"indexed": indexed, **measure(indexed, [a for a in range(TUNING) if a not in indexed])})
    logs = np.log([row["sentences"] for row in tuning])
    fits = {}
    for point in ("refuse_90", "refuse_95"):
        b, a = np.polyfit(logs, [_log_odds(row[point]) for row in tuning], 1)
        fitted = 1 / (1 + np.exp(-(a + b * logs)))
        fits[point] = {"a": round(float(a), 4), "b": round(float(b), 4),
                       "residual_sd": round(float(np.std([row[point] for row in tuning] - fitted)), 4),
                       # how often the curve, applied to a tuning fold, still refuses >= 90% there
                       "folds_refusing_90": round(float(np.mean([np.mean(np.array(row["out_scores"]) < t) >= 0.9
                                                                 for row, t in zip(tuning, fitted)])), 3)}
    held_out = {name: measure(indexed, outside) for name, (indexed, outside) in HELD_OUT.items()}
    for row in [*tuning, *held_out.values()]:
        del row["out_scores"]
    report = {"tuning": tuning, "fits": fits, "held_out": held_out,
              "bundled_sizes": {n: round(default_min_confidence(n), 4) for n in (1, 13, 100, 1000, 10_000, 100_000)}}
    print(json.dumps(report, indent=2) if args.json else _table(report))


def _log_odds(probability: float) -> float:
    """Confidences are probabilities (`retrieval.confidence`); the size curve is fitted in log-odds."""
    return float(np.log(probability / (1 - probability)))


def _open(work_dir: Path, records: list[dict], indexed: list[int], embedder: Embedder) -> Retriever:
    folder = work_dir / "sizes" / ("-".join(map(str, indexed)) if len(indexed) < 8 else f"{indexed[0]}+{len(indexed)}")
    return index_of(folder, reqa_task([records[a] for a in indexed], "dataset")[0], embedder, work_dir / "all")


def index_of(folder: Path, documents: list[Document], embedder: Embedder, full: Path) -> Retriever:
    """An index of the given documents, its embeddings copied (hard-linked) from the full index's cache."""
    if not (folder / CACHE_DIR).exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(full / CACHE_DIR, folder / CACHE_DIR, copy_function=os.link)
    build_from_documents(documents, folder, embedder)
    return Retriever.open(folder, embedder=embedder)


def _table(report: dict) -> str:
    lines = ["tuning folds (articles of 0-23 indexed, the other tuning articles' questions out of corpus):",
             (f"{'articles':>8}{'sentences':>10}{'90% point':>10}{'95% point':>10}{'default':>9}"
              f"{'refused':>9}{'answered':>10}")]
    for row in report["tuning"]:
        d = row["at_default"]
        lines.append(f"{row['articles']:>8}{row['sentences']:>10}{row['refuse_90']:>10.3f}{row['refuse_95']:>10.3f}"
                     f"{d['threshold']:>9.3f}{d['out_of_corpus_refused']:>9.1%}{d['in_corpus_answered']:>10.1%}")
    for point, fit in report["fits"].items():
        lines.append(f"fit of the {point} points: {fit['a']} + {fit['b']} ln(sentences), residual sd "
                     f"{fit['residual_sd']}, folds still refusing >= 90% at the curve: {fit['folds_refusing_90']:.0%}")
    lines.append("held out (out-of-corpus questions from articles 24-47), at the default threshold for the size:")
    lines.append(f"{'index':<16}{'sentences':>10}{'default':>9}{'refused':>9}{'answered':>10}{'right':>8}"
                 f"{'90% point':>10}{'answered there':>16}")
    for name, row in report["held_out"].items():
        d, p = row["at_default"], row["at_90"]
        lines.append(f"{name:<16}{row['sentences']:>10}{d['threshold']:>9.3f}{d['out_of_corpus_refused']:>9.1%}"
                     f"{d['in_corpus_answered']:>10.1%}{d['in_corpus_answered_correctly']:>8.1%}"
                     f"{row['refuse_90']:>10.3f}{p['in_corpus_answered']:>16.1%}")
    lines.append("default threshold by sentences: "
                 + ", ".join(f"{n}: {t}" for n, t in report["bundled_sizes"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
