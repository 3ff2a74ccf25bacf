"""The fast backend's runtime: an ONNX export of a sentence-transformers model run by onnxruntime, with
the `tokenizers` package, so encoding needs no torch (`NEWSBOT_BACKEND=onnx-int8`, the default, or `onnx`).

The file it runs is made by index/onnx_export.py; see docs/PERFORMANCE.md for why this backend exists
and what it gives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from newsbot.index.encoding import encode_each, unit

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer


class OnnxEmbedder:
    """An exported model run with onnxruntime: tokenise, run, mean-pool over the tokens, normalise.

    Same contract as SentenceTransformerEmbedder: each text runs alone (`encode_each`), so no padding
    and no batch-mate enters its vector, on one session of one thread (as with torch, idle threads
    spinning would slow the search that follows a question); onnxruntime sessions and the tokenizer
    are safe to share across threads, so a build runs one text per core. Everything loads on first use.
    """

    def __init__(self, name: str, onnx_file: Path | Callable[[], Path]) -> None:
        """`onnx_file` may be a function that produces the file (the export), called once on first use."""
        self._name = name
        self._source = onnx_file
        self._file: Path | None = None
        self._lock = threading.Lock()
        self._tokenizer: Tokenizer | None = None
        self._session: onnxruntime.InferenceSession | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return _dimension(self._loaded_session())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        session = self._loaded_session()
        encodings = self._loaded_tokenizer().encode_batch(list(texts))
        return encode_each(encodings, lambda encoding: _pooled(session, encoding), _dimension(session))

    def _loaded_tokenizer(self) -> Tokenizer:
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                folder = self._onnx_file().parent
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
                tokenizer.enable_truncation(int(config["max_seq_length"]))
                tokenizer.no_padding()
                self._tokenizer = tokenizer
            return self._tokenizer

    def _loaded_session(self) -> onnxruntime.InferenceSession:
        with self._lock:
            if self._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                self._session = onnxruntime.InferenceSession(str(self._onnx_file()), options,
                                                             providers=["CPUExecutionProvider"])
            return self._session

    def _onnx_file(self) -> Path:
        """Called with the lock held."""
        if self._file is None:
            self._file = Path(self._source() if callable(self._source) else self._source)
        return self._file


def _dimension(session: onnxruntime.InferenceSession) -> int:
    return int(session.get_outputs()[0].shape[-1])


def _pooled(session: onnxruntime.InferenceSession, encoding: Encoding) -> np.ndarray:
    """One text's unit vector: the mean of its token embeddings (no padding, so no mask needed)."""
    ids = np.asarray([encoding.ids], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids),
             "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64)}
    return unit(session.run(None, feeds)[0][0].mean(axis=0))
