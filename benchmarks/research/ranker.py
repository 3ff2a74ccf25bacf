"""Fit and measure the reranker (`retrieval/features.py`) on the ReQA protocol over SQuAD v1.1 dev.

Runs the product's own path: indexes the 48 articles with the dataset's sentences, asks every
question through `Retriever.candidates` and `Retriever.features`, then, on the questions of
articles 0-23 only:
1. for each fixed sentence-overlap weight, fits the other weights (listwise softmax,
   `retrieval.evaluation.fit`) and names the largest overlap weight whose P@1 on the
   low-overlap (paraphrased) questions of 0-23 is no lower than dense scoring alone (the
   product's choice and why: retrieval/features.py);
2. reports every lever on 0-23, 24-47, all 48 and the low-overlap slice (pool: all 48 articles);
3. calibrates abstention (`retrieval.evaluation.abstention.abstention_split`): indexes articles 0-11, asks the
   questions of 0-23, and gives the confidence thresholds that refuse 90% and 95% of the questions
   of 12-23 (the default threshold follows the index's size, fitted over many such splits by
   benchmarks/research/abstention_sizes.py: docs/QUALITY.md).
Usage (from the project root; about 10 minutes the first time, embeddings are cached in --work-dir):

    .venv/bin/python -m benchmarks.research.ranker [--json]
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.squad import indexed_squad, squad_options
from newsbot.index.version import open_version
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.abstention import abstention_split
from newsbot.retrieval.evaluation.fit import fit_named
from newsbot.retrieval.evaluation.reqa import LOW_OVERLAP, Query, low_overlap, reqa_metrics, reqa_task
from newsbot.retrieval.features import NAMES, WEIGHTS, weight_vector
from newsbot.retrieval.threads import answer_on_one_thread

TUNING = 24  # articles 0-23 tune; 24-47 are held out
OVERLAP_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6)
PARAGRAPH_OVERLAP_WEIGHTS = (0.2, 0.3, 0.4)


def main() -> None:
    args = squad_options(__doc__.splitlines()[0]).parse_args()
    answer_on_one_thread()  # as the `newsbot` command does
    squad = indexed_squad(args)
    if squad is None:
        return
    records, embedder, queries = squad.records, squad.embedder, squad.queries
    article_of = np.array([n for n, record in enumerate(records) for _ in reqa_task([record], "dataset")[1]])
    paraphrased = np.array(low_overlap(squad.documents, queries))
    features, ids, texts = _features(squad.index_dir, embedder, queries)
    gold = [np.array([texts[i] == q.gold for i in row]) for q, row in zip(queries, ids)]
    tuning = article_of < TUNING
    # A harsher slice: the answer's whole paragraph holds less than 40% of the question's term weight
    # (questions whose answer is among the candidates), where paragraph overlap cannot help either.
    paragraph_low = np.array([bool(g.any()) and x[g, NAMES.index("paragraph_terms")].max() < LOW_OVERLAP
                              for x, g in zip(features, gold)])
    questions = {"0-23 (tuning)": tuning, "24-47 (held out)": ~tuning, "all 48": tuning | ~tuning,
                 "low-overlap slice": paraphrased, "low-overlap, 0-23": paraphrased & tuning,
                 "low paragraph overlap": paragraph_low, "low paragraph overlap, 0-23": paragraph_low & tuning}

    def measure(named: dict[str, float]) -> dict[str, dict]:
        weights = weight_vector(named)
        retrieved = [[texts[i] for i in row[np.argsort(-(x @ weights), kind="stable")][:100]]
                     for x, row in zip(features, ids)]
        return {name: reqa_metrics([q for q, m in zip(queries, mask) if m], [r for r, m in zip(retrieved, mask) if m])
                for name, mask in questions.items()}

    levers = {"sentence + 0.4 x paragraph (dense only)": {"sentence": 1.0, "paragraph": 0.4},
              "+ 0.2 x sentence overlap (before this reranker)": {"sentence": 1.0, "paragraph": 0.4,
                                                                  "sentence_terms": 0.2}}
    fitted = {weight: _fit(features, gold, tuning, weight) for weight in OVERLAP_WEIGHTS}
    for weight, weights in fitted.items():
        levers[f"fitted, sentence overlap fixed at {weight}"] = weights
    for weight in PARAGRAPH_OVERLAP_WEIGHTS:
        levers[f"fitted, sentence overlap 0.2, paragraph overlap fixed at {weight}"] = _fit(
            features, gold, tuning, 0.2, paragraph_overlap=weight)
    levers["fitted without paragraph overlap, sentence overlap 0.2"] = _fit(features, gold, tuning, 0.2,
                                                                            drop="paragraph_terms")
    levers["fitted without answer type, sentence overlap 0.2"] = _fit(features, gold, tuning, 0.2, drop="answer_type")
    levers["the product (retrieval/features.py FEATURES)"] = {name: float(w) for name, w in zip(NAMES, WEIGHTS)}
    rows = [{"lever": name, "weights": _rounded(weights), **measure(weights)} for name, weights in levers.items()]
    floor = rows[0]["low-overlap, 0-23"]["p_at_1"]
    allowed = [w for w in OVERLAP_WEIGHTS
               if next(r for r in rows if r["lever"].endswith(f"fixed at {w}"))["low-overlap, 0-23"]["p_at_1"] >= floor]
    chosen = max(allowed, default=0.0)
    report = {"features": NAMES, "levers": rows, "largest_overlap_weight_allowed": chosen,
              "its_weights": _rounded(fitted[chosen]),
              "abstention": abstention_split(records[:TUNING], embedder, args.work_dir / "half")}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    _print(report)


def _fit(features: list[np.ndarray], gold: list[np.ndarray], tuning: np.ndarray, overlap: float,
         drop: str | None = None, paragraph_overlap: float | None = None) -> dict[str, float]:
    """Fit the free weights with the sentence cosine and sentence overlap fixed at 1 : `overlap`
    (and paragraph overlap at `paragraph_overlap` when given); `drop` leaves one feature out (weight 0)."""
    fixed = {"sentence": 1.0, "sentence_terms": overlap}
    if paragraph_overlap is not None:
        fixed["paragraph_terms"] = paragraph_overlap
    free = {"paragraph", "paragraph_terms", "answer_type"} - {drop}
    return fit_named([x for x, t in zip(features, tuning) if t], [g for g, t in zip(gold, tuning) if t], fixed, free)


def _rounded(named: dict[str, float]) -> list[float]:
    """The weights in column order (`NAMES`), as the report prints them."""
    return np.round(weight_vector(named), 3).tolist()


def _features(index_dir: Path, embedder, queries: list[Query]) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Every question's candidate features and ids, and the text of every sentence by id."""
    version = open_version(index_dir)
    retriever = Retriever(version, embedder)
    texts = version.metadata.texts(range(version.manifest.sentences))
    features, ids = [], []
    for start in range(0, len(queries), 256):
        batch = [q.question for q in queries[start:start + 256]]
        for question, candidates in zip(batch, retriever.candidates(batch)):
            features.append(retriever.features(question, candidates).astype(np.float64))
            ids.append(candidates.ids)
    retriever.close()
    return features, ids, texts


def _print(report: dict) -> None:
    print("features:", ", ".join(report["features"]))
    for row in report["levers"]:
        print(f"{row['lever']}  weights {row['weights']}")
        print("    " + "  ".join(f"{name}: {m['p_at_1']:.3f}/{m['r_at_5']:.3f}/{m['mrr']:.3f}"
                                 for name, m in row.items() if isinstance(m, dict)))
    print("(P@1 / R@5 / MRR; candidates from the product's FAISS search over all 48 articles)")
    print(f"largest sentence-overlap weight allowed: {report['largest_overlap_weight_allowed']}, "
          f"weights {report['its_weights']}")
    abstention = report["abstention"]
    print(f"abstention (index articles 0-{abstention['indexed_articles'] - 1}, ask 0-{abstention['asked_articles'] - 1}):")
    for name in ("operating_point", "refusing_95_percent", "default_threshold"):
        print(f"    {name}: " + "  ".join(f"{k}: {v}" for k, v in abstention[name].items()))
    for point in abstention["curve"]:
        print("    " + "  ".join(f"{k}: {v}" for k, v in point.items()))


if __name__ == "__main__":
    main()
