"""The reference backend: a sentence-transformers model run by torch (`NEWSBOT_BACKEND=torch`).

torch, transformers and sentence-transformers are imported when the model loads, on first use, and
never by the ONNX backends.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from newsbot.index.encoding import encode_each, unit

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use, run by torch on one thread per text.

    One thread: a question on two threads took 60 ms end to end against 20 ms on one (idle OpenMP
    threads spin and starve the FAISS search that follows), and the thread count changes torch's sums.
    Tokenising is serialised by a lock because the fast tokenizers are not safe to call from several
    threads at once; the model itself runs on as many texts at a time as there are cores.
    """

    def __init__(self, name: str, model: Path | str, *, device: str = "cpu") -> None:
        """`name` is the identity an index records; `model` the folder to load from, or a hub model name."""
        self._name = name
        self._model_source = model
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

                # torch's setting for the whole process, worker threads included: made when a torch model
                # loads (the vectors depend on it), never on import
                torch.set_num_threads(1)
                self._model = _load_sentence_transformer(self._model_source, self._device)
            return self._model


def _load_sentence_transformer(model: Path | str, device: str) -> SentenceTransformer:
    """Load from a local folder offline; only a hub name may reach the network.

    The environment is written here, when a model loads, and never on import: HF_HUB_OFFLINE=1 for a
    folder (huggingface_hub reads it when first imported, by the import of sentence_transformers below),
    and TOKENIZERS_PARALLELISM=false unless the user set it (the tokenizers' own threads would warn after
    a fork).
    """
    if isinstance(model, Path):
        os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return SentenceTransformer(str(model), device=device)
