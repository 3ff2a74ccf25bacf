"""Where the benchmarks find SQuAD v1.1 dev: beside the project, never copied into it."""

from __future__ import annotations

from pathlib import Path

from retrieval.evaluate import load_squad

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "eval" / "squad_v1.1_dev.jsonl"


def squad_records(articles: slice | None = None) -> list[dict] | None:
    """The dataset's article records (optionally a slice), or None, saying so, when it is not there."""
    if not SQUAD.is_file():
        print(f"{SQUAD} is not here; nothing to measure")
        return None
    return load_squad(SQUAD, articles)
