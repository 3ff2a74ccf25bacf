"""Test embedders shared by the index tests."""

import hashlib
from collections.abc import Sequence

import numpy as np

from newsbot.index.hashing_embedder import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    """Counts the texts it is asked to embed per call, to prove what a rebuild reuses and that a build streams."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return super().encode(texts)


class UntiedEmbedder(HashingEmbedder):
    """The hashing embedder with a little noise seeded by each text, so that no two sentences score alike for a
    question: two vector stores order equal scores each its own way, and comparing their rankings needs none."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = super().encode(texts)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            vectors[row] += 0.05 * np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
