"""Publishing an index version to Milvus: copied into new collections behind the alias, or inserted into the
live collections as their next generation when it only adds articles (`index.milvus_store` reads them).

A copy creates five collections sharing a name prefix (`index.milvus_store` describes them), fills them with the
float32 vectors the build embedded (the index folder's embedding cache, `index.cache.save_embedding_keys`; Milvus
quantises them itself for IVF_SQ8), writes generation 0's records and head row, moves `CURRENT_ALIAS`, then drops
the collections of versions older than the previous one, as the files store keeps two versions
(`index.store.remove_stale`), and whatever a killed copy left. A version that differs from the served one only by
added articles (and copies attached to existing articles' citations), with the same index types, is appended
instead: its rows take ids after the served counts, which readers of the served generation never read, then the
generation's records and its head row, written last, make it current. A killed insert leaves the served
generation whole; the next publish deletes its partial rows and inserts again.
"""

from __future__ import annotations

import json
import re
import sqlite3
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # as in index.milvus_store: importing changes no warning filter
    from pymilvus import DataType, MilvusClient
    from pymilvus.exceptions import MilvusException

from newsbot.index.cache import EmbeddingCache, load_embedding_keys
from newsbot.index.errors import IndexProblem
from newsbot.index.manifest import METADATA_FILE, Manifest, manifest_from_dict
from newsbot.index.metadata import ArticleInfo, iso_date
from newsbot.index.milvus_store import (CURRENT_ALIAS, HEAD, PAGE, PARTS, POSTED_TERM_SENTENCES, STRONG, Counts, Head,
                                        alias_prefix, collection_names, collection_prefix, connect, counts_of,
                                        every_row, generation_key, read_head, read_record)
from newsbot.index.store import CACHE_DIR
from newsbot.index.stores import MilvusLiteStore, MilvusServerStore
from newsbot.index.version import IndexVersion, open_version

PLACEHOLDER_DIMENSION = 2  # Milvus wants a vector in every collection; the articles and records have none of their own
MAX_TERMS = 4096  # Milvus's largest array: no sentence of a real article holds this many distinct terms
MAX_TEXT = 65535  # Milvus's longest VARCHAR, in bytes
RECORD_CHUNK = 60000  # characters of ASCII JSON per record row
LAYOUT = 2  # how the records and article rows are laid out: a version written otherwise is copied anew, not extended
_COLLECTION = re.compile(rf"(newsbot_\w+)_({'|'.join(PARTS)})")


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


def write_version(client: MilvusClient, version: IndexVersion, prefix: str) -> None:
    """Copy an opened (files) version into new collections named `prefix`_* as their generation 0, point
    `CURRENT_ALIAS` at them, then drop the collections of older versions (the previous one is kept)."""
    manifest = version.manifest
    previous = alias_prefix(client)
    for name in collection_names(prefix):
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
    total_terms = _append(client, prefix, version, layout, range(len(layout.ids)), Counts(0, 0, 0))
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
            prefix = alias_prefix(client)
            head = read_head(client, prefix) if prefix else None
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
    head, at = served.head, counts_of(served.manifest)
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
            at: Counts) -> int:
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
    generation = generation_key(head.generation)
    client.delete(records, filter=f'key like "{generation}%"')  # a killed attempt's
    payload = json.dumps({"layout": LAYOUT, "manifest": asdict(version.manifest),
                          "document_frequencies": dict(version.document_frequencies), "total_terms": total_terms,
                          "citations": {str(number): record for number, record in sorted(citations.items())}})
    placeholder = [0.0] * PLACEHOLDER_DIMENSION
    client.insert(records, [{"key": f"{generation}{position:06d}", "vector": placeholder,
                             "value": payload[offset:offset + RECORD_CHUNK]}
                            for position, offset in enumerate(range(0, len(payload), RECORD_CHUNK))])
    client.upsert(records, [{"key": HEAD, "vector": placeholder, "value": json.dumps(asdict(head))}])
    kept = {HEAD, *(generation_key(g) for g in (head.generation, head.generation - 1))}
    stale = [row["key"] for row in client.query(records, filter='key like "g%"', output_fields=["key"], **STRONG)
             if row["key"][:len(generation)] not in kept]
    if stale:
        client.delete(records, ids=stale)


def drop_stale(client: MilvusClient) -> None:
    """Drop every newsbot collection but the current version's and the previous one's (readers that opened it
    before the alias moved still read it), as the files store keeps two versions: older versions and the
    partial collections of a killed copy."""
    current = alias_prefix(client)
    if current is None:
        return
    head = read_head(client, current)
    kept = {current, head.previous if head else None}
    for name in client.list_collections():
        found = _COLLECTION.fullmatch(name)
        if found and found.group(1) not in kept:
            client.drop_collection(name)


def _served(client: MilvusClient, head: Head) -> Served | None:
    """The served generation's manifest and articles, or None when they cannot be read as this newsbot writes
    them (then the next version is copied whole)."""
    try:
        for name in collection_names(head.prefix):  # loaded, as `write_version` left them, unless the server restarted
            client.load_collection(name)
        record = read_record(client, head)
        manifest = manifest_from_dict(record["manifest"], head.prefix, f"{head.prefix}_records")
        if record.get("layout") != LAYOUT:
            return None
        articles = []
        for row in every_row(client, f"{head.prefix}_articles", "number", ["fingerprint", "value"],
                          below=counts_of(manifest).articles):
            first_written = json.loads(row["value"])
            articles.append((first_written[0][0], row["fingerprint"], first_written))
        return Served(head, manifest, int(record["total_terms"]), articles)
    except (IndexProblem, MilvusException, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _article_record(article: ArticleInfo) -> list:
    """An article's citation and its copies' as JSON lists (id, title, source, published, url)."""
    return [[a.id, a.title, a.source, iso_date(a.published), a.url] for a in (article, *article.copies)]


def _point_alias(client: MilvusClient, collection: str) -> None:
    if CURRENT_ALIAS in client.list_aliases().get("aliases", []):
        client.alter_alias(collection, CURRENT_ALIAS)
    else:
        client.create_alias(collection, CURRENT_ALIAS)


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
