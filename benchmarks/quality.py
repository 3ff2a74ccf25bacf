"""newsbot's answer quality on SQuAD v1.1 dev, as `newsbot eval` measures it, written into the docs.

Runs the evaluation `newsbot eval ../shared/eval/squad_v1.1_dev.jsonl` runs (the same function, with the
CLI's defaults: the product's model and backend, both sentence boundaries, every article) and prints its
tables; `--write-docs` also replaces the generated blocks (benchmarks/report.py) of docs/QUALITY.md and
README.md with them, the date, the machine and its load. `newsbot eval` stays the user's tool: it never
writes the project's docs. Run from the project root (about 7 minutes on 2 cores):

    .venv/bin/python -m benchmarks.quality                 # print the tables
    .venv/bin/python -m benchmarks.quality --write-docs    # and write them into the docs
    .venv/bin/python -m benchmarks.quality --json          # the evaluation's whole report
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.report import provenance, table, write_block
from benchmarks.squad import SQUAD
from benchmarks.stats import machine
from newsbot.index import Embedder, default_model, load_embedder
from newsbot.retrieval.threads import answer_on_one_thread

ROOT = Path(__file__).resolve().parents[1]
BOUNDARIES = {"dataset": "the dataset's `reqa_sentence_spans`", "own": "newsbot's own segmenter"}


def measure(dataset: Path = SQUAD, embedder: Embedder | None = None) -> dict:
    """What `newsbot eval DATASET` reports with its default options (the product's model by default)."""
    from newsbot.retrieval.evaluation.evaluate import evaluate_file

    return evaluate_file(dataset, embedder or load_embedder(default_model()))


def retrieval_block(report: dict) -> str:
    rows = []
    for name, row in report["segmentations"].items():
        low = row["low_overlap"]
        rows.append((BOUNDARIES.get(name, name), f"{row['candidates']:,}", f"{row['questions']:,}",
                     _f(row["p_at_1"]), _f(row["r_at_5"]), _f(row["mrr"]),
                     f"{low['questions']:,}: {_f(low['p_at_1'])} / {_f(low['r_at_5'])} / {_f(low['mrr'])}"))
    pairs = next(iter(report["segmentations"].values()))["pairs"]
    return (f"{report['articles']} articles, model `{report['model']}`, {pairs:,} question–sentence pairs; "
            f"MRR over the top {report['top_k']}.\n\n"
            + table(("sentence boundaries", "candidates", "questions", "P@1", "R@5", "MRR",
                     "low-overlap slice: questions: P@1 / R@5 / MRR"), rows, "lrrrrrl"))


def abstention_block(report: dict) -> str:
    split = report["abstention"]
    named = [(split["operating_point"], "**the operating point: 90% of out-of-corpus questions refused**"),
             (split["refusing_95_percent"], "95% refused"),
             (split["default_threshold"], f"**the default for {split['indexed_sentences']:,} sentences**")]
    points = {point["threshold"]: point for point in split["curve"]}
    marked: dict[float, list[str]] = {}
    for point, label in named:
        points[point["threshold"]] = point
        marked.setdefault(point["threshold"], []).append(label)
    rows = [(f"{threshold:.3f}" if threshold in marked else f"{threshold:.1f}", "; ".join(marked.get(threshold, [])), _percent(point["in_corpus_answered"]),
             _percent(point["in_corpus_answered_correctly"]), _percent(point["out_of_corpus_refused"]))
            for threshold, point in sorted(points.items())]
    return (f"Index the first {split['indexed_articles']} articles ({split['indexed_sentences']:,} sentences), "
            f"ask the questions of all {split['asked_articles']}: the indexed articles' questions are in corpus, "
            f"the others' out of corpus.\n\n"
            + table(("confidence threshold", "point", "in-corpus answered", "answered and right", "out-of-corpus refused"),
                    rows, "llrrr"))


def overlap_block(report: dict) -> str:
    split = report["abstention"]
    default = split["default_threshold"]
    rows = [(f"{band['overlap_from']:.2f}–{band['overlap_to']:.2f}", f"{band['questions']:,}",
             _percent(band["right"]), _percent(band["answered"]), _percent(band["sure"]),
             _percent(band["answered_when_right"]), _percent(band["sure_when_right"]))
            for band in split["overlap_bands"]]
    return (f"The in-corpus questions of the split above in quintiles of their word overlap with their answer sentence "
            f"(the share of their IDF-weighted terms it holds), at the default threshold "
            f"({default['threshold']:.3f}; sure from {default['sure_threshold']:.3f}). Out of corpus: "
            f"{_percent(default['out_of_corpus_refused'])} refused, {_percent(default['out_of_corpus_sure'])} "
            f"answered sure.\n\n"
            + table(("overlap", "questions", "top sentence right", "answered", "answered sure",
                     "answered, of those ranked right", "sure, of those ranked right"), rows, "lrrrrrr"))


def spans_block(report: dict) -> str:
    spans = report["spans"]
    ranked = spans.get("first_ranked")
    rows = [("the gold sentence", spans)] + ([("the sentence the retriever ranks first", ranked)] if ranked else [])
    overall = table(("the span shown in", "questions", "shown for", "right (token F1 ≥ 0.5)", "EM / F1 over shown",
                     "EM / F1 over all questions"),
                    [(where, f"{row['questions']:,}", _percent(row["coverage"]), _percent(row["precision_offered"]),
                      f"{_f(row['em_offered'])} / {_f(row['f1_offered'])}", f"{_f(row['em_all'])} / {_f(row['f1_all'])}")
                     for where, row in rows], "lrrrll")
    kinds = []
    for kind, row in spans["kinds"].items():
        first = ranked["kinds"].get(kind) if ranked else None
        kinds.append((kind, f"{row['questions']:,}", f"{row['found']:,}", _percent(row["precision"]) if row["found"] else "–",
                      f"{_percent(first['precision'])} of {first['found']:,}" if first and first["found"] else "–",
                      "**yes**" if row["offered"] else "no"))
    return (overall + "\n\nBy kind of question (`retrieval.span.answer_kind`): spans found, and the share right, "
            "in the gold sentence and in the sentence ranked first.\n\n"
            + table(("kind", "questions", "spans found", "right in the gold sentence", "right in the sentence ranked first",
                     "shown"), kinds, "lrrrrl"))


def followups_block(report: dict) -> str:
    followups = report["followups"]
    if not followups:
        return "Not measured: the follow-ups need the dataset's sentence boundaries."
    half = followups["half"]
    rows = []
    for name, label in (("first_half", f"0-{half - 1} (the rule was made here)"), ("second_half", f"{half}-{report['articles'] - 1} (held out)"),
                        ("all", "all")):
        row = followups[name]
        recovered = ((row["rewritten_after_earlier"] - row["rewritten_alone"])
                     / max(row["original_alone"] - row["rewritten_alone"], 1e-9))
        rows.append((label, f"{row['questions']:,}", _f(row["rewritten_alone"]), f"**{_f(row['rewritten_after_earlier'])}**",
                     _f(row["original_alone"]), f"{recovered:.0%}", _f(row["original_after_earlier"]),
                     _f(row["original_after_unrelated"]), f"{row['rewritten_leaning']:.1%} / {row['original_leaning']:.1%}"))
    return table(("articles", "follow-ups", "rewritten, alone", "rewritten, after the earlier question",
                  "original, alone (ceiling)", "distance recovered", "original, after the earlier question",
                  "original, after an unrelated question", "leaning: rewritten / original"), rows, "lrrrrrrrr")


def headline_block(report: dict) -> str:
    dataset = report["segmentations"]["dataset"]
    low, split, spans = dataset["low_overlap"], report["abstention"], report["spans"]
    default = split["default_threshold"]
    rows = [(f"answer-sentence retrieval, SQuAD v1.1 dev, ReQA protocol ({dataset['candidates']:,} candidate "
             f"sentences, {dataset['questions']:,} questions): P@1 / R@5 / MRR",
             f"**{_f(dataset['p_at_1'])} / {_f(dataset['r_at_5'])} / {_f(dataset['mrr'])}**"),
            (f"the same on the {low['questions']:,} questions sharing < 40% of their term weight with the answer",
             f"{_f(low['p_at_1'])} / {_f(low['r_at_5'])} / {_f(low['mrr'])}"),
            (f"knowing when not to answer (index {split['indexed_articles']} articles, ask all {split['asked_articles']}; "
             f"default threshold {default['threshold']:.3g}): in-corpus answered (sure) / out-of-corpus refused",
             f"{_percent(default['in_corpus_answered'])} ({_percent(default['in_corpus_sure'])}) / "
             f"{_percent(default['out_of_corpus_refused'])}"),
            ("the answer's words highlighted (number, date and year questions): share of questions, right where shown",
             f"{spans['coverage']:.0%}, {_percent(spans['precision_offered'])}")]
    return table(("figure", "measured"), rows)


# (page, block) and how it is written
DOC_BLOCKS: dict[tuple[str, str], Callable[[dict], str]] = {
    ("docs/QUALITY.md", "quality-retrieval"): retrieval_block,
    ("docs/QUALITY.md", "quality-abstention"): abstention_block,
    ("docs/QUALITY.md", "quality-overlap"): overlap_block,
    ("docs/QUALITY.md", "quality-spans"): spans_block,
    ("docs/QUALITY.md", "quality-followups"): followups_block,
    ("README.md", "quality-headline"): headline_block,
}


def write_docs(report: dict, command: str, started: dict[str, object], root: Path = ROOT) -> list[str]:
    line = provenance(command, started, [round(x, 2) for x in os.getloadavg()])
    for (page, block), render in DOC_BLOCKS.items():
        write_block(root / page, block, f"{line}\n\n{render(report)}")
    return [f"{page}#{block}" for page, block in DOC_BLOCKS]


def _f(value: float) -> str:
    return f"{value:.3f}"


def _percent(share: float) -> str:
    return f"{share:.1%}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/QUALITY.md and README.md")
    parser.add_argument("--json", action="store_true", help="print the evaluation's report as JSON")
    args = parser.parse_args(argv)
    if not SQUAD.is_file():
        print(f"{SQUAD} is not here; nothing to measure", file=sys.stderr)
        return 2
    answer_on_one_thread()  # as the `newsbot` command does
    started = machine()
    report = measure()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n\n".join(render(report) for render in DOC_BLOCKS.values()))
    if args.write_docs:
        written = write_docs(report, shlex.join(["python", "-m", "benchmarks.quality", *argv]), started)
        print(f"wrote {', '.join(written)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
