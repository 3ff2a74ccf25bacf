"""Open the index, building it from the corpus folder first when there is none: how `newsbot ask`,
`chat` and `serve` start on a fresh checkout, so that the first command works without `newsbot index`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from newsbot.index import IndexNotFound
from newsbot.index.embedder import Embedder
from newsbot.index.stores import Store
from newsbot.retrieval import Retriever


def open_or_build(index_dir: Path, embedder: Embedder, build: Callable[[], object], *,
                  min_confidence: float | None, store: Store | None = None) -> Retriever:
    """The index in `index_dir`, opened with `embedder`. When there is none, `build` makes it first: the
    caller's build, which says what it does in the caller's way (a log line, progress bars on a terminal).
    `min_confidence` None lets the threshold follow the index's size; `store` (default: the folder) is where the
    index is read (`index.stores`)."""
    try:
        return Retriever.open(index_dir, embedder=embedder, min_confidence=min_confidence, store=store)
    except IndexNotFound:
        build()
        return Retriever.open(index_dir, embedder=embedder, min_confidence=min_confidence, store=store)
