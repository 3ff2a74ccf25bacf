"""The FAISS side of an index version: build, save, load and check against the manifest."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.errors import IndexCorrupt
from index.manifest import PARAGRAPH_VECTORS_FILE, SENTENCE_PARAGRAPHS_FILE

METRIC = "inner_product"  # on unit vectors, i.e. cosine similarity

# One question is searched on one thread: FAISS's OpenMP threads otherwise contend with the
# model's on a small machine (measured: 13 ms per search in a process with torch, 1 ms alone).
faiss.omp_set_num_threads(1)


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


def save_paragraphs(folder: Path, vectors: np.ndarray, sentence_paragraphs: np.ndarray) -> int:
    """Paragraph vectors, and for each sentence (in FAISS order) the row of its paragraph."""
    np.save(folder / PARAGRAPH_VECTORS_FILE, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    np.save(folder / SENTENCE_PARAGRAPHS_FILE, sentence_paragraphs.astype(np.int64), allow_pickle=False)
    return len(vectors)


def load_paragraphs(folder: Path, *, dimension: int, sentences: int, paragraphs: int) -> tuple[np.ndarray, np.ndarray]:
    """Load and check the paragraph arrays against the manifest."""
    try:
        vectors = np.load(folder / PARAGRAPH_VECTORS_FILE, allow_pickle=False)
        sentence_paragraphs = np.load(folder / SENTENCE_PARAGRAPHS_FILE, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:  # EOFError: an empty file
        raise IndexCorrupt(f"the paragraph files of {folder} cannot be read ({type(error).__name__}); "
                           "run `newsbot index` to rebuild") from None
    if (vectors.shape != (paragraphs, dimension) or sentence_paragraphs.shape != (sentences,)
            or (sentences and (sentence_paragraphs.min() < 0 or sentence_paragraphs.max() >= paragraphs
                               or np.any(np.diff(sentence_paragraphs) < 0)))):
        raise IndexCorrupt(f"the paragraph files of {folder} do not match its manifest; run `newsbot index` to rebuild")
    return vectors, sentence_paragraphs
