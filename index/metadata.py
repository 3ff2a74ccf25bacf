"""Sentence and article metadata of one index version, in SQLite (no pickle, no Python objects per row).

Row `sentences.id` is the sentence's position in the FAISS index. `sentence_terms` is an FTS5 index of the
stored terms (its rowid the sentence id), so a question's rare words find their sentences by BM25 even
when the embeddings miss them (`retrieval.candidates`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

from newsbot.corpus.article import Article, Sentence
from newsbot.index.errors import IndexCorrupt

_SCHEMA = """
CREATE TABLE articles (
    number INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    source TEXT,
    published TEXT,
    url TEXT,
    fingerprint TEXT NOT NULL,
    first_sentence INTEGER NOT NULL,
    sentence_count INTEGER NOT NULL
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY,
    article INTEGER NOT NULL REFERENCES articles(number),
    paragraph INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    terms TEXT NOT NULL
);
-- the other articles that carry an indexed story (index/syndication.py): cited with it, not indexed
CREATE TABLE copies (
    article INTEGER NOT NULL REFERENCES articles(number),
    position INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    source TEXT,
    published TEXT,
    url TEXT
);
CREATE INDEX copies_by_article ON copies(article, position);
CREATE TABLE paragraphs (
    id INTEGER PRIMARY KEY,  -- the row of the paragraph's vector
    terms TEXT NOT NULL      -- the union of its sentences' terms
);
-- external content: the index of sentences.terms, without a second copy of them; a token is one term
-- (lower-cased stems already; numbers keep their separators: 5,400)
CREATE VIRTUAL TABLE sentence_terms USING fts5(
    terms, content='sentences', content_rowid='id',
    tokenize="unicode61 remove_diacritics 0 tokenchars '.,'"
);
"""


@dataclass(frozen=True)
class ArticleCopy:
    """Another article carrying an indexed story (a republished wire report): cited with it, not indexed."""

    id: str
    title: str
    source: str | None
    published: date | None
    url: str | None

    @classmethod
    def of(cls, article: Article) -> ArticleCopy:
        return cls(article.id, article.title, article.source, article.published, article.url)

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of a copy in `newsbot ask --json`."""
        return _citation_dict(self)


@dataclass(frozen=True)
class ArticleInfo:
    """What a reply needs to cite an article: the indexed one and the copies of its story other sites carried."""

    id: str
    title: str
    source: str | None
    published: date | None
    url: str | None
    copies: tuple[ArticleCopy, ...] = ()

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources that carried the story: the article's own, then its copies', each once, in that order."""
        return tuple(dict.fromkeys(c.source for c in (self, *self.copies) if c.source))

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of `newsbot ask --json`'s `article`: its citation, its copies and their sources."""
        return {**_citation_dict(self), "copies": [copy.to_dict() for copy in self.copies],
                "sources": list(self.sources)}


def _citation_dict(article: ArticleCopy | ArticleInfo) -> dict[str, object]:
    return {"id": article.id, "title": article.title, "source": article.source,
            "published": iso_date(article.published), "url": article.url}


# Articles whose term counts a reader keeps (`MetadataReader.article_terms`): the candidates of a question
# come from a few dozen articles, and a news article's counts are a few thousand entries
ARTICLE_TERMS_KEPT = 1024


@dataclass(frozen=True)
class ArticleTerms:
    """How many of an article's sentences hold each term (title terms are in every sentence's terms)."""

    sentences: int
    counts: Counter[str]


@dataclass(frozen=True)
class StoredSentence:
    id: int
    text: str
    paragraph: int
    start: int
    end: int
    article: ArticleInfo


class MetadataWriter:
    """Appends articles and their sentences in FAISS order while a build runs."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        self._articles = 0
        self._sentences = 0
        self._paragraphs = 0

    def add(self, article: Article, sentences: Sequence[Sentence], terms: Sequence[set[str]],
            copies: Sequence[ArticleCopy] = ()) -> None:
        """Store an article and its sentences, each with its lexical terms (computed once, here), and
        each of its paragraphs that has sentences with the union of their terms, numbered in the order
        of the paragraph vectors (first appearance); and the copies of its story, in order."""
        self._db.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._articles, article.id, article.title, article.source, iso_date(article.published), article.url,
             article.fingerprint, self._sentences, len(sentences)))
        self._db.executemany(
            "INSERT INTO copies VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(self._articles, position, c.id, c.title, c.source, iso_date(c.published), c.url)
             for position, c in enumerate(copies)])
        self._db.executemany(
            "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(self._sentences + i, self._articles, s.paragraph, s.start, s.end, s.text, " ".join(sorted(found)))
             for i, (s, found) in enumerate(zip(sentences, terms, strict=True))])
        paragraphs: dict[int, set[str]] = {}
        for sentence, found in zip(sentences, terms):
            paragraphs.setdefault(sentence.paragraph, set()).update(found)
        self._db.executemany("INSERT INTO paragraphs VALUES (?, ?)",
                             [(self._paragraphs + i, " ".join(sorted(found)))
                              for i, found in enumerate(paragraphs.values())])
        self._paragraphs += len(paragraphs)
        self._articles += 1
        self._sentences += len(sentences)

    def close(self) -> None:
        """Index every stored sentence's terms for lexical search, in one pass, and save."""
        self._db.executescript("INSERT INTO sentence_terms(sentence_terms) VALUES ('rebuild');"
                               "INSERT INTO sentence_terms(sentence_terms) VALUES ('optimize');")
        self._db.commit()
        self._db.close()


class MetadataReader:
    """Read-only, thread-safe lookups into a published (immutable) version."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise IndexCorrupt(f"the index file {path} is missing; run `newsbot index` to rebuild")
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            self.sentence_count = self._db.execute("SELECT count(*) FROM sentences").fetchone()[0]
            self.article_count = self._db.execute("SELECT count(*) FROM articles").fetchone()[0]
            self.copy_count = self._db.execute("SELECT count(*) FROM copies").fetchone()[0]
            firsts = self._db.execute("SELECT first_sentence FROM articles ORDER BY number").fetchall()
        except sqlite3.DatabaseError as error:
            raise IndexCorrupt(f"the index file {path} is damaged ({error}); run `newsbot index` to rebuild") from None
        self._lock = threading.Lock()
        self._first_sentences = np.array([row[0] for row in firsts], dtype=np.int64)  # by article number
        self.article_terms = lru_cache(maxsize=ARTICLE_TERMS_KEPT)(self._read_article_terms)

    def articles_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The article number of each sentence id (an article's sentences are stored together, in order)."""
        return article_numbers(self._first_sentences, ids)

    def _read_article_terms(self, article: int) -> ArticleTerms:
        """`article_terms`, read from the stored sentence terms (kept for the last ARTICLE_TERMS_KEPT articles)."""
        with self._lock:
            row = self._db.execute("SELECT first_sentence, sentence_count FROM articles WHERE number = ?",
                                   (int(article),)).fetchone()
            if row is None:
                raise IndexCorrupt("the articles of the index file lack rows; run `newsbot index` to rebuild")
            found = self._db.execute("SELECT terms FROM sentences WHERE id BETWEEN ? AND ?",
                                     (row[0], row[0] + row[1] - 1)).fetchall()
        return ArticleTerms(len(found), Counter(term for (terms,) in found for term in terms.split()))

    def sentences(self, ids: Sequence[int]) -> list[StoredSentence]:
        """The sentences with these FAISS ids, in the order asked."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f'SELECT s.id, s.text, s.paragraph, s.start, s."end", a.id, a.title, a.source, a.published, a.url, '
                f"a.number FROM sentences s JOIN articles a ON a.number = s.article WHERE s.id IN ({marks})",
                [int(i) for i in ids]).fetchall()
            copies = self._copies({row[10] for row in rows})
        by_id = {row[0]: row for row in rows}
        return [_stored_sentence(by_id[i], copies.get(by_id[i][10], ())) for i in ids if i in by_id]

    def _copies(self, articles: Iterable[int] | None) -> dict[int, tuple[ArticleCopy, ...]]:
        """The copies of these articles' stories (of every article: None), by article number; the caller holds
        the lock."""
        wanted = None if articles is None else sorted(articles)
        if wanted == [] or not self.copy_count:  # most indexes have no copies: an answer skips the query
            return {}
        where = "" if wanted is None else f"WHERE article IN ({','.join('?' * len(wanted))})"
        rows = self._db.execute(f"SELECT article, id, title, source, published, url FROM copies {where} "
                                "ORDER BY article, position", wanted or []).fetchall()
        found: dict[int, list[ArticleCopy]] = {}
        for row in rows:
            found.setdefault(row[0], []).append(ArticleCopy(*cited(row[1:])))
        return {article: tuple(copies) for article, copies in found.items()}

    def texts(self, ids: Sequence[int]) -> list[str]:
        """The texts of the sentences with these FAISS ids, in the order asked."""
        return self._column("sentences", "text", ids)

    def terms(self, ids: Sequence[int]) -> list[frozenset[str]]:
        """The lexical terms of the sentences with these FAISS ids (`corpus.terms.sentence_terms`)."""
        return [frozenset(found.split()) for found in self._column("sentences", "terms", ids)]

    def lexical_candidates(self, question_terms: Iterable[str], limit: int) -> np.ndarray:
        """The ids of the (at most `limit`) sentences best matching any of these terms by BM25, best first;
        none for no terms."""
        wanted = sorted(set(question_terms))
        if not wanted or limit < 1:
            return np.empty(0, np.int64)
        query = " OR ".join('"' + term.replace('"', '""') + '"' for term in wanted)
        with self._lock:
            try:
                rows = self._db.execute("SELECT rowid FROM sentence_terms WHERE sentence_terms MATCH ? "
                                        "ORDER BY rank LIMIT ?", (query, limit)).fetchall()
            except sqlite3.DatabaseError as error:
                raise IndexCorrupt(f"the lexical index of the index file is damaged ({error}); "
                                   "run `newsbot index` to rebuild") from None
        return np.array([row[0] for row in rows], dtype=np.int64)

    def paragraph_terms(self, rows: Sequence[int]) -> list[frozenset[str]]:
        """The lexical terms of the paragraphs with these vector rows: the union of their sentences'."""
        return [frozenset(found.split()) for found in self._column("paragraphs", "terms", rows)]

    def _column(self, table: str, column: str, ids: Sequence[int]) -> list[str]:
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return []
        with self._lock:
            rows = self._db.execute(f"SELECT id, {column} FROM {table} WHERE id IN ({','.join('?' * len(wanted))})",
                                    wanted).fetchall()
        found = dict(rows)
        if len(found) != len(wanted):
            raise IndexCorrupt(f"the {table} of the index file lack rows; run `newsbot index` to rebuild")
        return [found[int(i)] for i in ids]

    def articles(self) -> list[ArticleInfo]:
        """Every indexed article (one per story, with its copies), newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, title, source, published, url, number FROM articles "
                "ORDER BY published IS NULL, published DESC, title").fetchall()
            copies = self._copies(None)
        return [_article_info(row[:5], copies.get(row[5], ())) for row in rows]

    def close(self) -> None:
        """Close the database; a lookup still running finishes first."""
        with self._lock:
            self._db.close()


def article_numbers(first_sentences: np.ndarray, ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """The article number of each sentence id, given each article's first sentence id by article number."""
    return np.searchsorted(first_sentences, np.asarray(ids, dtype=np.int64), side="right") - 1


def iso_date(day: date | None) -> str | None:
    return day.isoformat() if day else None


def cited(row: Sequence) -> tuple[str, str, str | None, date | None, str | None]:
    """id, title, source, published, url as stored, the date parsed."""
    article_id, title, source, published, url = row
    return article_id, title, source, date.fromisoformat(published) if published else None, url


def _article_info(row: Sequence, copies: tuple[ArticleCopy, ...]) -> ArticleInfo:
    return ArticleInfo(*cited(row), copies=copies)


def _stored_sentence(row: Sequence, copies: tuple[ArticleCopy, ...]) -> StoredSentence:
    return StoredSentence(id=row[0], text=row[1], paragraph=row[2], start=row[3], end=row[4],
                          article=_article_info(row[5:10], copies))
