"""The FAISS side of an index version: build, save, load and check against the manifest."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.errors import IndexCorrupt

METRIC = "inner_product"  # on unit vectors, i.e. cosine similarity


def new_vector_index(dimension: int) -> faiss.Index:
    """An exact inner-product index: at news-corpus sizes exact search is fast and loses nothing."""
    return faiss.IndexFlatIP(dimension)


def describe(index: faiss.Index) -> str:
    """The index type as recorded in the manifest."""
    return type(index).__name__


def save_vectors(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_vectors(path: Path, *, dimension: int, count: int) -> faiss.Index:
    """Load and check that the file agrees with its manifest, so a damaged file is refused, not served."""
    if not path.is_file():
        raise IndexCorrupt(f"the index file {path} is missing; run `newsbot index` to rebuild")
    try:
        index = faiss.read_index(str(path))
    except RuntimeError:
        raise IndexCorrupt(f"the index file {path} is damaged; run `newsbot index` to rebuild") from None
    if index.d != dimension or index.ntotal != count:
        raise IndexCorrupt(f"the index file {path} holds {index.ntotal} vectors of size {index.d}, the manifest "
                           f"says {count} of size {dimension}; run `newsbot index` to rebuild")
    return index


def search_vectors(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) per query row; ids of -1 (fewer than k vectors) are dropped by callers."""
    k = min(k, index.ntotal)
    if k <= 0:
        empty = np.empty((len(queries), 0))
        return empty.astype(np.float32), empty.astype(np.int64)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
