"""Measure answer-span pointing on SQuAD v1.1 dev: coverage, exact match and F1, per article range.

Each question is paired with its gold sentence (the dataset's boundaries), so the figures are
those of questions whose top sentence is right; no model is needed and it runs in seconds.
The rules and the margin were chosen on articles 0-23; 24-47 are held out. Usage (from the
project root):

    .venv/bin/python -m benchmarks.research.spans            # the product's figures, then the margin sweep
    .venv/bin/python -m benchmarks.research.spans --json
"""

from __future__ import annotations

import argparse
import json

from benchmarks.squad import squad_records
from newsbot.retrieval.span import MARGIN
from newsbot.retrieval.evaluation.spans import span_metrics

RANGES = {"0-23 (tuning)": slice(0, 24), "24-47 (held out)": slice(24, 48), "all 48": slice(0, 48)}
MARGINS = (0, 1, 2, 3, 4, 5, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    records = squad_records()
    if records is None:
        return
    table = {name: span_metrics(records[articles]) for name, articles in RANGES.items()}
    sweep = {margin: {name: span_metrics(records[RANGES[name]], margin=margin)
                      for name in ("0-23 (tuning)", "24-47 (held out)")} for margin in MARGINS}
    if args.json:
        print(json.dumps({"margin": MARGIN, "ranges": table, "margin_sweep": sweep}, indent=2))
        return
    print(f"margin {MARGIN}")
    print("| articles | questions | coverage | EM / F1 over offered | EM / F1 over all |")
    print("|---|---:|---:|---|---|")
    for name, row in table.items():
        print(f"| {name} | {row['questions']:,} | {row['coverage']:.3f} | {row['em_offered']:.3f} / "
              f"{row['f1_offered']:.3f} | {row['em_all']:.3f} / {row['f1_all']:.3f} |")
    print("\n| margin | 0-23: coverage, F1 over offered | 24-47: coverage, F1 over offered |")
    print("|---:|---|---|")
    for margin, rows in sweep.items():
        tuning, held_out = rows.values()
        print(f"| {margin} | {tuning['coverage']:.3f}, {tuning['f1_offered']:.3f} | "
              f"{held_out['coverage']:.3f}, {held_out['f1_offered']:.3f} |")


if __name__ == "__main__":
    main()
