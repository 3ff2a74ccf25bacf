"""Where the benchmarks find SQuAD v1.1 dev: beside the project, never copied into it."""

from __future__ import annotations

import argparse
from pathlib import Path

from index.embedder import default_model
from retrieval.evaluate import load_squad

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "eval" / "squad_v1.1_dev.jsonl"
WORK_DIR = Path("/tmp/newsbot-ranker")  # the 48 articles' index and embeddings, shared by the quality benchmarks


def squad_options(description: str) -> argparse.ArgumentParser:
    """The options of a quality benchmark over SQuAD dev: where its indexes live, the model, JSON output."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    parser.add_argument("--model", default=default_model())
    parser.add_argument("--json", action="store_true")
    return parser


def squad_records(articles: slice | None = None) -> list[dict] | None:
    """The dataset's article records (optionally a slice), or None, saying so, when it is not there."""
    if not SQUAD.is_file():
        print(f"{SQUAD} is not here; nothing to measure")
        return None
    return load_squad(SQUAD, articles)
