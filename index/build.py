"""Build an index version from the corpus folder: streamed, incremental (cached embeddings), atomic
(staged, then swapped).

Two passes over the articles keep no more than one embedding batch of text in memory: the first
segments each article and keeps a few numbers about it (cache key, counts, fingerprint), enough to
tell whether anything changed and where each article's rows go; the second segments again, writes
the metadata, and embeds what the cache lacks batch by batch into files in the staging folder, from
which the FAISS index is trained and filled in chunks (index/vectors.py). A build killed at any
point leaves the previous version serving, and the next one reuses every finished embedding.

Republished copies of a story are grouped by the first pass (index/syndication.py: a sketch of each
article, a few hundred bytes): the second pass indexes one article of each story, its representative, and
stores the others as its copies, so an answer gives the story's sentence once and names every source.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from newsbot.corpus import Article, Problem, Sentence, article_sentences, read_corpus
from newsbot.corpus.segment import SEGMENTER_VERSION
from newsbot.corpus.terms import sentence_terms
from newsbot.index.cache import EmbeddingCache, save_embedding_keys
from newsbot.index.embedder import Embedder
from newsbot.index.errors import IndexProblem
from newsbot.index.lexicon import save_document_frequencies
from newsbot.index.manifest import (
    METADATA_FILE,
    PARAGRAPH_INDEX_FILE,
    PARAGRAPH_VECTORS_FILE,
    VECTORS_FILE,
    Manifest,
    read_manifest,
)
from newsbot.index.metadata import ArticleCopy, MetadataWriter
from newsbot.index.rowfile import RowFile
from newsbot.index.syndication import SKETCH_VERSION, Sketch, copies_of, group_copies, sketch
from newsbot.index.store import (
    CACHE_DIR,
    current_version,
    new_staging_dir,
    publish,
    remove_stale,
    writer_lock,
)
from newsbot.index.vectors import (
    EXACT_UP_TO,
    METRIC,
    build_vectors,
    describe,
    plan_index,
    save_sentence_paragraphs,
    save_vectors,
)

ProgressCallback = Callable[[str, int, int | None], None]
"""Called with (stage, done, total) as a build advances, so a long build always shows what it is doing:
READING counts the articles read by the first pass (total None until it ends), EMBEDDING the texts
(sentences and paragraphs) the cache lacks, INDEXING the vectors added to FAISS."""

READING, EMBEDDING, INDEXING = "reading", "embedding", "indexing"

# What is embedded and how; part of the corpus fingerprint and of the embedding cache's identity, so a
# change rebuilds the index and re-embeds. v2: each text encoded alone (index/encoding.py encode_each).
EMBEDDING_RECIPE = "title-sentence+paragraph-v2"
SENTENCES_PER_BATCH = 1024
SENTENCE_VECTORS_SPOOL = "sentence_vectors.spool.npy"  # staging only: FAISS is built from it, then it is deleted

Document = tuple[Article, list[Sentence]]
"""An article with the sentences to index from it."""

LeaveOut = Callable[[Article], str | None]
"""Why an article of the corpus folder is not indexed, or None to index it."""

DocumentSource = Callable[[], Iterator[Document | Problem]]
"""Yields the articles to index, in index order, and a Problem for each one skipped; called once per pass."""


@dataclass(frozen=True)
class BuildReport:
    """What a build did; `embedded` counts the sentences whose embeddings were not reused, `copies` the articles
    grouped as republished copies of another's story (cited with it, not indexed)."""

    version: Path
    articles: int
    sentences: int
    embedded: int
    problems: tuple[Problem, ...]
    seconds: float
    up_to_date: bool
    copies: int = 0

    @property
    def stories(self) -> int:
        """The articles indexed: one per story."""
        return self.articles - self.copies


@dataclass(frozen=True, slots=True)
class _Planned:
    """What the first pass keeps of an article: enough to fingerprint the corpus and place its rows."""

    id: str
    fingerprint: str  # of the article and its sentence boundaries
    key: str  # its embedding cache key
    sentences: int
    paragraphs: int
    cached: bool
    cited: ArticleCopy  # how it is cited when it is a copy of another's story
    copy_of: str | None = None  # the id of its story's representative when it is a copy
    copy_rank: int = 0  # then its place among the copies (`index.syndication.representative_order`)


def build_index(corpus_dir: Path, index_dir: Path, embedder: Embedder, *,
                progress: ProgressCallback | None = None, force: bool = False,
                exact_up_to: int = EXACT_UP_TO, leave_out: LeaveOut | None = None) -> BuildReport:
    """Index every readable article of `corpus_dir` into `index_dir` and make it current.

    Raises IndexBusy when another build runs, and IndexProblem when no article can be read;
    in both cases the current version is left as it was. `exact_up_to`: see `index.vectors.plan_index`.
    `leave_out` gives the reason an article is not indexed (the age limit, corpus/retention.py), reported
    among the problems.
    """
    started = time.perf_counter()
    with writer_lock(Path(index_dir)):
        return _build_locked(lambda: _read_documents(Path(corpus_dir), leave_out), Path(index_dir), embedder, progress,
                             force, started, exact_up_to, f"no article could be read from {corpus_dir}")


def build_from_documents(documents: Sequence[Document], index_dir: Path, embedder: Embedder, *,
                         progress: ProgressCallback | None = None, exact_up_to: int = EXACT_UP_TO) -> BuildReport:
    """Index articles whose sentences are already known (e.g. an evaluation set with its own boundaries)."""
    if not documents:
        raise IndexProblem("there are no articles to index")
    with writer_lock(Path(index_dir)):
        return _build_locked(lambda: iter(documents), Path(index_dir), embedder, progress, False,
                             time.perf_counter(), exact_up_to, "there are no articles to index")


def _build_locked(source: DocumentSource, index_dir: Path, embedder: Embedder, progress: ProgressCallback | None,
                  force: bool, started: float, exact_up_to: int, nothing_read: str) -> BuildReport:
    remove_stale(index_dir)
    cache = EmbeddingCache(index_dir / CACHE_DIR, f"{embedder.name}|{EMBEDDING_RECIPE}")
    surveyed, sketches, problems = _survey(source, cache, progress)
    if not surveyed:
        detail = f" ({problems[0]})" if problems else ""
        raise IndexProblem(f"{nothing_read}{detail}; nothing was changed")
    planned = _grouped(surveyed, sketches)
    fingerprint = corpus_fingerprint(planned)
    indexed = [p for p in planned if p.copy_of is None]
    sentences = sum(p.sentences for p in indexed)
    factory = plan_index(sentences, exact_up_to=exact_up_to).factory
    current, previous = _current(index_dir)
    if (not force and current is not None and previous is not None and previous.corpus_fingerprint == fingerprint
            and previous.model == embedder.name and previous.faiss_factory == factory):
        return BuildReport(current, previous.articles, previous.sentences, 0,
                           tuple(problems), time.perf_counter() - started, up_to_date=True, copies=previous.copies)
    staging = new_staging_dir(index_dir)
    try:
        embedded, spool, paragraph_vectors = _write_version(staging, source, planned, embedder, cache, progress)
        _finish_version(staging, spool, paragraph_vectors, planned, embedder.name, fingerprint, exact_up_to, started,
                        progress)
        version = publish(index_dir, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    cache.keep_only(p.key for p in indexed)
    return BuildReport(version, len(planned), sentences, embedded, tuple(problems),
                       time.perf_counter() - started, up_to_date=False, copies=len(planned) - len(indexed))


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


def corpus_fingerprint(planned: Iterable[_Planned]) -> str:
    """Equal fingerprints mean an identical index would be built (the grouping of copies depends on the
    articles and SKETCH_VERSION alone)."""
    digest = hashlib.sha256(f"{SEGMENTER_VERSION}|{EMBEDDING_RECIPE}|{SKETCH_VERSION}".encode())
    for article in sorted(planned, key=lambda article: article.id):
        digest.update(article.fingerprint.encode())
    return digest.hexdigest()


def _article_fingerprint(article: Article, sentences: Sequence[Sentence]) -> str:
    digest = hashlib.sha256(article.fingerprint.encode())
    for sentence in sentences:
        digest.update(f"|{sentence.start}:{sentence.end}".encode())
    return digest.hexdigest()


def _read_documents(corpus_dir: Path, leave_out: LeaveOut | None) -> Iterator[Document | Problem]:
    seen: set[str] = set()
    for item in read_corpus(corpus_dir):
        if isinstance(item, Problem):
            yield item
        elif item.id in seen:
            yield Problem(item.id, "skipped: another article has the same id")
        elif leave_out is not None and (reason := leave_out(item)):
            yield Problem(item.id, reason)
        else:
            seen.add(item.id)
            sentences = article_sentences(item)
            if sentences:
                yield item, sentences
            else:
                yield Problem(item.id, "skipped: no sentences in the body")


def _survey(source: DocumentSource, cache: EmbeddingCache,
            progress: ProgressCallback | None) -> tuple[list[_Planned], list[Sketch], list[Problem]]:
    """The first pass: what each article will occupy, whether its embeddings are cached, and its sketch."""
    planned: list[_Planned] = []
    sketches: list[Sketch] = []
    problems: list[Problem] = []
    for item in source():
        if isinstance(item, Problem):
            problems.append(item)
            continue
        article, sentences = item
        key = cache.key(embedding_texts(article, sentences))
        planned.append(_Planned(article.id, _article_fingerprint(article, sentences), key, len(sentences),
                                len(paragraph_numbers(sentences)), cache.has(key), ArticleCopy.of(article)))
        sketches.append(sketch(article.id, article.body, article.published))
        if progress:
            progress(READING, len(planned), None)
    if progress:
        progress(READING, len(planned), len(planned))
    return planned, sketches, problems


def _grouped(planned: list[_Planned], sketches: list[Sketch]) -> list[_Planned]:
    """The articles with each copy of another's story marked (`index.syndication.group_copies`)."""
    representative = copies_of(group_copies(sketches))
    rank = {copy: number for number, copy in enumerate(representative)}
    return [replace(plan, copy_of=representative.get(plan.id), copy_rank=rank.get(plan.id, 0)) for plan in planned]


def _current(index_dir: Path) -> tuple[Path, Manifest] | tuple[None, None]:
    """The current version and its manifest, checked once; none when it is missing or damaged (then rebuilt)."""
    try:
        version = current_version(index_dir)
        return version, read_manifest(version)
    except IndexProblem:
        return None, None


class _Staged:
    """The second pass's output files; the vector files are created when the first vectors give their width."""

    def __init__(self, staging: Path, sentences: int, paragraphs: int) -> None:
        self._staging = staging
        self._counts = (sentences, paragraphs)
        self.sentence_paragraphs = np.empty(sentences, dtype=np.int64)
        self.sentence_vectors: RowFile | None = None
        self.paragraph_vectors: RowFile | None = None

    def put(self, sentence_row: int, paragraph_row: int, sentences: int, vectors: np.ndarray) -> None:
        """Store an article's vectors: its sentences' rows, then its paragraphs' rows."""
        if self.sentence_vectors is None or self.paragraph_vectors is None:
            dimension = vectors.shape[1]
            self.sentence_vectors = RowFile(self._staging / SENTENCE_VECTORS_SPOOL, self._counts[0], dimension)
            self.paragraph_vectors = RowFile(self._staging / PARAGRAPH_VECTORS_FILE, self._counts[1], dimension)
        if vectors.shape[1] != self.sentence_vectors.dimension:
            raise IndexProblem(f"the model gives vectors of {vectors.shape[1]} numbers but its cached ones have "
                               f"{self.sentence_vectors.dimension}; delete the index's {CACHE_DIR}/ folder and run "
                               "`newsbot index` again")
        self.sentence_vectors.write(sentence_row, vectors[:sentences])
        self.paragraph_vectors.write(paragraph_row, vectors[sentences:])

    @property
    def dimension(self) -> int | None:
        return None if self.sentence_vectors is None else self.sentence_vectors.dimension


@dataclass
class _Pending:
    """An article waiting for its embeddings."""

    key: str
    texts: list[str]
    sentences: int
    sentence_row: int
    paragraph_row: int


def _write_version(staging: Path, source: DocumentSource, planned: list[_Planned], embedder: Embedder,
                   cache: EmbeddingCache, progress: ProgressCallback | None) -> tuple[int, RowFile, RowFile]:
    """The second pass: metadata, term frequencies and vectors into `staging`.

    Returns the number of sentences embedded, the spool of sentence vectors FAISS is built from and
    the (kept) paragraph vectors, which get a FAISS index of their own.
    """
    indexed = [p for p in planned if p.copy_of is None]
    copies: dict[str, list[ArticleCopy]] = {}
    for plan in sorted(planned, key=lambda p: p.copy_rank):
        if plan.copy_of is not None:
            copies.setdefault(plan.copy_of, []).append(plan.cited)
    staged = _Staged(staging, sum(p.sentences for p in indexed), sum(p.paragraphs for p in indexed))
    metadata = MetadataWriter(staging / METADATA_FILE)
    frequencies: Counter[str] = Counter()
    embedding = _Embedding(embedder, cache, staged, progress,
                           total=sum(p.sentences + p.paragraphs for p in indexed if not p.cached))
    sentence_row = paragraph_row = 0
    keys: list[str] = []  # each indexed article's cache entry, by article number
    documents = (item for item in source() if not isinstance(item, Problem))
    for plan, document in zip(planned, documents, strict=False):
        article, sentences = document
        texts = embedding_texts(article, sentences)
        numbers = paragraph_numbers(sentences)
        key = cache.key(texts)
        if (article.id, key) != (plan.id, plan.key) or ArticleCopy.of(article) != plan.cited:
            raise IndexProblem(f"{article.id} changed while it was being indexed; run `newsbot index` again")
        if plan.copy_of is not None:
            continue
        found = [sentence_terms(article.title, sentence.text) for sentence in sentences]
        metadata.add(article, sentences, found, copies.get(article.id, ()))
        keys.append(key)
        for terms in found:
            frequencies.update(terms)
        position = {number: paragraph_row + i for i, number in enumerate(numbers)}
        staged.sentence_paragraphs[sentence_row:sentence_row + len(sentences)] = [position[s.paragraph] for s in sentences]
        embedding.add(_Pending(key, texts, len(sentences), sentence_row, paragraph_row), cached=plan.cached)
        sentence_row += len(sentences)
        paragraph_row += len(numbers)
    if sentence_row != len(staged.sentence_paragraphs) or next(documents, None) is not None:
        raise IndexProblem("the corpus changed while it was being indexed; run `newsbot index` again")
    embedding.flush()
    metadata.close()
    save_document_frequencies(staging, sentence_row, frequencies)
    save_sentence_paragraphs(staging, staged.sentence_paragraphs)
    save_embedding_keys(staging, keys)
    assert staged.sentence_vectors is not None and staged.paragraph_vectors is not None  # every article has a sentence
    return embedding.embedded, staged.sentence_vectors, staged.paragraph_vectors


class _Embedding:
    """Takes articles in order; stores cached vectors at once and embeds the others in batches across
    articles, caching each article as its batch completes (what a resumed build reuses)."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache, staged: _Staged,
                 progress: ProgressCallback | None, *, total: int) -> None:
        self._embedder, self._cache, self._staged, self._progress = embedder, cache, staged, progress
        self._pending: list[_Pending] = []
        self._waiting = 0
        self._total = total
        self._done = 0
        self.embedded = 0
        if progress:
            progress(EMBEDDING, 0, total)

    def add(self, article: _Pending, *, cached: bool) -> None:
        vectors = (self._cache.get(article.key, rows=len(article.texts), dimension=self._staged.dimension)
                   if cached else None)
        if vectors is not None:
            self._staged.put(article.sentence_row, article.paragraph_row, article.sentences, vectors)
            return
        self._pending.append(article)
        self._waiting += len(article.texts)
        if self._waiting >= SENTENCES_PER_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        encoded = self._embedder.encode([text for article in self._pending for text in article.texts])
        offset = 0
        for article in self._pending:
            vectors = encoded[offset:offset + len(article.texts)]
            self._staged.put(article.sentence_row, article.paragraph_row, article.sentences, vectors)
            self._cache.put(article.key, vectors)
            offset += len(article.texts)
            self.embedded += article.sentences
        self._done += offset
        self._pending, self._waiting = [], 0
        if self._progress:
            self._progress(EMBEDDING, self._done, max(self._total, self._done))


def _finish_version(staging: Path, spool: RowFile, paragraph_vectors: RowFile, planned: list[_Planned], model: str,
                    fingerprint: str, exact_up_to: int, started: float, progress: ProgressCallback | None) -> None:
    """Train and fill the FAISS indexes of the spooled sentence vectors and of the paragraph vectors
    (the same choice of index by size: the best paragraphs of a million-sentence archive are found
    without scoring every paragraph), then write the manifest."""
    plan = plan_index(len(spool), exact_up_to=exact_up_to)
    paragraph_plan = plan_index(len(paragraph_vectors), exact_up_to=exact_up_to)
    total = len(spool) + len(paragraph_vectors)

    def added(offset: int) -> Callable[[int], None] | None:
        return (lambda done: progress(INDEXING, offset + done, total)) if progress else None

    try:
        index = build_vectors(plan, spool, added(0))
        paragraph_index = build_vectors(paragraph_plan, paragraph_vectors, added(len(spool)))
    finally:
        spool.close(sync=False)
        paragraph_vectors.close()
    spool.path.unlink()
    save_vectors(index, staging / VECTORS_FILE)
    save_vectors(paragraph_index, staging / PARAGRAPH_INDEX_FILE)
    Manifest(
        model=model, dimension=int(index.d), metric=METRIC, faiss_index=describe(index),
        faiss_factory=plan.factory, faiss_training_sample=plan.training_sample, faiss_search=dict(plan.search),
        paragraph_faiss_factory=paragraph_plan.factory, paragraph_faiss_search=dict(paragraph_plan.search),
        articles=len(planned), copies=sum(p.copy_of is not None for p in planned), sentences=int(index.ntotal),
        paragraphs=sum(p.paragraphs for p in planned if p.copy_of is None),
        corpus_fingerprint=fingerprint, segmenter=SEGMENTER_VERSION, embedding=EMBEDDING_RECIPE,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
    ).write(staging)
