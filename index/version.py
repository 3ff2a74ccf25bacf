"""An opened index version: what the answer path reads, as a small interface any store can supply.

The retriever reads an `IndexVersion` and nothing else of the index: two `VectorSearch`es (the
sentences and the paragraphs), the paragraph vectors and each sentence's paragraph row, the document
frequencies and a `SentenceMetadata`. `open_version` makes one from a folder of files (FAISS + SQLite);
another store (Milvus, `index.stores`) makes the same from its own collections, so the ranking code
never knows which store answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from newsbot.index.lexicon import load_document_frequencies
from newsbot.index.manifest import METADATA_FILE, PARAGRAPH_INDEX_FILE, VECTORS_FILE, Manifest, read_manifest
from newsbot.index.metadata import ArticleInfo, ArticleTerms, MetadataReader, StoredSentence
from newsbot.index.store import current_version
from newsbot.index.vectors import load_paragraphs, load_vectors


@runtime_checkable
class VectorSearch(Protocol):
    """The nearest vectors to questions, and stored vectors by id: what `retrieval.candidates` asks of an
    index. The names are FAISS's own, so a `faiss.Index` is one as it is."""

    @property
    def ntotal(self) -> int:
        """How many vectors it holds (ids 0..ntotal-1)."""

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of each query row's k best by inner product, best first; -1 pads missing ids."""

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids, one row each, in the order asked."""


@runtime_checkable
class SentenceMetadata(Protocol):
    """The sentences' texts, terms, articles and lexical search: what the ranking reads besides vectors.
    `index.metadata.MetadataReader` is the files store's."""

    def sentences(self, ids: Sequence[int]) -> list[StoredSentence]:
        """The sentences with these ids, with their articles, in the order asked."""

    def texts(self, ids: Sequence[int]) -> list[str]:
        """The texts of these sentences, in the order asked."""

    def terms(self, ids: Sequence[int]) -> list[frozenset[str]]:
        """The lexical terms of these sentences, in the order asked."""

    def paragraph_terms(self, rows: Sequence[int]) -> list[frozenset[str]]:
        """The union of the terms of each of these paragraphs' sentences, in the order asked."""

    def lexical_candidates(self, question_terms: Iterable[str], limit: int) -> np.ndarray:
        """The ids of the (at most `limit`) sentences best matching any of these terms by BM25, best first."""

    def articles_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The article number of each sentence id."""

    def article_terms(self, article: int) -> ArticleTerms:
        """How many of the article's sentences hold each term (`retrieval.stories.story_lift`)."""

    def articles(self) -> list[ArticleInfo]:
        """Every indexed article, newest first."""

    def close(self) -> None:
        """Release what the reads hold; reads must have finished."""


@dataclass(frozen=True)
class IndexVersion:
    """One published version, ready to search. Thread-safe to read; `close` when done.

    `folder` names the version: the files store's version folder; another store's name for it."""

    folder: Path
    manifest: Manifest
    sentences: VectorSearch  # "Title: sentence" vectors, in sentence-id order
    paragraphs: VectorSearch  # the paragraph vectors' own index, to find the best paragraphs
    paragraph_vectors: np.ndarray  # rows of `paragraphs` (memory-mapped by the files store), to score paragraphs
    sentence_paragraphs: np.ndarray  # the paragraph row of each sentence (never decreasing)
    document_frequencies: Mapping[str, int]  # term -> how many sentences hold it
    metadata: SentenceMetadata  # texts, terms and articles by sentence id

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
