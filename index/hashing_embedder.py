"""The model-free embedder: `NEWSBOT_MODEL=hashing` (or `--model hashing`).

A documented mode of the product, not only a test stand-in: smoke runs and the million-sentence scale
benchmark build with it, and most tests use it where the model is not the point. It is instant, needs no
model files, and texts that share words are near each other.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

HASHING_MODEL = "hashing"  # the model name that selects this embedder, recorded as such in an index


class HashingEmbedder:
    """A deterministic bag-of-words embedder (signed feature hashing) with unit-length rows."""

    def __init__(self, dimension: int = 256) -> None:
        if dimension < 8:
            raise ValueError("the hashing embedder needs at least 8 dimensions")
        self._dimension = dimension

    @property
    def name(self) -> str:
        return HASHING_MODEL

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in re.findall(r"\w+", text.lower()):
                digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
                vectors[row, digest % self._dimension] += 1.0 if digest >> 63 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)
