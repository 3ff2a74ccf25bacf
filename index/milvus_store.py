"""The Milvus store: an index version in Milvus collections, read through the same `IndexVersion` as the files.

A version is five collections sharing a name prefix: `<prefix>_sentences` (vector, text, offsets, article
number, paragraph row, terms), `<prefix>_paragraphs` (vector, terms), `<prefix>_articles` (citation and
copies as JSON, first sentence, sentence count), `<prefix>_postings` (the sentences holding each rare term, for
the lexical search) and `<prefix>_records` (per generation: the manifest, the document frequencies, the
terms' total, the citations that gained copies; and the head row naming the complete generation). The alias
`CURRENT_ALIAS` names the current version's records collection and moves only once a version is complete, so a
reader never opens a half-written one; the collections of older versions are then dropped, the previous one
kept. A version that only adds articles to the served one is inserted into the live collections instead, as
their next generation (`insert_generation`): its rows get ids after the served ones, which readers of a
generation ignore, and its head row, written last, makes it current. A replica needs nothing on disk:
everything the ranking reads is here. Imported only when `NEWSBOT_STORE` names Milvus (pymilvus
and its dependencies cost about 0.6 s to import).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # pandas, requests and urllib3 add 8 warning filters as pymilvus imports them:
    # importing a newsbot module changes nothing global (tests/test_import_side_effects.py)
    from pymilvus import DataType, MilvusClient
    from pymilvus.exceptions import MilvusException

from newsbot.index.bm25 import bm25_best
from newsbot.index.cache import EmbeddingCache, load_embedding_keys
from newsbot.index.errors import IndexCorrupt, IndexNotFound, IndexProblem
from newsbot.index.manifest import METADATA_FILE, Manifest, manifest_from_dict
from newsbot.index.metadata import (ARTICLE_TERMS_KEPT, ArticleCopy, ArticleInfo, ArticleTerms, StoredSentence,
                                    article_numbers, cited, iso_date)
from newsbot.index.store import CACHE_DIR
from newsbot.index.stores import MilvusLiteStore, MilvusServerStore
from newsbot.index.version import IndexVersion, open_version

CURRENT_ALIAS = "newsbot_current"
PLACEHOLDER_DIMENSION = 2  # Milvus wants a vector in every collection; the articles and records have none of their own
MAX_TERMS = 4096  # Milvus's largest array: no sentence of a real article holds this many distinct terms
MAX_TEXT = 65535  # Milvus's longest VARCHAR, in bytes
# Terms held by at most this many sentences get a posting list: those a question's lexical search asks for
# (retrieval.candidates.LEXICAL_TERM_SENTENCES); a commoner term is found by scanning the sentences' terms
POSTED_TERM_SENTENCES = 1000
RECORD_CHUNK = 60000  # characters of ASCII JSON per record row
PAGE = 10000  # rows per read or write: under Milvus's 16,384 per query
HEAD = "head"  # the records row naming the complete generation; every other row is a generation's ("g000003/...")
LAYOUT = 2  # how the records and article rows are laid out: a version written otherwise is copied anew, not extended
# Reads that must see every write before them (a server's default lags). Writes are not flushed: Milvus logs
# them durably as they come (a flush seals segments, about 2 s each on a server), and a strong read sees them in
# the order written, so a reader that sees a head row sees every row written before it
STRONG = {"consistency_level": "Strong"}
_NAME = re.compile(r"[^A-Za-z0-9_]")
_PARTS = ("sentences", "paragraphs", "articles", "postings", "records")
_COLLECTION = re.compile(rf"(newsbot_\w+)_({'|'.join(_PARTS)})")


def connect(store: MilvusLiteStore | MilvusServerStore) -> MilvusClient:
    """A client of the store; a Milvus that cannot be reached is an IndexProblem naming it (never the token)."""
    try:
        if isinstance(store, MilvusLiteStore):
            store.path.parent.mkdir(parents=True, exist_ok=True)
            return MilvusClient(str(store.path))
        return MilvusClient(uri=store.uri, token=store.token or "")
    except (MilvusException, OSError) as error:
        where = store.path if isinstance(store, MilvusLiteStore) else store.uri
        raise IndexProblem(f"Milvus at {where} cannot be opened ({type(error).__name__}); check NEWSBOT_STORE "
                           "and that the server runs") from None


def collection_prefix(version_name: str) -> str:
    """The collections' name prefix of a version (Milvus names hold letters, digits and underscores)."""
    return "newsbot_" + _NAME.sub("_", version_name)


@dataclass(frozen=True)
class Head:
    """The records row readers start from: which generation of the collections `prefix`_* is complete."""

    prefix: str
    generation: int
    source: str  # the files version it mirrors: publishing that version again changes nothing
    previous: str | None  # the prefix the alias named before this one, kept for readers still on it

    @property
    def name(self) -> str:
        """The version's name (`current_revision`, the `folder` of the opened `IndexVersion`)."""
        return f"{self.prefix}@{self.generation}"


@dataclass(frozen=True)
class Served:
    """What Milvus serves now, as far as deciding how to publish the next version needs."""

    head: Head
    manifest: Manifest
    total_terms: int
    articles: list[tuple[str, str, list]]  # by article number: id, fingerprint, citation record as first written


@dataclass(frozen=True)
class Additions:
    """How the files version differs from the served one when only articles were added: the files' article
    numbers to append (in order) and, by served article number, each citation record that gained or lost copies."""

    articles: tuple[int, ...]
    citations: dict[int, list]


@dataclass(frozen=True)
class _Counts:
    sentences: int
    paragraphs: int
    articles: int


def write_version(client: MilvusClient, version: IndexVersion, prefix: str) -> None:
    """Copy an opened (files) version into new collections named `prefix`_* as their generation 0, point
    `CURRENT_ALIAS` at them, then drop the collections of older versions (the previous one is kept)."""
    manifest = version.manifest
    previous = _alias_prefix(client)
    for name in _names(prefix):
        if client.has_collection(name):
            client.drop_collection(name)
    for name, schema, factory in (
            (f"{prefix}_sentences", _sentence_schema(client, manifest.dimension), manifest.faiss_factory),
            (f"{prefix}_paragraphs", _paragraph_schema(client, manifest.dimension), manifest.paragraph_faiss_factory),
            (f"{prefix}_articles", _article_schema(client), "Flat"),
            (f"{prefix}_postings", _postings_schema(client), "Flat"),
            (f"{prefix}_records", _records_schema(client), "Flat")):
        client.create_collection(name, schema=schema)
        # not waited for: the wait polls a timestamp call Milvus Lite lacks (0.5 s and a logged error each); a
        # collection loads once its index is built
        client.create_index(name, _vector_index(client, factory), sync=False)
        client.load_collection(name)  # a server reads, and deletes by filter, only in loaded collections
    layout = _Layout(version)
    total_terms = _append(client, prefix, version, layout, range(len(layout.ids)), _Counts(0, 0, 0))
    head = Head(prefix, 0, version.folder.name, previous if previous != prefix else None)
    _write_generation(client, version, head, total_terms, {})
    _point_alias(client, f"{prefix}_records")
    drop_stale(client)


def publish_version(store: MilvusLiteStore | MilvusServerStore, index_dir: Path) -> None:
    """Make the current version of an index folder the store's, unless Milvus mirrors it already: inserted into
    the live collections as a new generation when it only adds articles, else copied into new collections."""
    client = connect(store)
    try:
        version = open_version(index_dir)
        try:
            prefix = _alias_prefix(client)
            head = _head(client, prefix) if prefix else None
            if head is None or head.source != version.folder.name:
                _publish(client, version, head)
        finally:
            version.close()
    finally:
        client.close()


def _publish(client: MilvusClient, version: IndexVersion, head: Head | None) -> None:
    served = _served(client, head) if head is not None else None
    layout = _Layout(version)
    additions = (plan_additions(served.manifest, served.articles, version.manifest, layout.articles())
                 if served is not None else None)
    if served is not None and additions is not None and (
            served.manifest.sentences + int(layout.counts[list(additions.articles)].sum()) == version.manifest.sentences):
        insert_generation(client, version, layout, served, additions)
    else:
        write_version(client, version, collection_prefix(version.folder.name))


COMPATIBLE = ("model", "dimension", "metric", "faiss_factory", "paragraph_faiss_factory", "segmenter", "embedding",
              "format_version")
"""Manifest fields that must not change for a version to be inserted into the collections of another."""


def plan_additions(served: Manifest, served_articles: Sequence[tuple[str, str, list]], files: Manifest,
                   files_articles: Sequence[tuple[str, str, list]]) -> Additions | None:
    """The articles to insert when the files version differs from the served one only by added articles and
    by copies attached to (or gone from) existing articles' citations, with the same index types; else None:
    an article changed or removed, or the index type chosen by size changed, needs new collections.

    Each article is (id, fingerprint, citation record), by article number."""
    if any(getattr(served, name) != getattr(files, name) for name in COMPATIBLE):
        return None
    by_id = {article[0]: article for article in files_articles}
    citations = {}
    for number, (article_id, fingerprint, record) in enumerate(served_articles):
        found = by_id.get(article_id)
        if found is None or found[1] != fingerprint or found[2][0] != record[0]:
            return None
        if found[2] != record:
            citations[number] = found[2]
    known = {article[0] for article in served_articles}
    return Additions(tuple(number for number, article in enumerate(files_articles) if article[0] not in known),
                     citations)


def insert_generation(client: MilvusClient, version: IndexVersion, layout: _Layout, served: Served,
                      additions: Additions) -> None:
    """Append the added articles to the live collections and make them a new generation.

    Rows go in first, with ids after the served counts (which readers of the served generation ignore), then
    the new generation's records, then its head (one row): a reader sees the old generation or the new one
    whole. Rows a killed insert left beyond the served counts are deleted first."""
    head, at = served.head, _served_counts(served.manifest)
    for table, key, count in (("sentences", "id", at.sentences), ("paragraphs", "row", at.paragraphs),
                              ("articles", "number", at.articles)):
        client.delete(f"{head.prefix}_{table}", filter=f"{key} >= {count}")
    total_terms = served.total_terms + _append(client, head.prefix, version, layout, additions.articles, at)
    _write_generation(client, version, Head(head.prefix, head.generation + 1, version.folder.name, head.previous),
                      total_terms, additions.citations)
    drop_stale(client)


class _Layout:
    """Where each article of a files version is: its id, fingerprint, first sentence and sentence count, its
    first paragraph row and paragraph count, by article number."""

    def __init__(self, version: IndexVersion) -> None:
        with sqlite3.connect(f"file:{version.folder / METADATA_FILE}?mode=ro&immutable=1", uri=True) as db:
            rows = db.execute("SELECT id, fingerprint, first_sentence, sentence_count FROM articles "
                              "ORDER BY number").fetchall()
        self.ids = [row[0] for row in rows]
        self.fingerprints = [row[1] for row in rows]
        self.firsts = np.array([row[2] for row in rows], dtype=np.int64)
        self.counts = np.array([row[3] for row in rows], dtype=np.int64)
        paragraphs = np.asarray(version.sentence_paragraphs)
        self.first_rows = paragraphs[self.firsts] if len(rows) else np.empty(0, np.int64)
        self.row_counts = (paragraphs[self.firsts + self.counts - 1] - self.first_rows + 1) if len(rows) else self.counts
        self.records = {info.id: _article_record(info) for info in version.metadata.articles()}

    def articles(self) -> list[tuple[str, str, list]]:
        return [(article_id, fingerprint, self.records[article_id])
                for article_id, fingerprint in zip(self.ids, self.fingerprints)]


def _append(client: MilvusClient, prefix: str, version: IndexVersion, layout: _Layout, numbers: Iterable[int],
            at: _Counts) -> int:
    """Insert the sentences, paragraphs and article rows of these files articles after `at`, and their posting
    lists; returns the terms the sentences hold (for the BM25 average). The vectors are the float32 embeddings
    the build computed (its embedding cache), not the FAISS index's codes."""
    metadata, frequencies = version.metadata, version.document_frequencies
    vectors = _ExactVectors(version)
    placeholder = [0.0] * PLACEHOLDER_DIMENSION
    sentence, paragraph, article = at.sentences, at.paragraphs, at.articles
    total_terms, postings = 0, {}
    for batch in _batches(list(numbers), layout.counts):
        ids = [i for a in batch for i in range(layout.firsts[a], layout.firsts[a] + layout.counts[a])]
        files_rows = [r for a in batch for r in range(layout.first_rows[a], layout.first_rows[a] + layout.row_counts[a])]
        stored, held = metadata.sentences(ids), metadata.terms(ids)
        sentence_rows, paragraph_rows, article_rows = [], [], []
        position = 0
        for a in batch:
            count, first_row = int(layout.counts[a]), int(layout.first_rows[a])
            own = vectors.of(a, int(layout.firsts[a]), count, int(layout.row_counts[a]))
            for offset in range(count):
                stored_sentence, found = stored[position + offset], held[position + offset]
                if len(found) > MAX_TERMS:
                    raise IndexProblem(f"sentence {stored_sentence.id} holds {len(found)} terms, more than Milvus "
                                       f"keeps ({MAX_TERMS})")
                total_terms += len(found)
                for term in found:
                    if frequencies.get(term, 0) <= POSTED_TERM_SENTENCES:
                        postings.setdefault(term, []).append(sentence + offset)
                sentence_rows.append({
                    "id": sentence + offset, "vector": own[offset].tolist(), "text": stored_sentence.text,
                    "article": article, "paragraph": stored_sentence.paragraph, "start": stored_sentence.start,
                    "end": stored_sentence.end,
                    "row": paragraph + int(version.sentence_paragraphs[stored_sentence.id]) - first_row,
                    "terms": sorted(found), "term_count": len(found)})
            article_rows.append({"number": article, "vector": placeholder, "first_sentence": sentence,
                                 "sentence_count": count, "fingerprint": layout.fingerprints[a],
                                 "value": json.dumps(layout.records[layout.ids[a]])})
            sentence, paragraph, article = sentence + count, paragraph + int(layout.row_counts[a]), article + 1
            position += count
        first_paragraph = paragraph - len(files_rows)
        paragraph_rows = [{"row": first_paragraph + offset, "vector": np.asarray(version.paragraph_vectors[row]).tolist(),
                           "terms": " ".join(sorted(found))}
                          for offset, (row, found) in enumerate(zip(files_rows, metadata.paragraph_terms(files_rows)))]
        client.insert(f"{prefix}_sentences", sentence_rows)
        client.insert(f"{prefix}_paragraphs", paragraph_rows)
        client.insert(f"{prefix}_articles", article_rows)
    _store_postings(client, prefix, postings, at.sentences)
    return total_terms


def _batches(numbers: list[int], counts: np.ndarray) -> Iterator[list[int]]:
    """The articles in groups of about PAGE sentences (an article is never split)."""
    batch, size = [], 0
    for number in numbers:
        batch.append(number)
        size += int(counts[number])
        if size >= PAGE:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class _ExactVectors:
    """Each article's sentence vectors as the build embedded them (float32, from the index folder's embedding
    cache, `index.cache.save_embedding_keys`); the FAISS index's own (decoded codes beyond EXACT_UP_TO) only
    for an article whose cache entry is gone."""

    def __init__(self, version: IndexVersion) -> None:
        manifest = version.manifest
        self._version, self._dimension = version, manifest.dimension
        self._keys = load_embedding_keys(version.folder) or []
        self._cache = EmbeddingCache(version.folder.parent.parent / CACHE_DIR, f"{manifest.model}|{manifest.embedding}")

    def of(self, article: int, first: int, count: int, paragraphs: int) -> np.ndarray:
        found = (self._cache.get(self._keys[article], rows=count + paragraphs, dimension=self._dimension)
                 if article < len(self._keys) else None)
        if found is not None:
            return found[:count]
        return self._version.sentences.reconstruct_batch(np.arange(first, first + count, dtype=np.int64))


def _store_postings(client: MilvusClient, prefix: str, added: dict[str, list[int]], below: int) -> None:
    """Extend each term's posting list by the sentences added (ids from `below` on); what a killed insert left
    beyond `below` is dropped from the lists it touched."""
    terms = sorted(added)
    placeholder = [0.0] * PLACEHOLDER_DIMENSION
    for start in range(0, len(terms), PAGE):
        page = terms[start:start + PAGE]
        earlier = {row["term"]: [i for i in row["sentences"] if i < below]
                   for row in client.get(f"{prefix}_postings", ids=page, output_fields=["sentences"], **STRONG)}
        client.upsert(f"{prefix}_postings", [{"term": term, "vector": placeholder,
                                              "sentences": earlier.get(term, []) + added[term]} for term in page])


def _write_generation(client: MilvusClient, version: IndexVersion, head: Head, total_terms: int,
                      citations: dict[int, list]) -> None:
    """The generation's records (manifest, document frequencies, terms' total, changed citations), then its
    head: the one row whose change makes the generation current. Records of generations before the previous
    one are deleted."""
    records = f"{head.prefix}_records"
    generation = _generation_key(head.generation)
    client.delete(records, filter=f'key like "{generation}%"')  # a killed attempt's
    payload = json.dumps({"layout": LAYOUT, "manifest": asdict(version.manifest),
                          "document_frequencies": dict(version.document_frequencies), "total_terms": total_terms,
                          "citations": {str(number): record for number, record in sorted(citations.items())}})
    placeholder = [0.0] * PLACEHOLDER_DIMENSION
    client.insert(records, [{"key": f"{generation}{position:06d}", "vector": placeholder,
                             "value": payload[offset:offset + RECORD_CHUNK]}
                            for position, offset in enumerate(range(0, len(payload), RECORD_CHUNK))])
    client.upsert(records, [{"key": HEAD, "vector": placeholder, "value": json.dumps(asdict(head))}])
    kept = {HEAD, *(_generation_key(g) for g in (head.generation, head.generation - 1))}
    stale = [row["key"] for row in client.query(records, filter='key like "g%"', output_fields=["key"], **STRONG)
             if row["key"][:len(generation)] not in kept]
    if stale:
        client.delete(records, ids=stale)


def drop_stale(client: MilvusClient) -> None:
    """Drop every newsbot collection but the current version's and the previous one's (readers that opened it
    before the alias moved still read it), as the files store keeps two versions: older versions and the
    partial collections of a killed copy."""
    current = _alias_prefix(client)
    if current is None:
        return
    head = _head(client, current)
    kept = {current, head.previous if head else None}
    for name in client.list_collections():
        found = _COLLECTION.fullmatch(name)
        if found and found.group(1) not in kept:
            client.drop_collection(name)


def _served(client: MilvusClient, head: Head) -> Served | None:
    """The served generation's manifest and articles, or None when they cannot be read as this newsbot writes
    them (then the next version is copied whole)."""
    try:
        for name in _names(head.prefix):  # loaded, as `write_version` left them, unless the server restarted
            client.load_collection(name)
        record = _records(client, head)
        manifest = manifest_from_dict(record["manifest"], head.prefix, f"{head.prefix}_records")
        if record.get("layout") != LAYOUT:
            return None
        articles = []
        for row in _every(client, f"{head.prefix}_articles", "number", ["fingerprint", "value"],
                          below=_served_counts(manifest).articles):
            first_written = json.loads(row["value"])
            articles.append((first_written[0][0], row["fingerprint"], first_written))
        return Served(head, manifest, int(record["total_terms"]), articles)
    except (IndexProblem, MilvusException, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _served_counts(manifest: Manifest) -> _Counts:
    return _Counts(manifest.sentences, manifest.paragraphs, manifest.articles - manifest.copies)


def open_milvus_version(client: MilvusClient, prefix: str | None = None) -> IndexVersion:
    """The current generation of the version named `prefix`, or of the current one (`CURRENT_ALIAS`), loaded
    for searching. Rows beyond its manifest's counts (a later generation's, or a killed insert's) are not read."""
    prefix = prefix or _alias_prefix(client)
    if prefix is None:
        raise IndexNotFound("Milvus holds no newsbot index yet; run `newsbot index` to build one")
    names = _names(prefix)
    if not all(client.has_collection(name) for name in names):
        raise IndexCorrupt(f"the Milvus collections {prefix}_* are incomplete; run `newsbot index` to rebuild")
    for name in names:
        client.load_collection(name)
    head = _head(client, prefix)
    damaged = IndexCorrupt(f"the records of the Milvus collections {prefix}_* are damaged; run `newsbot index` "
                           "to rebuild")
    if head is None:
        raise damaged
    try:
        record = _records(client, head)
        manifest = manifest_from_dict(record["manifest"], f"the Milvus collections {prefix}_*", f"{prefix}_records")
        frequencies = {str(term): int(count) for term, count in record["document_frequencies"].items()}
        total_terms = int(record["total_terms"])
        citations = {int(number): _article_info(value) for number, value in record.get("citations", {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise damaged from None
    counts = _served_counts(manifest)
    sentence_paragraphs = _column(client, f"{prefix}_sentences", "id", "row", counts.sentences).astype(np.int64)
    paragraph_vectors = _column(client, f"{prefix}_paragraphs", "row", "vector", counts.paragraphs,
                                width=manifest.dimension).astype(np.float32)
    metadata = MilvusMetadata(client, prefix, frequencies, counts, total_terms, citations)
    return IndexVersion(
        Path(head.name), manifest,
        MilvusVectors(client, f"{prefix}_sentences", "id", counts.sentences, _search_parameters(manifest.faiss_search)),
        MilvusVectors(client, f"{prefix}_paragraphs", "row", counts.paragraphs,
                      _search_parameters(manifest.paragraph_faiss_search)),
        paragraph_vectors, sentence_paragraphs, frequencies, metadata)


class MilvusVectors:
    """A collection's vectors as a `VectorSearch`: inner-product search, and vectors by id."""

    def __init__(self, client: MilvusClient, collection: str, key: str, count: int, parameters: dict) -> None:
        self._client, self._collection, self._key, self._parameters = client, collection, key, parameters
        self.ntotal = count

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        found = self._client.search(self._collection, data=np.asarray(x, dtype=np.float32).tolist(), limit=k,
                                    output_fields=[self._key], anns_field="vector",
                                    filter=f"{self._key} < {self.ntotal}",
                                    search_params={"metric_type": "IP", "params": self._parameters})
        scores = np.full((len(x), k), -np.inf, dtype=np.float32)
        ids = np.full((len(x), k), -1, dtype=np.int64)
        for row, hits in enumerate(found):
            for position, hit in enumerate(hits[:k]):
                scores[row, position], ids[row, position] = hit["distance"], hit[self._key]
        return scores, ids

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        wanted = [int(i) for i in np.asarray(ids).reshape(-1)]
        if not wanted:
            return np.empty((0, 0), dtype=np.float32)
        rows = {row[self._key]: row["vector"] for row in self._client.get(self._collection, ids=wanted,
                                                                           output_fields=["vector"])}
        if len(rows) != len(set(wanted)):
            raise IndexCorrupt(f"the Milvus collection {self._collection} lacks vectors; run `newsbot index`")
        return np.array([rows[i] for i in wanted], dtype=np.float32)


class MilvusMetadata:
    """The `SentenceMetadata` of a version in Milvus; thread-safe (each call is its own request)."""

    def __init__(self, client: MilvusClient, prefix: str, frequencies: dict[str, int], counts: _Counts,
                 total_terms: int, citations: dict[int, ArticleInfo]) -> None:
        self._client, self._prefix = client, prefix
        self._frequencies, self._documents = frequencies, counts.sentences
        self._average_terms = total_terms / counts.sentences if counts.sentences else 0.0
        articles = list(_every(client, f"{prefix}_articles", "number", ["first_sentence", "sentence_count", "value"],
                               below=counts.articles))
        if len(articles) != counts.articles:
            raise IndexCorrupt(f"the Milvus collection {prefix}_articles holds {len(articles)} articles, its manifest "
                               f"says {counts.articles}; run `newsbot index` to rebuild")
        self._articles = {row["number"]: citations.get(row["number"]) or _article_info(json.loads(row["value"]))
                          for row in articles}
        self._spans = {row["number"]: (row["first_sentence"], row["sentence_count"]) for row in articles}
        self._numbers = np.array([row["number"] for row in articles], dtype=np.int64)
        self._first_sentences = np.array([row["first_sentence"] for row in articles], dtype=np.int64)
        self._lock = threading.Lock()
        self.article_terms = lru_cache(maxsize=ARTICLE_TERMS_KEPT)(self._read_article_terms)

    def sentences(self, ids: Sequence[int]) -> list[StoredSentence]:
        rows = self._rows("sentences", "id", ids, ["text", "paragraph", "start", "end", "article"], complete=False)
        return [StoredSentence(id=int(i), text=row["text"], paragraph=row["paragraph"], start=row["start"],
                               end=row["end"], article=self._articles[row["article"]])
                for i in ids if (row := rows.get(int(i))) is not None]

    def texts(self, ids: Sequence[int]) -> list[str]:
        rows = self._rows("sentences", "id", ids, ["text"])
        return [rows[int(i)]["text"] for i in ids]

    def terms(self, ids: Sequence[int]) -> list[frozenset[str]]:
        rows = self._rows("sentences", "id", ids, ["terms"])
        return [frozenset(rows[int(i)]["terms"]) for i in ids]

    def paragraph_terms(self, rows: Sequence[int]) -> list[frozenset[str]]:
        found = self._rows("paragraphs", "row", rows, ["terms"])
        return [frozenset(found[int(r)]["terms"].split()) for r in rows]

    def lexical_candidates(self, question_terms: Iterable[str], limit: int) -> np.ndarray:
        """BM25 as FTS5 computes it (`index.bm25`), from the posting lists of the rare terms and a scan of the
        sentences' terms for the common ones (which the retriever never asks for)."""
        wanted = sorted(set(question_terms))
        if not wanted or limit < 1:
            return np.empty(0, np.int64)
        held: dict[int, set[str]] = {}
        rare = [term for term in wanted if 0 < self._frequencies.get(term, 0) <= POSTED_TERM_SENTENCES]
        for row in (self._client.get(f"{self._prefix}_postings", ids=rare, output_fields=["sentences"]) if rare else []):
            for sentence in (s for s in row["sentences"] if s < self._documents):  # a later generation's
                held.setdefault(sentence, set()).add(row["term"])
        common = [term for term in wanted if self._frequencies.get(term, 0) > POSTED_TERM_SENTENCES]
        for row in (self._client.query(f"{self._prefix}_sentences", output_fields=["id", "terms"], limit=PAGE,
                                       filter=f"id < {self._documents} and array_contains_any(terms, {_string_list(common)})")
                    if common else []):
            held.setdefault(row["id"], set()).update(set(row["terms"]).intersection(common))
        lengths = {sentence: row["term_count"] for sentence, row in
                   self._rows("sentences", "id", sorted(held), ["term_count"]).items()}
        return bm25_best(wanted, held, lengths, self._frequencies, self._documents, self._average_terms, limit)

    def articles_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        return self._numbers[article_numbers(self._first_sentences, ids)]

    def _read_article_terms(self, article: int) -> ArticleTerms:
        first, count = self._spans[int(article)]
        found = self._client.query(f"{self._prefix}_sentences", filter=f"id >= {first} and id < {first + count}",
                                   output_fields=["terms"], limit=max(count, 1))
        return ArticleTerms(len(found), Counter(term for row in found for term in row["terms"]))

    def articles(self) -> list[ArticleInfo]:
        """Every indexed article, newest first, then by title (as the files store orders them)."""
        return sorted(self._articles.values(), key=lambda a: (a.published is None,
                                                               -a.published.toordinal() if a.published else 0, a.title))

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def _rows(self, table: str, key: str, ids: Sequence[int], fields: list[str], *, complete: bool = True
              ) -> dict[int, dict]:
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return {}
        found = {row[key]: row for row in self._client.get(f"{self._prefix}_{table}", ids=wanted, output_fields=fields)}
        if complete and len(found) != len(wanted):
            raise IndexCorrupt(f"the Milvus collection {self._prefix}_{table} lacks rows; run `newsbot index`")
        return found


def _string_list(strings: Sequence[str]) -> str:
    """A list literal of a Milvus filter: its parser takes no \\u escapes, so non-ASCII letters are written as
    they are (a term holds letters, digits, '.' and ',' only: `corpus.terms`)."""
    return json.dumps(list(strings), ensure_ascii=False)


def _article_record(article: ArticleInfo) -> list:
    """An article's citation and its copies' as JSON lists (id, title, source, published, url)."""
    return [[a.id, a.title, a.source, iso_date(a.published), a.url] for a in (article, *article.copies)]


def _article_info(record: list) -> ArticleInfo:
    own, *copies = record
    return ArticleInfo(*cited(own), copies=tuple(ArticleCopy(*cited(copy)) for copy in copies))


def current_revision(client: MilvusClient) -> str | None:
    """The name of the current version: its collections' prefix and generation ("<prefix>@<generation>", the
    `folder` name of the `IndexVersion` `open_milvus_version` opens now); None before the first. Three cheap
    calls: replicas poll it, and an insert into the live collections changes it as a new copy does."""
    prefix = _alias_prefix(client)
    if prefix is None:
        return None
    head = _head(client, prefix)
    return head.name if head is not None else prefix


def _alias_prefix(client: MilvusClient) -> str | None:
    """The prefix of the collections `CURRENT_ALIAS` names, None before the first version."""
    if CURRENT_ALIAS not in client.list_aliases().get("aliases", []):
        return None
    return client.describe_alias(CURRENT_ALIAS)["collection_name"].removesuffix("_records")


def _head(client: MilvusClient, prefix: str) -> Head | None:
    """The head row of the version `prefix`, None when it has none readable (a copy killed before its end)."""
    records = f"{prefix}_records"
    try:
        try:
            rows = client.get(records, ids=[HEAD], output_fields=["value"], **STRONG)
        except MilvusException:  # a server loads a collection only when asked (by the first open after a copy)
            client.load_collection(records)
            rows = client.get(records, ids=[HEAD], output_fields=["value"], **STRONG)
        value = json.loads(rows[0]["value"])
        return Head(str(value["prefix"]), int(value["generation"]), str(value["source"]),
                    None if value["previous"] is None else str(value["previous"]))
    except (MilvusException, IndexError, ValueError, KeyError, TypeError):
        return None


def _records(client: MilvusClient, head: Head) -> dict:
    """The record of the head's generation (manifest, document frequencies, ...), from its chunks in order."""
    rows = client.query(f"{head.prefix}_records", filter=f'key like "{_generation_key(head.generation)}%"',
                        output_fields=["key", "value"], limit=PAGE, **STRONG)
    record = json.loads("".join(row["value"] for row in sorted(rows, key=lambda row: row["key"])))
    if not isinstance(record, dict):
        raise ValueError("not a record")
    return record


def _generation_key(generation: int) -> str:
    return f"g{generation:06d}/"


def _names(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{part}" for part in _PARTS)


def _point_alias(client: MilvusClient, collection: str) -> None:
    if CURRENT_ALIAS in client.list_aliases().get("aliases", []):
        client.alter_alias(collection, CURRENT_ALIAS)
    else:
        client.create_alias(collection, CURRENT_ALIAS)


def _every(client: MilvusClient, collection: str, key: str, fields: list[str], *, below: int) -> Iterator[dict]:
    """Every row of a collection whose (integer) key is below `below`, in key order, a page at a time (a query
    returns at most 16,384 rows)."""
    last = -1
    while True:
        rows = client.query(collection, filter=f"{key} > {last} and {key} < {below}", output_fields=[key, *fields],
                            limit=PAGE, **STRONG)
        rows = sorted(rows, key=lambda row: row[key])
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1][key]


def _column(client: MilvusClient, collection: str, key: str, field: str, count: int, *, width: int = 0) -> np.ndarray:
    """One field of every row, in key order (keys 0..count-1)."""
    values = np.zeros((count, width) if width else count, dtype=np.float64 if not width else np.float32)
    seen = 0
    for row in _every(client, collection, key, [field], below=count):
        values[row[key]] = row[field]
        seen += 1
    if seen != count:
        raise IndexCorrupt(f"the Milvus collection {collection} holds {seen} rows, its manifest says {count}; "
                           "run `newsbot index` to rebuild")
    return values


def _sentence_schema(client: MilvusClient, dimension: int):  # noqa: ANN202 - pymilvus's own schema type
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
    for name in ("article", "paragraph", "start", "end", "row", "term_count"):
        schema.add_field(name, DataType.INT64)
    schema.add_field("terms", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_TERMS, max_length=256)
    return schema


def _postings_schema(client: MilvusClient):  # noqa: ANN202
    schema = client.create_schema(auto_id=False)
    schema.add_field("term", DataType.VARCHAR, is_primary=True, max_length=256)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=PLACEHOLDER_DIMENSION)
    schema.add_field("sentences", DataType.ARRAY, element_type=DataType.INT64, max_capacity=POSTED_TERM_SENTENCES)
    return schema


def _paragraph_schema(client: MilvusClient, dimension: int):  # noqa: ANN202
    schema = client.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("terms", DataType.VARCHAR, max_length=MAX_TEXT)
    return schema


def _article_schema(client: MilvusClient):  # noqa: ANN202
    schema = client.create_schema(auto_id=False)
    schema.add_field("number", DataType.INT64, is_primary=True)
    schema.add_field("first_sentence", DataType.INT64)
    schema.add_field("sentence_count", DataType.INT64)
    schema.add_field("fingerprint", DataType.VARCHAR, max_length=64)  # `Article.fingerprint`: changed or not
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=PLACEHOLDER_DIMENSION)
    schema.add_field("value", DataType.VARCHAR, max_length=MAX_TEXT)
    return schema


def _records_schema(client: MilvusClient):  # noqa: ANN202
    schema = client.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=PLACEHOLDER_DIMENSION)
    schema.add_field("value", DataType.VARCHAR, max_length=MAX_TEXT)
    return schema


def _vector_index(client: MilvusClient, factory: str):  # noqa: ANN202
    """The Milvus index matching the FAISS one the build chose by size (`index.vectors.plan_index`)."""
    params = client.prepare_index_params()
    lists = re.fullmatch(r"IVF(\d+),SQ8", factory)
    if lists:
        params.add_index("vector", index_type="IVF_SQ8", metric_type="IP", params={"nlist": int(lists.group(1))})
    else:
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    return params


def _search_parameters(search: dict[str, int]) -> dict[str, int]:
    return {"nprobe": search["nprobe"]} if "nprobe" in search else {}
