"""How every model backend encodes: each text alone, on one thread, into a unit-length row.

Shared by the torch and ONNX runtimes (index/torch_embedder.py, index/onnx_embedder.py), so the rule that
a vector depends on its own text only is written once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

FEW_TEXTS = 8  # up to this many texts per call are encoded on the calling thread (see encode_each)
Item = TypeVar("Item")


def encode_each(items: Sequence[Item], encode_one: Callable[[Item], np.ndarray], dimension: int) -> np.ndarray:
    """One row per item, each encoded alone on one thread; more than FEW_TEXTS fan out over the cores.

    Why alone: batching made a text's vector depend on its batch-mates. Dynamic int8 quantisation takes
    its activation scale from the whole batch and padding changes the order of fp32 sums, so a question
    asked alone and in a burst got vectors at cosine 0.98 (found / not-found flipped), and torch on two
    threads sums in another order than on one. Alone, the arithmetic is the same every time, and one
    text per core encodes as fast as batches padded by length did (docs/PERFORMANCE.md).
    """
    vectors = np.zeros((len(items), dimension), dtype=np.float32)
    if len(items) <= FEW_TEXTS:
        for row, item in enumerate(items):
            vectors[row] = encode_one(item)
        return vectors
    with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        for row, vector in enumerate(pool.map(encode_one, items)):
            vectors[row] = vector
    return vectors


def unit(vector: np.ndarray) -> np.ndarray:
    """The vector scaled to length 1 (a zero vector stays zero)."""
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
