"""The Milvus store: an index version in Milvus collections, read through the same `IndexVersion` as the files.

A version is five collections sharing a name prefix: `<prefix>_sentences` (vector, text, offsets, article
number, paragraph row, terms), `<prefix>_paragraphs` (vector, terms), `<prefix>_articles` (citation and
copies as JSON, first sentence, sentence count), `<prefix>_postings` (the sentences holding each rare term, for
the lexical search) and `<prefix>_records` (the manifest, the document
frequencies, the terms' total). The alias `CURRENT_ALIAS` names the current version's records collection and
moves only once a version is complete, so a reader never opens a half-written one. A replica needs nothing
on disk: everything the ranking reads is here. Imported only when `NEWSBOT_STORE` names Milvus (pymilvus
and its dependencies cost about 0.6 s to import).
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # pandas, requests and urllib3 add 8 warning filters as pymilvus imports them:
    # importing a newsbot module changes nothing global (tests/test_import_side_effects.py)
    from pymilvus import DataType, MilvusClient
    from pymilvus.exceptions import MilvusException

from newsbot.index.bm25 import bm25_best
from newsbot.index.errors import IndexCorrupt, IndexNotFound, IndexProblem
from newsbot.index.manifest import Manifest, manifest_from_dict
from newsbot.index.metadata import (ARTICLE_TERMS_KEPT, ArticleCopy, ArticleInfo, ArticleTerms, StoredSentence,
                                    article_numbers, cited, iso_date)
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
_NAME = re.compile(r"[^A-Za-z0-9_]")


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


def write_version(client: MilvusClient, version: IndexVersion, prefix: str) -> None:
    """Copy an opened (files) version into new collections named `prefix`_*, then point `CURRENT_ALIAS` at them.

    The vectors are the sentence index's own (exact for a flat index; decoded codes for IVF,SQ8).
    """
    manifest, metadata = version.manifest, version.metadata
    for name in _names(prefix):
        if client.has_collection(name):
            client.drop_collection(name)
    for name, schema, factory in (
            (f"{prefix}_sentences", _sentence_schema(client, manifest.dimension), manifest.faiss_factory),
            (f"{prefix}_paragraphs", _paragraph_schema(client, manifest.dimension), manifest.paragraph_faiss_factory),
            (f"{prefix}_articles", _record_schema(client, "number", DataType.INT64), "Flat"),
            (f"{prefix}_postings", _postings_schema(client), "Flat"),
            (f"{prefix}_records", _record_schema(client, "key", DataType.VARCHAR), "Flat")):
        client.create_collection(name, schema=schema)
        # not waited for: the wait polls a timestamp call Milvus Lite lacks (0.5 s and a logged error each); a
        # collection loads once its index is built
        client.create_index(name, _vector_index(client, factory), sync=False)
    placeholder = [0.0] * PLACEHOLDER_DIMENSION
    total_terms, firsts, postings = 0, {}, {}
    for start in range(0, manifest.sentences, PAGE):
        ids = list(range(start, min(start + PAGE, manifest.sentences)))
        stored, held = metadata.sentences(ids), metadata.terms(ids)
        numbers = metadata.articles_of(ids).tolist()
        vectors = version.sentences.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        rows = []
        for sentence, found, number, vector in zip(stored, held, numbers, vectors):
            if len(found) > MAX_TERMS:
                raise IndexProblem(f"sentence {sentence.id} holds {len(found)} terms, more than Milvus keeps "
                                   f"({MAX_TERMS})")
            firsts.setdefault(number, (sentence.id, sentence.article))
            total_terms += len(found)
            for term in found:
                if version.document_frequencies.get(term, 0) <= POSTED_TERM_SENTENCES:
                    postings.setdefault(term, []).append(sentence.id)
            rows.append({"id": sentence.id, "vector": vector.tolist(), "text": sentence.text, "article": number,
                         "paragraph": sentence.paragraph, "start": sentence.start, "end": sentence.end,
                         "row": int(version.sentence_paragraphs[sentence.id]), "terms": sorted(found),
                         "term_count": len(found)})
        client.insert(f"{prefix}_sentences", rows)
    for start in range(0, manifest.paragraphs, PAGE):
        rows_of = list(range(start, min(start + PAGE, manifest.paragraphs)))
        client.insert(f"{prefix}_paragraphs", [
            {"row": row, "vector": np.asarray(version.paragraph_vectors[row]).tolist(), "terms": " ".join(sorted(found))}
            for row, found in zip(rows_of, metadata.paragraph_terms(rows_of))])
    counts = Counter(metadata.articles_of(list(range(manifest.sentences))).tolist())
    client.insert(f"{prefix}_articles", [
        {"number": number, "vector": placeholder, "first_sentence": first, "sentence_count": counts[number],
         "value": json.dumps(_article_record(article))} for number, (first, article) in sorted(firsts.items())])
    posted = sorted(postings.items())
    for start in range(0, len(posted), PAGE):
        client.insert(f"{prefix}_postings", [{"term": term, "vector": placeholder, "sentences": ids}
                                             for term, ids in posted[start:start + PAGE]])
    payload = json.dumps({"manifest": asdict(manifest), "document_frequencies": dict(version.document_frequencies),
                          "total_terms": total_terms})
    client.insert(f"{prefix}_records", [
        {"key": f"version/{position:06d}", "vector": placeholder, "value": payload[offset:offset + RECORD_CHUNK]}
        for position, offset in enumerate(range(0, len(payload), RECORD_CHUNK))])
    for name in _names(prefix):
        client.flush(name)
    _point_alias(client, f"{prefix}_records")


def publish_version(store: MilvusLiteStore | MilvusServerStore, index_dir: Path) -> None:
    """Copy the current version of an index folder into the store and make it current, unless it is already."""
    client = connect(store)
    try:
        version = open_version(index_dir)
        try:
            prefix = collection_prefix(version.folder.name)
            if current_revision(client) != prefix:
                write_version(client, version, prefix)
        finally:
            version.close()
    finally:
        client.close()


def open_milvus_version(client: MilvusClient, prefix: str | None = None) -> IndexVersion:
    """The version named `prefix`, or the current one (`CURRENT_ALIAS`), loaded for searching."""
    prefix = prefix or current_revision(client)
    if prefix is None:
        raise IndexNotFound("Milvus holds no newsbot index yet; run `newsbot index` to build one")
    names = _names(prefix)
    if not all(client.has_collection(name) for name in names):
        raise IndexCorrupt(f"the Milvus collections {prefix}_* are incomplete; run `newsbot index` to rebuild")
    for name in names:
        client.load_collection(name)
    payload = "".join(row["value"] for row in sorted(_every(client, f"{prefix}_records", "key", ["value"]),
                                                     key=lambda row: row["key"]))
    try:
        record = json.loads(payload)
        manifest = manifest_from_dict(record["manifest"], f"the Milvus collections {prefix}_*", f"{prefix}_records")
        frequencies = {str(term): int(count) for term, count in record["document_frequencies"].items()}
        total_terms = int(record["total_terms"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IndexCorrupt(f"the records of the Milvus collections {prefix}_* are damaged; run `newsbot index` "
                           "to rebuild") from None
    sentence_paragraphs = _column(client, f"{prefix}_sentences", "id", "row", manifest.sentences).astype(np.int64)
    paragraph_vectors = _column(client, f"{prefix}_paragraphs", "row", "vector", manifest.paragraphs,
                                width=manifest.dimension).astype(np.float32)
    metadata = MilvusMetadata(client, prefix, frequencies, manifest.sentences, total_terms)
    search = _search_parameters(manifest.faiss_search)
    return IndexVersion(
        Path(prefix), manifest,
        MilvusVectors(client, f"{prefix}_sentences", "id", manifest.sentences, search),
        MilvusVectors(client, f"{prefix}_paragraphs", "row", manifest.paragraphs,
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

    def __init__(self, client: MilvusClient, prefix: str, frequencies: dict[str, int], sentences: int,
                 total_terms: int) -> None:
        self._client, self._prefix = client, prefix
        self._frequencies, self._documents = frequencies, sentences
        self._average_terms = total_terms / sentences if sentences else 0.0
        articles = sorted(_every(client, f"{prefix}_articles", "number", ["first_sentence", "sentence_count", "value"]),
                          key=lambda row: row["number"])
        self._articles = {row["number"]: _article_info(json.loads(row["value"])) for row in articles}
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
            for sentence in row["sentences"]:
                held.setdefault(sentence, set()).add(row["term"])
        common = [term for term in wanted if self._frequencies.get(term, 0) > POSTED_TERM_SENTENCES]
        for row in (self._client.query(f"{self._prefix}_sentences", output_fields=["id", "terms"], limit=PAGE,
                                       filter=f"array_contains_any(terms, {_string_list(common)})")
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
    """The name of the current version (its collections' prefix, the `folder` name of the `IndexVersion`
    `open_milvus_version` opens now); None before the first. One cheap call: replicas poll it."""
    if CURRENT_ALIAS not in client.list_aliases().get("aliases", []):
        return None
    return client.describe_alias(CURRENT_ALIAS)["collection_name"].removesuffix("_records")


def _names(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{part}" for part in ("sentences", "paragraphs", "articles", "postings", "records"))


def _point_alias(client: MilvusClient, collection: str) -> None:
    if CURRENT_ALIAS in client.list_aliases().get("aliases", []):
        client.alter_alias(collection, CURRENT_ALIAS)
    else:
        client.create_alias(collection, CURRENT_ALIAS)


def _every(client: MilvusClient, collection: str, key: str, fields: list[str]) -> Iterator[dict]:
    """Every row of a collection, a page at a time (a query returns at most 16,384 rows)."""
    last = None
    while True:
        after = "" if last is None else (f"{key} > {last}" if isinstance(last, int) else f'{key} > "{last}"')
        rows = client.query(collection, filter=after or (f"{key} >= 0" if key != "key" else 'key != ""'),
                            output_fields=[key, *fields], limit=PAGE)
        rows = sorted(rows, key=lambda row: row[key])
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1][key]


def _column(client: MilvusClient, collection: str, key: str, field: str, count: int, *, width: int = 0) -> np.ndarray:
    """One field of every row, in key order (keys 0..count-1)."""
    values = np.zeros((count, width) if width else count, dtype=np.float64 if not width else np.float32)
    seen = 0
    for row in _every(client, collection, key, [field]):
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


def _record_schema(client: MilvusClient, key: str, key_type: DataType):  # noqa: ANN202
    schema = client.create_schema(auto_id=False)
    if key_type == DataType.VARCHAR:
        schema.add_field(key, key_type, is_primary=True, max_length=64)
    else:
        schema.add_field(key, key_type, is_primary=True)
        schema.add_field("first_sentence", DataType.INT64)
        schema.add_field("sentence_count", DataType.INT64)
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
