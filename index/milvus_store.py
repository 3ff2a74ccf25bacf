"""The Milvus store: an index version in Milvus collections, read through the same `IndexVersion` as the files.

A version is five collections sharing a name prefix: `<prefix>_sentences` (vector, text, offsets, article
number, paragraph row, terms), `<prefix>_paragraphs` (vector, terms), `<prefix>_articles` (citation and
copies as JSON, first sentence, sentence count), `<prefix>_postings` (the sentences holding each rare term, for
the lexical search) and `<prefix>_records` (per generation: the manifest, the document frequencies, the
terms' total, the citations that gained copies; and the head row naming the complete generation). The alias
`CURRENT_ALIAS` names the current version's records collection and moves only once a version is complete, so a
reader never opens a half-written one. A version that only adds articles to the served one is inserted into the
live collections instead, as their next generation: a reader opens the generation the head row names and reads
no row beyond its manifest's counts, so it sees one generation whole (`index.milvus_publish` writes them). The
version's name is `<prefix>@<generation>` (`current_revision`). A replica needs nothing on disk:
everything the ranking reads is here. Imported only when `NEWSBOT_STORE` names Milvus (pymilvus
and its dependencies cost about 0.6 s to import).
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # pandas, requests and urllib3 add 8 warning filters as pymilvus imports them:
    # importing a newsbot module changes nothing global (tests/test_import_side_effects.py)
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

from newsbot.index.bm25 import bm25_best
from newsbot.index.errors import IndexCorrupt, IndexNotFound, IndexProblem
from newsbot.index.manifest import Manifest, manifest_from_dict
from newsbot.index.metadata import (ARTICLE_TERMS_KEPT, ArticleCopy, ArticleInfo, ArticleTerms, StoredSentence,
                                    article_numbers, cited)
from newsbot.index.stores import MilvusLiteStore, MilvusServerStore
from newsbot.index.version import IndexVersion

CURRENT_ALIAS = "newsbot_current"
# Terms held by at most this many sentences get a posting list: those a question's lexical search asks for
# (retrieval.candidates.LEXICAL_TERM_SENTENCES); a commoner term is found by scanning the sentences' terms
POSTED_TERM_SENTENCES = 1000
PAGE = 10000  # rows per read or write: under Milvus's 16,384 per query
HEAD = "head"  # the records row naming the complete generation; every other row is a generation's ("g000003/...")
# Reads that must see every write before them (a server's default lags). Writes are not flushed: Milvus logs
# them durably as they come (a flush seals segments, about 2 s each on a server), and a strong read sees them in
# the order written, so a reader that sees a head row sees every row written before it
STRONG = {"consistency_level": "Strong"}
_NAME = re.compile(r"[^A-Za-z0-9_]")
PARTS = ("sentences", "paragraphs", "articles", "postings", "records")


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
class Counts:
    sentences: int
    paragraphs: int
    articles: int


def counts_of(manifest: Manifest) -> Counts:
    return Counts(manifest.sentences, manifest.paragraphs, manifest.articles - manifest.copies)


def open_milvus_version(client: MilvusClient, prefix: str | None = None) -> IndexVersion:
    """The current generation of the version named `prefix`, or of the current one (`CURRENT_ALIAS`), loaded
    for searching. Rows beyond its manifest's counts (a later generation's, or a killed insert's) are not read."""
    prefix = prefix or alias_prefix(client)
    if prefix is None:
        raise IndexNotFound("Milvus holds no newsbot index yet; run `newsbot index` to build one")
    names = collection_names(prefix)
    if not all(client.has_collection(name) for name in names):
        raise IndexCorrupt(f"the Milvus collections {prefix}_* are incomplete; run `newsbot index` to rebuild")
    for name in names:
        client.load_collection(name)
    head = read_head(client, prefix)
    damaged = IndexCorrupt(f"the records of the Milvus collections {prefix}_* are damaged; run `newsbot index` "
                           "to rebuild")
    if head is None:
        raise damaged
    try:
        record = read_record(client, head)
        manifest = manifest_from_dict(record["manifest"], f"the Milvus collections {prefix}_*", f"{prefix}_records")
        frequencies = {str(term): int(count) for term, count in record["document_frequencies"].items()}
        total_terms = int(record["total_terms"])
        citations = {int(number): _article_info(value) for number, value in record.get("citations", {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise damaged from None
    counts = counts_of(manifest)
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

    def __init__(self, client: MilvusClient, prefix: str, frequencies: dict[str, int], counts: Counts,
                 total_terms: int, citations: dict[int, ArticleInfo]) -> None:
        self._client, self._prefix = client, prefix
        self._frequencies, self._documents = frequencies, counts.sentences
        self._average_terms = total_terms / counts.sentences if counts.sentences else 0.0
        articles = list(every_row(client, f"{prefix}_articles", "number", ["first_sentence", "sentence_count", "value"],
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


def _article_info(record: list) -> ArticleInfo:
    own, *copies = record
    return ArticleInfo(*cited(own), copies=tuple(ArticleCopy(*cited(copy)) for copy in copies))


def current_revision(client: MilvusClient) -> str | None:
    """The name of the current version: its collections' prefix and generation ("<prefix>@<generation>", the
    `folder` name of the `IndexVersion` `open_milvus_version` opens now); None before the first. Three cheap
    calls: replicas poll it, and an insert into the live collections changes it as a new copy does."""
    prefix = alias_prefix(client)
    if prefix is None:
        return None
    head = read_head(client, prefix)
    return head.name if head is not None else prefix


def alias_prefix(client: MilvusClient) -> str | None:
    """The prefix of the collections `CURRENT_ALIAS` names, None before the first version."""
    if CURRENT_ALIAS not in client.list_aliases().get("aliases", []):
        return None
    return client.describe_alias(CURRENT_ALIAS)["collection_name"].removesuffix("_records")


def read_head(client: MilvusClient, prefix: str) -> Head | None:
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


def read_record(client: MilvusClient, head: Head) -> dict:
    """The record of the head's generation (manifest, document frequencies, ...), from its chunks in order."""
    rows = client.query(f"{head.prefix}_records", filter=f'key like "{generation_key(head.generation)}%"',
                        output_fields=["key", "value"], limit=PAGE, **STRONG)
    record = json.loads("".join(row["value"] for row in sorted(rows, key=lambda row: row["key"])))
    if not isinstance(record, dict):
        raise ValueError("not a record")
    return record


def generation_key(generation: int) -> str:
    return f"g{generation:06d}/"


def collection_names(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{part}" for part in PARTS)


def every_row(client: MilvusClient, collection: str, key: str, fields: list[str], *, below: int) -> Iterator[dict]:
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
    for row in every_row(client, collection, key, [field], below=count):
        values[row[key]] = row[field]
        seen += 1
    if seen != count:
        raise IndexCorrupt(f"the Milvus collection {collection} holds {seen} rows, its manifest says {count}; "
                           "run `newsbot index` to rebuild")
    return values


def _search_parameters(search: dict[str, int]) -> dict[str, int]:
    return {"nprobe": search["nprobe"]} if "nprobe" in search else {}
