"""Test embedders shared by the index tests."""

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
