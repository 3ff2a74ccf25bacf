"""Sentence embeddings in a FAISS index on disk: versioned, self-describing, swapped atomically."""

from __future__ import annotations

import os
from pathlib import Path

from newsbot.index.build import BuildReport, Document, ProgressCallback, build_from_documents, build_index
from newsbot.index.embedder import DEFAULT_MODEL, Embedder, default_model, load_embedder
from newsbot.index.errors import IndexBusy, IndexCorrupt, IndexIncompatible, IndexNotFound, IndexProblem, IndexWriteFailed
from newsbot.index.stores import STORE, store_folder

DEFAULT_INDEX_DIR = Path(__file__).resolve().parent / "data"


def default_index_dir() -> Path:
    """`NEWSBOT_INDEX_DIR` when set, else the folder `NEWSBOT_STORE` names, else `index/data` in the project
    folder. With Milvus as the store, the folder is where builds are made before they are copied there."""
    return Path(os.environ.get("NEWSBOT_INDEX_DIR") or store_folder(os.environ.get(STORE)) or DEFAULT_INDEX_DIR)


__all__ = ["BuildReport", "Document", "build_from_documents", "DEFAULT_INDEX_DIR", "DEFAULT_MODEL", "Embedder", "IndexBusy", "IndexCorrupt",
           "IndexIncompatible", "IndexNotFound", "IndexProblem", "IndexWriteFailed", "ProgressCallback", "build_index",
           "default_index_dir", "default_model", "load_embedder"]
