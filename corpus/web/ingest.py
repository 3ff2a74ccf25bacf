"""From a URL to a corpus article: fetch and extract one page, then store it once, whatever the way in.

The corpus folder is the only record of what the bot holds (the index is built from it), so the checks that
keep an article from being stored twice read it (`KnownArticles`, corpus/known.py: each article's canonical
URL and a hash of its body text, read once per batch and updated as the batch stores). A page is stored under
`web/<host>/<slug>-<hash of its canonical URL>.txt`, found again by its URL when it changes (an updated
story replaces its file, so the next build replaces it in the index). Every step that refuses raises
`PageRefused` with a one-line reason, before anything is written; a batch is stored and then indexed by one
build (`store_then_build`), which undoes the batch if the build fails, so nothing is ever half-stored.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from newsbot.corpus.article import Article
from newsbot.corpus.bot_files import WEB_FOLDER, bot_written, remove_empty_folders, write_atomically
from newsbot.corpus.known import KnownArticles, Stored, canonical_form
from newsbot.corpus.parse import ArticleFormatError, parse_article, split_paragraphs
from newsbot.corpus.sentences import article_sentences
from newsbot.corpus.web.extract import Extracted, NotAnArticleError, extract_article, to_header_text
from newsbot.corpus.web.fetch import FetchRefused, Page, fetch_page

log = logging.getLogger(__name__)
T = TypeVar("T")

SLUG_CHARS = 60
URL_HASH_CHARS = 8  # 4 billion values: two pages of a host clash only with the same slug, and ~77,000 of those
                    # would give even odds of one clash


class PageRefused(Exception):
    """A URL that gives no article to store; the message is one line: the URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")

    def __reduce__(self) -> tuple[type[PageRefused], tuple[str, str]]:
        """Rebuilt from its URL and reason when it comes back from the bot's harvest worker process."""
        return PageRefused, (self.url, self.reason)


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
    except Exception as error:  # the extractor's parsers on a hostile page: that page fails, not the batch
        log.info("extracting %s failed", url, exc_info=True)
        raise PageRefused(url, f"the page could not be read ({type(error).__name__})") from None
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
    if held is not None and not bot_written(held):
        return Stored(extracted.url, held, known.titles[held], "duplicate", same_as=held)
    article_id = held or new_article_id(extracted)
    article = parsed_article(extracted, article_id)
    same = known.same_text(article)
    if same is not None and held is None:
        return Stored(extracted.url, same, known.titles[same], "duplicate", same_as=same)
    path = corpus_dir / article_id
    previous = _read_text(path)
    if previous == text:
        return Stored(extracted.url, article_id, article.title, "unchanged")
    if same is not None:  # the page changed into the text of another article
        return Stored(extracted.url, same, known.titles[same], "duplicate", same_as=same)
    write_atomically(path, text)
    known.remember(article)
    return Stored(extracted.url, article_id, article.title, "updated" if previous is not None else "added",
                  previous=previous)


def fetch_all(urls: Sequence[str], *, allow_private: bool | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[Extracted | PageRefused]:
    """Fetch and extract each URL in order (blocking: run it off an event loop); a refusal takes its place.
    `progress(done, total)` is called after each URL."""
    fetched: list[Extracted | PageRefused] = []
    for url in urls:
        try:
            fetched.append(fetch_article(url, allow_private=allow_private))
        except PageRefused as refused:
            fetched.append(refused)
        if progress:
            progress(len(fetched), len(urls))
    return fetched


def store_batch(corpus_dir: Path, fetched: Iterable[Extracted | PageRefused],
                leave_out: Callable[[Article], str | None] | None = None) -> list[Stored | PageRefused]:
    """Store each fetched article once (`store_article`), the corpus read once for the batch; a refusal stays
    one. `leave_out` refuses an article the index would leave out (the age limit, corpus/retention.py).
    If storing fails part way (a full disk), what the batch stored is undone before the error goes on."""
    known = KnownArticles.read(corpus_dir)
    outcomes: list[Stored | PageRefused] = []
    try:
        for item in fetched:
            outcomes.append(item if isinstance(item, PageRefused) else _store_one(corpus_dir, item, known, leave_out))
    except BaseException:
        undo(corpus_dir, changed(outcomes))
        raise
    return outcomes


def store_then_build(corpus_dir: Path, fetched: Iterable[Extracted | PageRefused], build: Callable[[], T],
                     leave_out: Callable[[Article], str | None] | None = None
                     ) -> tuple[list[Stored | PageRefused], T | None]:
    """Store the batch (`store_batch`), then index it with one `build()` if anything was written (None if
    not); if the build fails, the batch is undone before the error goes on, so nothing is half-stored."""
    outcomes = store_batch(corpus_dir, fetched, leave_out)
    written = changed(outcomes)
    if not written:
        return outcomes, None
    try:
        return outcomes, build()
    except BaseException:
        undo(corpus_dir, written)
        raise


def changed(outcomes: Iterable[Stored | PageRefused]) -> list[Stored]:
    """The outcomes that wrote a file, which the next build must index (and a failed one undo)."""
    return [o for o in outcomes if isinstance(o, Stored) and o.status in ("added", "updated")]


def undo(corpus_dir: Path, stored: Iterable[Stored]) -> None:
    """Put the corpus back as it was before `stored` (a failed build): remove what was added, restore what
    was updated."""
    for outcome in stored:
        path = Path(corpus_dir) / outcome.path
        if outcome.status == "added":
            path.unlink(missing_ok=True)
            remove_empty_folders(path.parent, Path(corpus_dir))
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


def _store_one(corpus_dir: Path, extracted: Extracted, known: KnownArticles,
               leave_out: Callable[[Article], str | None] | None) -> Stored | PageRefused:
    try:
        reason = leave_out(parsed_article(extracted)) if leave_out else None
        return PageRefused(extracted.url, reason) if reason else store_article(corpus_dir, extracted, known)
    except PageRefused as refused:
        return refused


def _plain_article(page: Page) -> Extracted:
    """A text/plain page as it is: its first non-empty line is the title, the rest the body."""
    title, _, rest = page.text.strip().partition("\n")
    paragraphs = tuple(split_paragraphs(rest))
    if not title.strip() or not paragraphs:
        raise NotAnArticleError("the text has no body under its first line (the title)")
    return Extracted(url=page.url, canonical_url=page.url, title=" ".join(title.split()), paragraphs=paragraphs)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
