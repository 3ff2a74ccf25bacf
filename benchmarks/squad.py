"""Where the benchmarks find SQuAD v1.1 dev: beside the project, never copied into it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from newsbot.index import Document, Embedder, build_from_documents
from newsbot.index.embedder import default_model, load_embedder
from newsbot.retrieval.evaluation.reqa import Query, load_squad, reqa_task

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


@dataclass(frozen=True)
class IndexedSquad:
    """All of SQuAD dev as the ReQA task, indexed with the dataset's sentences by the product's own build."""

    records: list[dict]
    embedder: Embedder
    documents: list[Document]
    queries: list[Query]
    index_dir: Path


def indexed_squad(args: argparse.Namespace) -> IndexedSquad | None:
    """The task indexed in `args.work_dir / "all"` with `args.model` (only what changed is embedded again),
    or None, saying so, when the dataset is not there."""
    records = squad_records()
    if records is None:
        return None
    embedder = load_embedder(args.model)
    documents, queries = reqa_task(records, "dataset")
    build_from_documents(documents, args.work_dir / "all", embedder)
    return IndexedSquad(records, embedder, documents, queries, args.work_dir / "all")
