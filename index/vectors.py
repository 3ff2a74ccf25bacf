"""The FAISS side of an index version: choose the index type by size, build, save, load, check.

Small corpora get an exact index; from EXACT_UP_TO sentences on, an inverted-file index with
8-bit scalar-quantised codes (IVF,SQ8), whose search touches a few lists instead of every vector
and whose codes take a quarter of the float32 memory. The choice and its parameters are
recorded in the manifest, and a loaded index gets its search parameters from there.
Measured in docs/PERFORMANCE.md (benchmarks/scale.py).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from newsbot.index.errors import IndexCorrupt
from newsbot.index.manifest import PARAGRAPH_VECTORS_FILE, SENTENCE_PARAGRAPHS_FILE
from newsbot.index.rowfile import RowFile

if TYPE_CHECKING:  # the protocol lives beside the version that holds it, which loads this module
    from newsbot.index.version import VectorSearch

METRIC = "inner_product"  # on unit vectors, i.e. cosine similarity
EXACT = "Flat"
EXACT_UP_TO = 20_000  # sentences searched exactly; beyond, IVF,SQ8 (flat search passes ~2 ms near here, busy machine)
LISTS_PER_SQRT = 4  # nlist ≈ 4·√n, rounded to a power of two: 4096 lists at 1M sentences
MIN_TRAINING_PER_LIST = 39  # FAISS's own minimum of k-means points per centroid
TRAINING_PER_LIST = 64  # k-means sample: 64 points per list (262,144 at 1M sentences)
MIN_PROBES = 32  # lists searched per question: recall@10 ≥ 0.95 at 100k and 1M (docs/PERFORMANCE.md)
ADD_CHUNK = 65_536  # vectors added to FAISS at a time, so a build never holds them all in memory
TRAINING_SEED = 1234


@dataclass(frozen=True)
class IndexPlan:
    """Which FAISS index a build makes: a `faiss.index_factory` string, how many vectors k-means
    trains on (0: no training), and the search-time parameters every load sets."""

    factory: str
    training_sample: int = 0
    search: Mapping[str, int] = field(default_factory=dict)


def plan_index(count: int, *, exact_up_to: int = EXACT_UP_TO) -> IndexPlan:
    """The index for `count` sentences: exact up to `exact_up_to`, IVF with SQ8 codes beyond."""
    if count <= exact_up_to:
        return IndexPlan(EXACT)
    lists = min(_power_of_two(LISTS_PER_SQRT * math.sqrt(count)),
                _power_of_two_below(count // MIN_TRAINING_PER_LIST))
    lists = max(lists, 1)
    return IndexPlan(f"IVF{lists},SQ8", min(count, TRAINING_PER_LIST * lists),
                     {"nprobe": min(lists, max(MIN_PROBES, lists // 128))})


def new_vector_index(dimension: int) -> faiss.Index:
    """An exact inner-product index."""
    return faiss.IndexFlatIP(dimension)


def build_vectors(plan: IndexPlan, vectors: RowFile, added: Callable[[int], None] | None = None) -> faiss.Index:
    """The index `plan` describes over the rows of `vectors` (in sentence order), read a chunk at a
    time so a build never holds them all. An IVF index keeps a direct map so `fetch_vectors` works.
    `added` is told how many rows are in: none before training (k-means at a million rows takes minutes)
    and then after each chunk."""
    if plan.factory == EXACT:
        index = new_vector_index(vectors.dimension)
    else:
        index = faiss.index_factory(vectors.dimension, plan.factory, faiss.METRIC_INNER_PRODUCT)
    if added:
        added(0)
    with _all_cores():
        if plan.training_sample:
            rows = np.random.default_rng(TRAINING_SEED).choice(len(vectors), plan.training_sample, replace=False)
            index.train(vectors.take(np.sort(rows), ADD_CHUNK))
        for chunk in vectors.chunks(ADD_CHUNK):
            index.add(chunk)
            if added:
                added(int(index.ntotal))
    if plan.factory != EXACT:
        faiss.extract_index_ivf(index).make_direct_map()
    set_search_parameters(index, plan.search)
    return index


def describe(index: faiss.Index) -> str:
    """The index class as recorded in the manifest."""
    return type(index).__name__


def set_search_parameters(index: faiss.Index, parameters: Mapping[str, int]) -> None:
    space = faiss.ParameterSpace()
    for name, value in parameters.items():
        space.set_index_parameter(index, name, value)


def save_vectors(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_vectors(path: Path, *, dimension: int, count: int, search: Mapping[str, int] | None = None) -> faiss.Index:
    """Load, check that the file agrees with its manifest (a damaged file is refused, not served),
    and set the manifest's search parameters."""
    if not path.is_file():
        raise IndexCorrupt(f"the index file {path} is missing; run `newsbot index` to rebuild")
    try:
        index = faiss.read_index(str(path))
    except RuntimeError:
        raise IndexCorrupt(f"the index file {path} is damaged; run `newsbot index` to rebuild") from None
    if index.d != dimension or index.ntotal != count:
        raise IndexCorrupt(f"the index file {path} holds {index.ntotal} vectors of size {index.d}, the manifest "
                           f"says {count} of size {dimension}; run `newsbot index` to rebuild")
    try:
        set_search_parameters(index, search or {})
    except RuntimeError:
        raise IndexCorrupt(f"the index file {path} does not take the manifest's search parameters {dict(search or {})}; "
                           "run `newsbot index` to rebuild") from None
    return index


def search_vectors(index: VectorSearch, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) per query row; ids of -1 (fewer than k vectors) are dropped by callers."""
    k = min(k, index.ntotal)
    if k <= 0:
        empty = np.empty((len(queries), 0))
        return empty.astype(np.float32), empty.astype(np.int64)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def fetch_vectors(index: VectorSearch, ids: np.ndarray) -> np.ndarray:
    """The stored vectors of these sentence ids, to rescore candidates.

    Exact for a flat index; an IVF,SQ8 index decodes its 8-bit codes through its direct map (8 bytes
    a sentence), which differ from the float32 vectors by about 1e-3 in cosine: chosen over a float16
    copy of every vector (768 MB at 1M sentences), measured in docs/PERFORMANCE.md.
    """
    return index.reconstruct_batch(np.asarray(ids, dtype=np.int64))


def save_sentence_paragraphs(folder: Path, sentence_paragraphs: np.ndarray) -> None:
    """For each sentence (in FAISS order) the row of its paragraph in PARAGRAPH_VECTORS_FILE."""
    np.save(folder / SENTENCE_PARAGRAPHS_FILE, sentence_paragraphs.astype(np.int64), allow_pickle=False)


def load_paragraphs(folder: Path, *, dimension: int, sentences: int, paragraphs: int) -> tuple[np.ndarray, np.ndarray]:
    """Map the paragraph arrays read-only (pages load as searches touch them) and check them against the manifest."""
    try:
        vectors = np.load(folder / PARAGRAPH_VECTORS_FILE, mmap_mode="r", allow_pickle=False)
        sentence_paragraphs = np.load(folder / SENTENCE_PARAGRAPHS_FILE, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:  # EOFError: an empty file
        raise IndexCorrupt(f"the paragraph files of {folder} cannot be read ({type(error).__name__}); "
                           "run `newsbot index` to rebuild") from None
    if (vectors.shape != (paragraphs, dimension) or vectors.dtype != np.float32
            or sentence_paragraphs.shape != (sentences,) or sentence_paragraphs.dtype != np.int64
            or (sentences and (sentence_paragraphs.min() < 0 or sentence_paragraphs.max() >= paragraphs
                               or np.any(np.diff(sentence_paragraphs) < 0)))):
        raise IndexCorrupt(f"the paragraph files of {folder} do not match its manifest; run `newsbot index` to rebuild")
    return vectors, sentence_paragraphs


@contextmanager
def _all_cores() -> Iterator[None]:
    """Training and adding run on every core; then the calling thread gets back the FAISS threads it had
    (one, where the process chose to answer on one: retrieval/threads.py)."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _power_of_two(value: float) -> int:
    return 2 ** max(0, round(math.log2(max(value, 1))))


def _power_of_two_below(value: int) -> int:
    return 2 ** max(0, int(math.log2(max(value, 1))))
