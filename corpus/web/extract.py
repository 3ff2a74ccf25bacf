"""An article's text and metadata from a web page's HTML, already fetched (no network here).

trafilatura does the extraction: it is maintained and scored best on body F1 among the extractors
compared on the public ScrapingHub article-extraction benchmark and on our own fixtures
(benchmarks/research/extraction.py, docs/QUALITY.md). What is ours: refusing pages that hold no
article (an index of links, a login wall, an empty page) with a one-line reason, and the two forms an
extracted article leaves in: the `--dry-run --json` object and the corpus's header-format text.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

# Importing trafilatura's stack (urllib3, courlan, htmldate) adds process-wide warning filters (two of them
# silence urllib3's insecure-request warnings); importing newsbot must change nothing global
# (tests/test_import_side_effects.py), so the filters are restored once the import is done.
with warnings.catch_warnings():
    import trafilatura

# A page is an article when its body holds at least this much prose: paragraphs of at least
# PROSE_WORDS words, MIN_PROSE_WORDS words in all. An index page's link titles and a login form's
# labels are short lines; the shortest news brief is a few sentences.
PROSE_WORDS = 10
MIN_PROSE_WORDS = 40
# htmldate's extensive search also reads dates written in the page's text ("Published 5 May 2019");
# original_date prefers the publication date over a later modification date.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and CJK ideographs
_WORDS = re.compile(f"[{_UNSPACED}]|[^\\W{_UNSPACED}]+")
_DATE_PARAMS = {"extensive_search": True, "original_date": True}


class NotAnArticleError(ValueError):
    """The page holds no article text; the message is one line saying why, for the admin."""


@dataclass(frozen=True)
class Extracted:
    """What a web page's article is made of: metadata for citing it and its body's paragraphs."""

    url: str
    canonical_url: str
    title: str
    paragraphs: tuple[str, ...]
    source: str | None = None
    published: date | None = None
    author: str | None = None


def extract_article(html: str, url: str) -> Extracted:
    """Extract the article of one page; raise NotAnArticleError when it holds none."""
    if not html.strip():
        raise NotAnArticleError("the page is empty")
    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=True,
        date_extraction_params=_DATE_PARAMS,
    )
    if document is None or not (document.text or "").strip():
        raise NotAnArticleError("no article text was found on the page")
    title = _one_line(document.title)
    paragraphs = _paragraphs(document.text, title)
    prose_words = sum(count for count in map(_word_count, paragraphs) if count >= PROSE_WORDS)
    if prose_words < MIN_PROSE_WORDS:
        raise NotAnArticleError(f"the page has no article text (only {prose_words} words of prose: "
                                "an index of links, a login wall or a stub?)")
    return Extracted(
        url=url,
        canonical_url=document.url or url,
        title=title or _title_from(url, paragraphs),
        paragraphs=paragraphs,
        source=_one_line(document.sitename) or None,
        published=_iso_date(document.date),
        author=_one_line(document.author) or None,
    )


def to_dry_run(extracted: Extracted) -> dict[str, Any]:
    """The `newsbot add URL --dry-run --json` object: what would be stored."""
    return {
        "url": extracted.url,
        "canonical_url": extracted.canonical_url,
        "title": extracted.title,
        "source": extracted.source,
        "published": extracted.published.isoformat() if extracted.published else None,
        "body": "\n\n".join(extracted.paragraphs),
    }


def to_header_text(extracted: Extracted) -> str:
    """The corpus's header format (corpus/parse.py reads it back): key lines, a blank line, the paragraphs."""
    header = [f"title: {extracted.title}"]
    if extracted.source:
        header.append(f"source: {extracted.source}")
    if extracted.published:
        header.append(f"date: {extracted.published.isoformat()}")
    header.append(f"url: {extracted.canonical_url}")
    if extracted.author:
        header.append(f"author: {extracted.author}")  # kept in the file; the parser ignores unknown keys
    return "\n".join(header) + "\n\n" + "\n\n".join(extracted.paragraphs) + "\n"


def _paragraphs(text: str, title: str) -> tuple[str, ...]:
    """trafilatura puts one paragraph a line; the headline it repeats at the top is the title, not body."""
    lines = [_one_line(line) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if lines and lines[0] == title:
        lines = lines[1:]
    return tuple(lines)


def _word_count(text: str) -> int:
    """Words as a reader counts them: runs of letters and digits, and each character of the scripts written
    without spaces (Chinese, Japanese), whose one character is about a word; splitting at spaces would
    find a whole Japanese article to be a few words long."""
    return len(_WORDS.findall(text))


def _title_from(url: str, paragraphs: tuple[str, ...]) -> str:
    """A title for a page that names none: its address's last words ("/2024/05/floods-hit-north.html"
    reads "Floods hit north"), else the body's first words. An article without a headline is still one."""
    slug = re.sub(r"\.\w{2,5}$", "", urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    words = [w for w in re.split(r"[-_+\s]+", slug) if w and not w.isdigit()]
    if len(words) >= 2:
        return " ".join(words).capitalize()
    first = paragraphs[0].split()
    return " ".join(first[:12]) + (" …" if len(first) > 12 else "")


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


def _iso_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
