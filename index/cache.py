"""Embeddings per article, kept between builds so a rebuild embeds only what is new or changed,
and a killed build resumes where it stopped. Keyed by the model and the exact texts embedded."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

EMBEDDING_KEYS_FILE = "embedding_keys.json"  # in a version: each indexed article's entry, by article number


class EmbeddingCache:
    """One `.npy` file of unit vectors per article, written atomically."""

    def __init__(self, folder: Path, model: str) -> None:
        self._model = model
        self._folder = Path(folder) / hashlib.sha256(model.encode()).hexdigest()[:16]

    def key(self, texts: Sequence[str]) -> str:
        payload = self._model + "\x00" + "\x1e".join(texts)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(self, key: str, *, rows: int, dimension: int | None = None) -> np.ndarray | None:
        """The cached vectors, or None when absent or not of the expected shape."""
        try:
            vectors = np.load(self._path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):  # EOFError: an empty file
            return None
        if vectors.ndim != 2 or len(vectors) != rows or (dimension is not None and vectors.shape[1] != dimension):
            return None
        return vectors.astype(np.float32, copy=False)

    def put(self, key: str, vectors: np.ndarray) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        try:
            with open(partial, "wb") as handle:
                np.save(handle, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
            os.replace(partial, path)
        except BaseException:  # a full disk or a file-size limit: no half-written file stays behind
            partial.unlink(missing_ok=True)
            raise

    def keep_only(self, keys: Iterable[str]) -> None:
        """Forget the embeddings of articles that are no longer in the corpus."""
        wanted = set(keys)
        if not self._folder.is_dir():
            return
        for path in self._folder.glob("*/*"):
            if path.name.removesuffix(".npy") not in wanted:
                path.unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        return self._folder / key[:2] / f"{key}.npy"


def save_embedding_keys(folder: Path, keys: Sequence[str]) -> None:
    """Record in a version which cache entry holds each indexed article's float32 vectors (by article number):
    a store that copies the version (index/milvus_publish.py) takes them instead of the FAISS index's codes."""
    (Path(folder) / EMBEDDING_KEYS_FILE).write_text(json.dumps(list(keys)) + "\n", encoding="utf-8")


def load_embedding_keys(folder: Path) -> list[str] | None:
    """The keys `save_embedding_keys` recorded, or None when the version has none readable."""
    try:
        keys = json.loads((Path(folder) / EMBEDDING_KEYS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return keys if isinstance(keys, list) and all(isinstance(key, str) for key in keys) else None
