"""What the corpus folder already holds, so that an article is stored once whatever the way in (a URL, a
feed, a pasted text, an uploaded file): each article's canonical URL and a hash of its body text. Read once
per batch from the folder (the only record; the index is built from it) and updated as the batch stores.
The same text from another source is not a duplicate but a republished copy (a wire story on two sites): it is
stored, and the index groups it with its story, whose answers then name both sources."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from newsbot.corpus.article import Article
from newsbot.corpus.load import read_corpus

Status = Literal["added", "updated", "unchanged", "duplicate"]


@dataclass(frozen=True)
class Stored:
    """What storing one article did: `path` is the id (corpus-relative path) and `title` the title of the
    article as stored; for a duplicate (nothing written) those of the article already held, which `same_as`
    names too. `previous` is an updated file's former text, kept to undo the update."""

    url: str
    path: str
    title: str
    status: Status
    same_as: str | None = None
    previous: str | None = field(default=None, repr=False, compare=False)


@dataclass
class KnownArticles:
    """What the corpus already holds: article ids by canonical URL and by body hash, their titles and sources."""

    by_url: dict[str, str] = field(default_factory=dict)
    by_body: dict[str, list[str]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def read(cls, corpus_dir: Path) -> KnownArticles:
        """Every readable article of the folder (the unreadable ones are the build's to report)."""
        known = cls()
        for item in read_corpus(corpus_dir):
            if isinstance(item, Article):
                known.remember(item)
        return known

    def remember(self, article: Article) -> None:
        """Count `article` as held; the first article of a URL or a text keeps it (the folder's order is stable)."""
        if article.url:
            self.by_url.setdefault(canonical_form(article.url), article.id)
        held = self.by_body.setdefault(body_hash(article), [])
        if article.id not in held:
            held.append(article.id)
        self.titles[article.id] = article.title
        self.sources[article.id] = article.source

    def held(self, article: Article) -> str | None:
        """The id of another article with the same canonical URL or the same body text, if one is held."""
        same_url = self.by_url.get(canonical_form(article.url)) if article.url else None
        return same_url if same_url not in (None, article.id) else self.same_text(article)

    def same_text(self, article: Article) -> str | None:
        """The id of another article with the same body text from the same source (or one without a source), if
        one is held: the same text from another source is a republished copy, to be stored."""
        return next((held for held in self.by_body.get(body_hash(article), ())
                     if held != article.id and _same_source(self.sources[held], article.source)), None)


def _same_source(one: str | None, other: str | None) -> bool:
    return not one or not other or one.casefold() == other.casefold()


def canonical_form(url: str) -> str:
    """The URL as compared: scheme and host in lower case, no fragment (the same page, another anchor)."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def body_hash(article: Article) -> str:
    """The same text whatever its spacing, line wrapping or letter case."""
    return hashlib.sha256(" ".join(article.body.split()).casefold().encode("utf-8")).hexdigest()
