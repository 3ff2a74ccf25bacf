"""From a URL to a corpus article: fetch and extract one page, then store it once, whatever the way in.

The corpus folder is the only record of what the bot holds (the index is built from it), so the checks that
keep an article from being stored twice read it: `KnownArticles` holds each article's canonical URL and a
hash of its body text, read once per batch and updated as the batch stores. A page is stored under
`web/<host>/<slug>-<hash of its canonical URL>.txt`, found again by its URL when it changes (an updated
story replaces its file, so the next build replaces it in the index). Every step that refuses raises
`PageRefused` with a one-line reason, before anything is written; a build that fails after storing
undoes the batch (`undo`), so nothing is ever half-stored.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from newsbot.corpus.article import Article
from newsbot.corpus.load import read_corpus
from newsbot.corpus.parse import ArticleFormatError, parse_article, split_paragraphs
from newsbot.corpus.sentences import article_sentences
from newsbot.corpus.web.extract import Extracted, NotAnArticleError, extract_article, to_header_text
from newsbot.corpus.web.fetch import FetchRefused, Page, fetch_page

WEB_FOLDER = "web"
ADDED_FOLDER = "added"  # where /add's pasted texts and uploads go (bot/service.py)
BOT_FOLDERS = (WEB_FOLDER, ADDED_FOLDER)  # the folders whose files the bot wrote, and may replace or delete
SLUG_CHARS = 60
URL_HASH_CHARS = 8  # 4 billion values: a host would need ~65,000 pages of one slug for a 50% chance of a clash

Status = Literal["added", "updated", "unchanged", "duplicate"]


class PageRefused(Exception):
    """A URL that gives no article to store; the message is one line: the URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


@dataclass(frozen=True)
class Stored:
    """What storing one article did. `path` is its corpus-relative id; `same_as`, for a duplicate, the id of
    the article it duplicates. `previous` is an updated file's former text, kept to undo the update."""

    url: str
    path: str
    title: str
    status: Status
    same_as: str | None = None
    previous: str | None = field(default=None, repr=False, compare=False)


@dataclass
class KnownArticles:
    """What the corpus already holds: article ids by canonical URL and by body hash, and their titles."""

    by_url: dict[str, str] = field(default_factory=dict)
    by_body: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)

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
        self.by_body.setdefault(body_hash(article), article.id)
        self.titles[article.id] = article.title

    def same_text(self, article: Article) -> str | None:
        """The id of another article with the same body text, if one is held."""
        same = self.by_body.get(body_hash(article))
        return same if same != article.id else None


def fetch_article(url: str, *, allow_private: bool | None = None) -> Extracted:
    """Fetch `url` and extract its article; PageRefused (nothing stored) when it gives none.

    A plain-text page is stored as it is, titled by its first line. The article's `url` is the one asked
    for; its canonical URL is the page's own (<link rel=canonical>, og:url), else where redirects ended.
    """
    try:
        page = fetch_page(url, allow_private=allow_private)
    except FetchRefused as refused:
        raise PageRefused(url, refused.reason) from None
    try:
        extracted = _plain_article(page) if page.kind == "plain" else extract_article(page.text, page.url)
    except NotAnArticleError as refused:
        raise PageRefused(url, str(refused)) from None
    extracted = replace(extracted, url=url)
    parsed_article(extracted)  # refuse now what could not be stored
    return extracted


def store_article(corpus_dir: Path, extracted: Extracted, known: KnownArticles) -> Stored:
    """Store the article once: "added" as a new file, "updated" over the file of the same canonical URL when
    its text changed, "unchanged" when it did not, "duplicate" (nothing written) when the same body text is
    already held under another name, or the URL by a file the bot did not write. `known` is updated."""
    corpus_dir = Path(corpus_dir)
    text = to_header_text(extracted)
    canonical = canonical_form(extracted.canonical_url)
    held = known.by_url.get(canonical)
    if held is not None and not _bot_written(held):
        return Stored(extracted.url, held, known.titles[held], "duplicate", same_as=held)
    article_id = held or new_article_id(extracted)
    article = parsed_article(extracted, article_id)
    same = known.same_text(article)
    if same is not None and held is None:
        return Stored(extracted.url, article_id, article.title, "duplicate", same_as=same)
    path = corpus_dir / article_id
    previous = _read_text(path)
    if previous == text:
        return Stored(extracted.url, article_id, article.title, "unchanged")
    if same is not None:  # the page changed into the text of another article
        return Stored(extracted.url, article_id, article.title, "duplicate", same_as=same)
    write_atomically(path, text)
    known.remember(article)
    return Stored(extracted.url, article_id, article.title, "updated" if previous is not None else "added",
                  previous=previous)


def undo(corpus_dir: Path, stored: Iterable[Stored]) -> None:
    """Put the corpus back as it was before `stored` (a failed build): remove what was added, restore what
    was updated."""
    for outcome in stored:
        path = Path(corpus_dir) / outcome.path
        if outcome.status == "added":
            path.unlink(missing_ok=True)
            _remove_empty_folders(path.parent, Path(corpus_dir))
        elif outcome.status == "updated" and outcome.previous is not None:
            write_atomically(path, outcome.previous)


def parsed_article(extracted: Extracted, article_id: str = "new") -> Article:
    """The article as the corpus will read it back from its stored text; PageRefused when it is unusable."""
    try:
        article = parse_article(article_id, to_header_text(extracted))
    except ArticleFormatError as problem:
        raise PageRefused(extracted.url, str(problem)) from None
    if not article_sentences(article):
        raise PageRefused(extracted.url, "the article has no sentences that could be indexed")
    return article


def new_article_id(extracted: Extracted) -> str:
    """`web/<host>/<slug of the title>-<hash of the canonical URL>.txt`: the URL decides the file."""
    canonical = canonical_form(extracted.canonical_url)
    host = re.sub(r"[^a-z0-9.-]+", "-", (urlsplit(canonical).hostname or "").lower()).strip(".-") or "unknown-host"
    slug = re.sub(r"[^a-z0-9]+", "-", extracted.title.lower()).strip("-")[:SLUG_CHARS].strip("-") or "article"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:URL_HASH_CHARS]
    return f"{WEB_FOLDER}/{host}/{slug}-{digest}.txt"


def canonical_form(url: str) -> str:
    """The URL as compared: scheme and host in lower case, no fragment (the same page, another anchor)."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def body_hash(article: Article) -> str:
    """The same text whatever its spacing, line wrapping or letter case."""
    return hashlib.sha256(" ".join(article.body.split()).casefold().encode("utf-8")).hexdigest()


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target under a dot-name (which the corpus reader skips), then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _plain_article(page: Page) -> Extracted:
    """A text/plain page as it is: its first non-empty line is the title, the rest the body."""
    title, _, rest = page.text.strip().partition("\n")
    paragraphs = tuple(split_paragraphs(rest))
    if not title.strip() or not paragraphs:
        raise NotAnArticleError("the text has no body under its first line (the title)")
    return Extracted(url=page.url, canonical_url=page.url, title=" ".join(title.split()), paragraphs=paragraphs)


def _bot_written(article_id: str) -> bool:
    return article_id.split("/", 1)[0] in BOT_FOLDERS and "#" not in article_id


def _remove_empty_folders(folder: Path, corpus_dir: Path) -> None:
    """Remove `folder` and its parents up to (not including) the corpus folder while they are empty."""
    while folder != corpus_dir and corpus_dir in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): leave it
            return
        folder = folder.parent


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
