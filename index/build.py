"""Build an index version from the corpus folder: incremental (cached embeddings), atomic (staged, then swapped)."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from corpus import Article, Problem, Sentence, article_sentences, read_corpus
from corpus.segment import SEGMENTER_VERSION
from corpus.terms import sentence_terms
from index.cache import EmbeddingCache
from index.embedder import Embedder
from index.errors import IndexProblem
from index.lexicon import save_document_frequencies
from index.manifest import METADATA_FILE, VECTORS_FILE, Manifest, read_manifest
from index.metadata import MetadataWriter
from index.store import (
    CACHE_DIR,
    current_version,
    new_staging_dir,
    publish,
    remove_stale,
    writer_lock,
)
from index.vectors import (
    METRIC,
    describe,
    new_vector_index,
    save_paragraphs,
    save_vectors,
)

ProgressCallback = Callable[[int, int], None]
"""Called with (texts embedded so far, texts to embed in this build); a text is a sentence or a paragraph."""

EMBEDDING_RECIPE = "title-sentence+paragraph-v1"  # what is embedded; part of the corpus fingerprint
SENTENCES_PER_BATCH = 1024

Document = tuple[Article, list[Sentence]]
"""An article with the sentences to index from it."""


@dataclass(frozen=True)
class BuildReport:
    """What a build did; `embedded` counts the sentences whose embeddings were not reused."""

    version: Path
    articles: int
    sentences: int
    embedded: int
    problems: tuple[Problem, ...]
    seconds: float
    up_to_date: bool


def build_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, *,
                progress: ProgressCallback | None = None, force: bool = False) -> BuildReport:
    """Index every readable article of `corpus_dir` into `index_dir` and make it current.

    Raises IndexBusy when another build runs, and IndexProblem when no article can be read;
    in both cases the current version is left as it was.
    """
    started = time.perf_counter()
    with writer_lock(Path(index_dir)):
        documents, problems = _read_documents(Path(corpus_dir))
        if not documents:
            detail = f" ({problems[0]})" if problems else ""
            raise IndexProblem(f"no article could be read from {corpus_dir}{detail}; nothing was changed")
        return _build_locked(documents, problems, Path(index_dir), embedder, progress, force, started)


def build_from_documents(documents: Sequence[Document], index_dir: Path, embedder: Embedder, *,
                         progress: ProgressCallback | None = None) -> BuildReport:
    """Index articles whose sentences are already known (e.g. an evaluation set with its own boundaries)."""
    if not documents:
        raise IndexProblem("there are no articles to index")
    with writer_lock(Path(index_dir)):
        return _build_locked(list(documents), [], Path(index_dir), embedder, progress, False, time.perf_counter())


def _build_locked(documents: list[Document], problems: list[Problem], index_dir: Path, embedder: Embedder,
                  progress: ProgressCallback | None, force: bool, started: float) -> BuildReport:
    remove_stale(index_dir)
    fingerprint = corpus_fingerprint(documents)
    previous = _current_manifest(index_dir)
    if (not force and previous is not None and previous.corpus_fingerprint == fingerprint
            and previous.model == embedder.name):
        return BuildReport(current_version(index_dir), previous.articles, previous.sentences, 0,
                           tuple(problems), time.perf_counter() - started, up_to_date=True)
    cache = EmbeddingCache(index_dir / CACHE_DIR, embedder.name)
    texts = [embedding_texts(article, sentences) for article, sentences in documents]
    keys = [cache.key(t) for t in texts]
    vectors = [cache.get(key, rows=len(t)) for key, t in zip(keys, texts)]
    embedded = sum(len(sentences) for (_, sentences), v in zip(documents, vectors) if v is None)
    _embed_missing(embedder, texts, keys, vectors, cache, progress)
    version = _write_version(index_dir, documents, vectors, embedder.name, fingerprint, started)
    cache.keep_only(keys)
    return BuildReport(version, len(documents), sum(len(s) for _, s in documents), embedded,
                       tuple(problems), time.perf_counter() - started, up_to_date=False)


def embedding_texts(article: Article, sentences: Sequence[Sentence]) -> list[str]:
    """What is embedded for an article: each sentence behind its article's title, then each paragraph
    that has sentences (the context the ranking adds to a sentence's own score).

    Both were measured on SQuAD dev articles 0-23 (docs/QUALITY.md): the title disambiguates
    sentences that only make sense in their article, and the paragraph score rewards sentences
    whose surroundings are about the question.
    """
    titled = [f"{article.title}: {sentence.text}" for sentence in sentences]
    return titled + [article.paragraphs[number] for number in paragraph_numbers(sentences)]


def paragraph_numbers(sentences: Sequence[Sentence]) -> list[int]:
    """The paragraphs that have sentences, in order."""
    return list(dict.fromkeys(sentence.paragraph for sentence in sentences))


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    """Equal fingerprints mean an identical index would be built."""
    digest = hashlib.sha256(f"{SEGMENTER_VERSION}|{EMBEDDING_RECIPE}".encode())
    for article, sentences in sorted(documents, key=lambda document: document[0].id):
        digest.update(article.fingerprint.encode())
        for sentence in sentences:
            digest.update(f"|{sentence.start}:{sentence.end}".encode())
    return digest.hexdigest()


def _read_documents(corpus_dir: Path) -> tuple[list[Document], list[Problem]]:
    documents: list[Document] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for item in read_corpus(corpus_dir):
        if isinstance(item, Problem):
            problems.append(item)
        elif item.id in seen:
            problems.append(Problem(item.id, "skipped: another article has the same id"))
        else:
            seen.add(item.id)
            sentences = article_sentences(item)
            if sentences:
                documents.append((item, sentences))
            else:
                problems.append(Problem(item.id, "skipped: no sentences in the body"))
    return documents, problems


def _current_manifest(index_dir: Path) -> Manifest | None:
    try:
        return read_manifest(current_version(index_dir))
    except IndexProblem:
        return None


def _embed_missing(embedder: Embedder, texts: list[list[str]], keys: list[str],
                   vectors: list[np.ndarray | None], cache: EmbeddingCache,
                   progress: ProgressCallback | None) -> None:
    """Embed the articles the cache lacks, in batches across articles, caching each as it completes."""
    todo = [i for i, v in enumerate(vectors) if v is None]
    total = sum(len(texts[i]) for i in todo)
    done = 0
    if progress:
        progress(0, total)
    for batch in _batches(todo, [len(texts[i]) for i in todo]):
        encoded = embedder.encode([text for i in batch for text in texts[i]])
        offset = 0
        for i in batch:
            vectors[i] = encoded[offset:offset + len(texts[i])]
            cache.put(keys[i], vectors[i])
            offset += len(texts[i])
        done += offset
        if progress:
            progress(done, total)


def _batches(items: list[int], sizes: list[int]) -> Iterator[list[int]]:
    batch: list[int] = []
    filled = 0
    for item, size in zip(items, sizes):
        batch.append(item)
        filled += size
        if filled >= SENTENCES_PER_BATCH:
            yield batch
            batch, filled = [], 0
    if batch:
        yield batch


def _write_version(index_dir: Path, documents: list[Document],
                   vectors: list[np.ndarray | None], model: str, fingerprint: str, started: float) -> Path:
    dimension = int(vectors[0].shape[1])  # type: ignore[union-attr]
    index = new_vector_index(dimension)
    paragraph_vectors: list[np.ndarray] = []
    sentence_paragraphs: list[np.ndarray] = []
    paragraph_count = 0
    frequencies: Counter[str] = Counter()
    staging = new_staging_dir(index_dir)
    try:
        metadata = MetadataWriter(staging / METADATA_FILE)
        for (article, sentences), article_vectors in zip(documents, vectors):
            numbers = paragraph_numbers(sentences)
            if article_vectors is None or article_vectors.shape != (len(sentences) + len(numbers), dimension):
                raise IndexProblem(f"embeddings of {article.id} have the wrong shape; run `newsbot index --force`")
            position = {number: paragraph_count + i for i, number in enumerate(numbers)}
            paragraph_count += len(numbers)
            index.add(article_vectors[:len(sentences)])
            paragraph_vectors.append(article_vectors[len(sentences):])
            sentence_paragraphs.append(np.array([position[s.paragraph] for s in sentences], dtype=np.int64))
            found = [sentence_terms(article.title, sentence.text) for sentence in sentences]
            metadata.add(article, sentences, found)
            for terms in found:
                frequencies.update(terms)
        metadata.close()
        save_document_frequencies(staging, int(index.ntotal), frequencies)
        save_vectors(index, staging / VECTORS_FILE)
        paragraphs = save_paragraphs(staging, np.concatenate(paragraph_vectors), np.concatenate(sentence_paragraphs))
        Manifest(
            model=model, dimension=dimension, metric=METRIC, faiss_index=describe(index),
            articles=len(documents), sentences=int(index.ntotal), paragraphs=paragraphs,
            corpus_fingerprint=fingerprint, segmenter=SEGMENTER_VERSION, embedding=EMBEDDING_RECIPE,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - started, 3),
        ).write(staging)
        return publish(index_dir, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
