"""An opened index version: every file a reader needs, loaded and checked against the manifest.

`open_version` is the one place that knows a version's file names and loaders; the retriever
receives the `IndexVersion` it returns, so a second store needs only a second way to make one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from newsbot.index.lexicon import load_document_frequencies
from newsbot.index.manifest import METADATA_FILE, PARAGRAPH_INDEX_FILE, VECTORS_FILE, Manifest, read_manifest
from newsbot.index.metadata import MetadataReader
from newsbot.index.store import current_version
from newsbot.index.vectors import load_paragraphs, load_vectors


@dataclass(frozen=True)
class IndexVersion:
    """One published version, ready to search. Thread-safe to read; `close` when done."""

    folder: Path
    manifest: Manifest
    sentences: faiss.Index  # "Title: sentence" vectors, in sentence-id order
    paragraphs: faiss.Index  # the paragraph vectors' own index, to find the best paragraphs
    paragraph_vectors: np.ndarray  # memory-mapped rows of `paragraphs`, to score candidates' paragraphs
    sentence_paragraphs: np.ndarray  # the paragraph row of each sentence (never decreasing)
    document_frequencies: dict[str, int]  # term -> how many sentences hold it
    metadata: MetadataReader  # texts, terms and articles by sentence id

    def close(self) -> None:
        """Release the metadata database; searches must have finished."""
        self.metadata.close()


def open_version(index_dir: Path) -> IndexVersion:
    """The current version of an index folder, its checksums verified (`index.store.current_version`)
    and each file checked against the manifest as it loads (IndexCorrupt names the file and what to run)."""
    folder = current_version(Path(index_dir))
    manifest = read_manifest(folder)
    sentences = load_vectors(folder / VECTORS_FILE, dimension=manifest.dimension, count=manifest.sentences,
                             search=manifest.faiss_search)
    paragraphs = load_vectors(folder / PARAGRAPH_INDEX_FILE, dimension=manifest.dimension,
                              count=manifest.paragraphs, search=manifest.paragraph_faiss_search)
    paragraph_vectors, sentence_paragraphs = load_paragraphs(
        folder, dimension=manifest.dimension, sentences=manifest.sentences, paragraphs=manifest.paragraphs)
    frequencies = load_document_frequencies(folder, sentences=manifest.sentences)
    return IndexVersion(folder, manifest, sentences, paragraphs, paragraph_vectors, sentence_paragraphs,
                        frequencies, MetadataReader(folder / METADATA_FILE))
