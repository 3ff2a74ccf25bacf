"""The confidence's weights and its sure margin (`retrieval.confidence`), fitted on SQuAD dev 0-23 and
measured on 24-47, against the plain cosine of the best sentence and the old score-plus-lead.

Runs the product's own path (`build_from_documents`, `Retriever.search_with_signals`). For a range of
articles, three kinds of index: the first half of its articles (the second half's questions are out of
corpus); every article by its even paragraphs (the odd paragraphs' questions are on topic but
unanswerable, the harder case and the one real users meet); and every fifth article alone by its even
paragraphs (a small index). A logistic regression separates the questions whose top sentence is right
from the unanswerable ones, each (kind of index, class) weighing the same; its features are the
`Signals` named in each lever. The sure margin is the one with the best F1 of sure answers on the
tuning range's on-topic index, unanswerable questions counted twice (two thirds of real questions
have no answer). Reported on the held-out range, at the product's default threshold for each index:
AUROC (right vs unanswerable), F1 of sure answers (precision over sure answers, unanswerable counted
twice; recall over answerable questions), the share of answerable questions answered (sure or hedged)
with a right top sentence, and the answer rates by word-overlap quintile.
Usage (from the project root; a few minutes: article embeddings come from --work-dir/all/cache):

    .venv/bin/python -m benchmarks.research.confidence [--json]
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks.research.abstention_sizes import index_of, remembered_squad
from benchmarks.squad import squad_options
from newsbot.index.embedder import Embedder
from newsbot.retrieval.confidence import WEIGHTS
from newsbot.retrieval.evaluation.abstention import Asked, asked_questions, overlap_bands
from newsbot.retrieval.evaluation.reqa import reqa_task

TUNING, HELD_OUT = slice(0, 24), slice(24, 48)
UNANSWERABLE_WEIGHT = 2  # in F1: two thirds of real questions have no answer in the index
HEDGE_REFUSES = 0.95  # the hedge threshold refuses this share of the tuning split's out-of-corpus questions


@dataclass(frozen=True)
class Row:
    """One question asked of one index."""

    index: str  # "half", "on topic", or "article N" (one article by its even paragraphs)
    label: str  # "in" (answerable), "out" (out of corpus) or "on topic" (unanswerable)
    asked: Asked


LEVERS: dict[str, Callable[[Asked], list[float]]] = {  # the product's features first
    "dense: sentence, paragraph, paragraph lead, lead (kept)":
        lambda q: [getattr(q.signals, name) for name in WEIGHTS],
    "dense + the reranked score (a quarter of its weight is word overlap)":
        lambda q: [*(getattr(q.signals, name) for name in WEIGHTS), q.score],
    "the old confidence: reranked score + lead": lambda q: [q.score + q.signals.lead],
    "the best sentence's cosine": lambda q: [q.signals.sentence],
}


def main() -> None:
    args = squad_options(__doc__.splitlines()[0]).parse_args()
    squad = remembered_squad(args.model, args.work_dir)
    if squad is None:
        return
    records, embedder = squad
    tuning = collect(records[TUNING], embedder, args.work_dir, "tuning")
    held_out = collect(records[HELD_OUT], embedder, args.work_dir, "held-out")
    report = {}
    for lever, features in LEVERS.items():
        weights = fit_logistic(*_training(tuning, features))
        score = _scorer(features, weights)
        hedge = _log_odds_refusing([score(r.asked) for r in tuning if r.index == "half" and r.label == "out"])
        margin = max((round(float(m), 2) for m in np.arange(0.0, 4.0, 0.05)),
                     key=lambda m: decisions([r for r in tuning if r.index == "on topic"], score, hedge, m)["f1"])
        report[lever] = {"weights": [round(w, 3) for w in weights], "hedge_log_odds": round(hedge, 3),
                         "sure_margin": margin, "tuning": measure(tuning, score, hedge, margin),
                         "held_out": measure(held_out, score, hedge, margin)}
    print(json.dumps(report, indent=2) if args.json else _table(report))


def collect(records: list[dict], embedder: Embedder, work_dir: Path, name: str) -> list[Row]:
    """Every question of the three kinds of index over these articles, asked through the product."""
    half = len(records) // 2
    documents = reqa_task(records, "dataset")[0]
    even = [(article, [s for s in sentences if s.paragraph % 2 == 0]) for article, sentences in documents]
    rows: list[Row] = []

    def ask(index: str, indexed: list, asked: list[tuple[str, list[dict]]]) -> None:
        retriever = index_of(work_dir / "confidence" / f"{name}-{index}", indexed, embedder, work_dir / "all")
        for label, questions in asked:
            rows.extend(Row(index, label, q) for q in asked_questions(retriever, questions) if q.signals is not None)
        retriever.close()

    ask("half", documents[:half], [("in", records[:half]), ("out", records[half:])])
    ask("on topic", even, [("in", _paragraphs(records, 0)), ("on topic", _paragraphs(records, 1))])
    for a in range(0, len(records), 5):
        ask(f"article {a}", even[a:a + 1],
            [("in", _paragraphs(records[a:a + 1], 0)), ("on topic", _paragraphs(records[a:a + 1], 1))])
    return rows


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 1e-3) -> list[float]:
    """Weights then bias maximising the weighted likelihood (Newton's method; a handful of features)."""
    design = np.column_stack([x, np.ones(len(x))])
    beta = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (weight * (p - y)) / len(y) + 2 * l2 * np.r_[beta[:-1], 0.0]
        hessian = (design.T * (weight * p * (1 - p))) @ design / len(y) + 2 * l2 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta.tolist()


def measure(rows: list[Row], score: Callable[[Asked], float], hedge: float, margin: float) -> dict[str, dict]:
    """The decisions on each kind of index (the single articles pooled), and the overlap bands of the split."""
    kinds = {"half": ["half"], "on topic": ["on topic"],
             "single articles": sorted({r.index for r in rows if r.index.startswith("article")})}
    result: dict[str, dict] = {kind: decisions([r for r in rows if r.index in names], score, hedge, margin)
                               for kind, names in kinds.items()}
    inside = [replace(r.asked, confidence=_probability(score(r.asked))) for r in rows
              if r.index == "half" and r.label == "in"]
    result["overlap_bands"] = overlap_bands(inside, _probability(hedge), sure_margin=margin)
    return result


def decisions(rows: list[Row], score: Callable[[Asked], float], hedge: float, margin: float) -> dict[str, float]:
    """AUROC (right vs unanswerable), F1 of sure answers and the share answered right, and refusals."""
    inside = [r.asked for r in rows if r.label == "in"]
    unanswerable = [r.asked for r in rows if r.label != "in"]
    scores_in = np.array([score(q) for q in inside])
    scores_un = np.array([score(q) for q in unanswerable])
    right = np.array([q.right for q in inside])
    sure_in = (scores_in >= hedge + margin) & np.array([q.missing is None for q in inside])
    sure_un = (scores_un >= hedge + margin) & np.array([q.missing is None for q in unanswerable])
    counted = UNANSWERABLE_WEIGHT * len(inside) / len(unanswerable)
    hits = float((sure_in & right).sum())
    precision = hits / (sure_in.sum() + counted * sure_un.sum()) if hits else 0.0
    recall = hits / len(inside)
    return {"questions": len(inside), "unanswerable": len(unanswerable),
            "auroc": round(_auroc(scores_in[right], scores_un), 3),
            "auroc_cosine": round(_auroc([q.signals.sentence for q, r in zip(inside, right) if r],
                                         [q.signals.sentence for q in unanswerable]), 3),
            "f1": round(2 * precision * recall / (precision + recall), 3) if hits else 0.0,
            "precision": round(precision, 3), "recall": round(recall, 3),
            "answered_right": round(float(((scores_in >= hedge) & right).mean()), 3),
            "answered": round(float((scores_in >= hedge).mean()), 3),
            "sure": round(float(sure_in.mean()), 3),
            "unanswerable_refused": round(float((scores_un < hedge).mean()), 3),
            "unanswerable_not_sure": round(float(1 - sure_un.mean()), 3)}


def _training(rows: list[Row], features: Callable[[Asked], list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The answerable questions ranked right against the unanswerable, each (kind of index, class) weighing the same."""
    kept = [r for r in rows if r.label != "in" or r.asked.right]
    groups = [(r.index if not r.index.startswith("article") else "article", r.label == "in") for r in kept]
    sizes = {group: groups.count(group) for group in set(groups)}
    weight = np.array([1 / sizes[group] for group in groups])
    return (np.array([features(r.asked) for r in kept]), np.array([r.label == "in" for r in kept], dtype=float),
            weight * len(kept) / weight.sum())


def _scorer(features: Callable[[Asked], list[float]], weights: list[float]) -> Callable[[Asked], float]:
    return lambda asked: float(np.dot(features(asked), weights[:-1]) + weights[-1])


def _log_odds_refusing(out_scores: list[float]) -> float:
    ordered = np.sort(out_scores)
    return float(np.nextafter(ordered[int(np.ceil(HEDGE_REFUSES * len(ordered))) - 1], np.inf))


def _probability(log_odds: float) -> float:
    return 1 / (1 + math.exp(-log_odds))


def _paragraphs(records: list[dict], parity: int) -> list[dict]:
    return [{**record, "paragraphs": record["paragraphs"][parity::2]} for record in records]


def _auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    pos, neg = np.asarray(positive, dtype=float)[:, None], np.asarray(negative, dtype=float)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def _table(report: dict) -> str:
    lines = []
    for lever, row in report.items():
        lines.append(f"{lever}: weights {row['weights']}, hedge at log-odds {row['hedge_log_odds']}, "
                     f"sure margin {row['sure_margin']}")
        for part in ("tuning", "held_out"):
            for kind, d in row[part].items():
                if kind == "overlap_bands":
                    lines.append(f"  {part:<9}overlap bands, answered / sure when right: " + "  ".join(
                        f"{b['answered_when_right']:.3f}/{b['sure_when_right']:.3f}" for b in d)
                        + "; answered / sure: " + "  ".join(f"{b['answered']:.3f}/{b['sure']:.3f}" for b in d))
                    continue
                lines.append(f"  {part:<9}{kind:<16} AUROC {d['auroc']:.3f} (cosine {d['auroc_cosine']:.3f})  "
                             f"F1 {d['f1']:.3f} (P {d['precision']:.3f}, R {d['recall']:.3f})  answered right "
                             f"{d['answered_right']:.3f}  answered {d['answered']:.3f}  sure {d['sure']:.3f}  "
                             f"unanswerable refused {d['unanswerable_refused']:.3f}, not sure {d['unanswerable_not_sure']:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
