"""Measure answer-span pointing on SQuAD v1.1 dev per kind of question, and choose the kinds shown.

Each question is paired with its gold sentence (the dataset's boundaries), so the figures are
those of questions whose top sentence is right; no model is needed and it runs in seconds. A span
is right when its token F1 against a gold answer is at least 0.5 (`retrieval.evaluation.spans`).
The kinds shown (`retrieval.span.OFFERED_KINDS`) are those right at least 90% of the time on
articles 0-23; 24-47 are held out. The rules and the margin were chosen on 0-23 too. Usage (from
the project root):

    .venv/bin/python -m benchmarks.research.spans            # per kind, the product's figures, the margin sweep
    .venv/bin/python -m benchmarks.research.spans --json
    .venv/bin/python -m benchmarks.research.spans --write-docs   # the per-kind table into docs/QUALITY.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from benchmarks.report import provenance, table, write_block
from benchmarks.squad import squad_records
from newsbot.retrieval.evaluation.spans import kinds_right_often, span_metrics
from newsbot.retrieval.span import MARGIN, OFFERED_KINDS

RANGES = {"0-23 (tuning)": slice(0, 24), "24-47 (held out)": slice(24, 48), "all 48": slice(0, 48)}
MARGINS = (0, 1, 2, 3, 4, 5, 8)
SHOWN_PRECISION = 0.9  # a kind's spans are shown when right at least this often on 0-23
ROOT = Path(__file__).resolve().parents[2]
HALVES = ("0-23 (tuning)", "24-47 (held out)")


def kinds_block(ranges: dict[str, dict]) -> str:
    """Per kind, on each half: questions, spans found, share right; and whether the product shows it."""
    tuning = ranges[HALVES[0]]["kinds"]
    rows = []
    for kind in sorted(tuning, key=lambda k: -tuning[k]["precision"]):
        cells = [f"{row['questions']:,}, {row['found']:,}, {row['precision']:.3f}"
                 for row in (ranges[half]["kinds"][kind] for half in HALVES)]
        decision = ("shown" if kind in OFFERED_KINDS else
                    "no kind named: never" if not tuning[kind]["found"] else
                    f"not shown: below {SHOWN_PRECISION:.2f} on the tuning half")
        rows.append((kind, *cells, decision))
    shown = [f"{half}: shown for {ranges[half]['coverage']:.1%} of questions, right {ranges[half]['precision_offered']:.1%}"
             for half in HALVES]
    return (table(("kind", *(f"{half}: questions, spans found, right" for half in HALVES), "decision"), rows)
            + "\n\n" + "; ".join(shown) + ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="write the per-kind table into docs/QUALITY.md")
    args = parser.parse_args()
    records = squad_records()
    if records is None:
        return
    table = {name: span_metrics(records[articles]) for name, articles in RANGES.items()}
    chosen = kinds_right_often(table["0-23 (tuning)"], SHOWN_PRECISION)
    sweep = {margin: {name: span_metrics(records[RANGES[name]], margin=margin)
                      for name in ("0-23 (tuning)", "24-47 (held out)")} for margin in MARGINS}
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.spans", *sys.argv[1:]])
        write_block(ROOT / "docs" / "QUALITY.md", "quality-span-kinds", f"{provenance(command)}\n\n{kinds_block(table)}")
    if args.json:
        print(json.dumps({"margin": MARGIN, "chosen_kinds": sorted(chosen), "offered_kinds": sorted(OFFERED_KINDS),
                          "ranges": table, "margin_sweep": sweep}, indent=2))
        return
    print(f"margin {MARGIN}; kinds right >= {SHOWN_PRECISION:.0%} on 0-23: {', '.join(sorted(chosen))}; "
          f"shown by the product: {', '.join(sorted(OFFERED_KINDS))}")
    print("\n| kind | " + " | ".join(f"{name}: questions, found, right" for name in RANGES) + " |")
    print("|---|" + "---|" * len(RANGES))
    for kind in table["all 48"]["kinds"]:
        cells = [f"{row['questions']:,}, {row['found']:,}, {row['precision']:.3f}"
                 for row in (table[name]["kinds"][kind] for name in RANGES)]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print("\n| articles | questions | coverage | right / EM / F1 over shown | EM / F1 over all |")
    print("|---|---:|---:|---|---|")
    for name, row in table.items():
        print(f"| {name} | {row['questions']:,} | {row['coverage']:.3f} | {row['precision_offered']:.3f} / "
              f"{row['em_offered']:.3f} / {row['f1_offered']:.3f} | {row['em_all']:.3f} / {row['f1_all']:.3f} |")
    print("\n| margin | 0-23: coverage, F1 over shown | 24-47: coverage, F1 over shown |")
    print("|---:|---|---|")
    for margin, rows in sweep.items():
        tuning, held_out = rows.values()
        print(f"| {margin} | {tuning['coverage']:.3f}, {tuning['f1_offered']:.3f} | "
              f"{held_out['coverage']:.3f}, {held_out['f1_offered']:.3f} |")


if __name__ == "__main__":
    main()
