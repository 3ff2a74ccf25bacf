"""Document frequencies of terms over an index version's sentences, for weighting lexical evidence
by how informative each matched word is (a rare name counts, "said" hardly does)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from newsbot.index.errors import IndexCorrupt
from newsbot.index.manifest import TERMS_FILE


def save_document_frequencies(folder: Path, documents: int, frequencies: Counter[str]) -> None:
    payload = {"documents": documents, "document_frequency": dict(frequencies)}
    (folder / TERMS_FILE).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def load_document_frequencies(folder: Path, *, sentences: int) -> dict[str, int]:
    """The term -> number of sentences table, checked against the manifest's sentence count."""
    try:
        payload = json.loads((folder / TERMS_FILE).read_text(encoding="utf-8"))
        frequencies = payload["document_frequency"]
        documents = payload["documents"]
    except (OSError, ValueError, KeyError, TypeError):
        raise IndexCorrupt(f"the term file of {folder} is missing or damaged; run `newsbot index` to rebuild") from None
    if documents != sentences or not isinstance(frequencies, dict):
        raise IndexCorrupt(f"the term file of {folder} does not match its manifest; run `newsbot index` to rebuild")
    return frequencies
