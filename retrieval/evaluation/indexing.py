"""An evaluation's index, built and opened as users' questions would reach it: from the files, or through a
store of the evaluation's own (`newsbot eval --store`), so both stores' figures come from one path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from newsbot.index import Embedder, ProgressCallback, build_from_documents
from newsbot.index.build import Document
from newsbot.index.stores import FilesStore, Store, publish_to_store
from newsbot.index.vectors import EXACT_UP_TO
from newsbot.retrieval.retriever import Retriever


def index_and_open(documents: Sequence[Document], index_dir: Path, embedder: Embedder,
                   progress: ProgressCallback | None = None, store: Store | None = None, *,
                   exact_up_to: int = EXACT_UP_TO) -> Retriever:
    """Index the articles into `index_dir`, publish the version to `store` (nothing to do for the files) and open
    it there. An evaluation builds throwaway indexes: `store` is its own, never the one `NEWSBOT_STORE` names.
    `exact_up_to`: see `index.vectors.plan_index` (lowered to measure the IVF indexes on a small set)."""
    build_from_documents(documents, index_dir, embedder, progress=progress, exact_up_to=exact_up_to)
    store = store or FilesStore()
    publish_to_store(store, index_dir)
    return Retriever.open(index_dir, embedder=embedder, store=store)
