"""Sentence embeddings in a FAISS index on disk: versioned, self-describing, swapped atomically."""

from __future__ import annotations

import os
from pathlib import Path

from newsbot.index.build import BuildReport, Document, ProgressCallback, build_from_documents, build_index
from newsbot.index.embedder import DEFAULT_MODEL, Embedder, default_model, load_embedder
from newsbot.index.errors import IndexBusy, IndexCorrupt, IndexIncompatible, IndexNotFound, IndexProblem, IndexWriteFailed

DEFAULT_INDEX_DIR = Path(__file__).resolve().parent / "data"


def default_index_dir() -> Path:
    """`NEWSBOT_INDEX_DIR` when set, else `index/data` in the project folder."""
    return Path(os.environ.get("NEWSBOT_INDEX_DIR") or DEFAULT_INDEX_DIR)


__all__ = ["BuildReport", "Document", "build_from_documents", "DEFAULT_INDEX_DIR", "DEFAULT_MODEL", "Embedder", "IndexBusy", "IndexCorrupt",
           "IndexIncompatible", "IndexNotFound", "IndexProblem", "IndexWriteFailed", "ProgressCallback", "build_index",
           "default_index_dir", "default_model", "load_embedder"]
