"""The parsed form of a news article and of its answer-candidate sentences."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

PARAGRAPH_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Article:
    """One article: metadata for citing it, and the paragraphs that may hold answers.

    `id` is stable across rebuilds (the file's path inside the corpus folder, plus a line
    number for JSON Lines imports), so an unchanged article keeps its identity.
    """

    id: str
    title: str
    paragraphs: tuple[str, ...]
    source: str | None = None
    published: date | None = None
    url: str | None = None

    @property
    def body(self) -> str:
        """The text that sentence offsets point into."""
        return PARAGRAPH_SEPARATOR.join(self.paragraphs)

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything a reader or the index sees changes."""
        parts = [self.id, self.title, self.source or "", self.published.isoformat() if self.published else "",
                 self.url or "", self.body]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article: `article.body[start:end] == text`."""

    text: str
    paragraph: int
    start: int
    end: int
