"""Turn an article file's text into an Article. Pure functions: no file access here.

Three layouts are understood, tried in this order:

1. The header format for new articles: `key: value` lines (title, source, date, url), a blank
   line, then the body with paragraphs separated by blank lines.
2. The news-site layout of the bundled sample: headline, a `SOURCE , Weekday DD Mon YYYY`
   dateline, lede, photo caption ending in `(Photo:...)`, body, `Short link:` boilerplate.
3. Anything else: the first non-empty line is the title and the rest is the body.
"""

from __future__ import annotations

import re
from datetime import date

from newsbot.corpus.article import Article

HEADER_KEYS = ("title", "source", "date", "url")
_HEADER_LINE = re.compile(r"^(?P<key>[A-Za-z]+)\s*:\s*(?P<value>.*?)\s*$")
_DATELINE = re.compile(
    r"^(?P<source>[^,\n]{1,80}?)\s*,\s*"
    r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\s+"
    r"(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]{3,9})\.?\s+(?P<year>\d{4})\s*$",
    re.IGNORECASE,
)
_CAPTION = re.compile(r"\(\s*Photo\s*:[^)]*\)\s*$", re.IGNORECASE)
_BOILERPLATE = re.compile(r"^(short link|related|read more|advertisement)\s*:", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}


# Past these an "article" is a book or a dump, and embedding it would stall every rebuild (a 3 MB file of
# a million one-word lines is a million paragraphs); a long news report has a few hundred of each.
MAX_LINES = 50_000
MAX_SENTENCE_MARKS = 50_000  # '.', '!' and '?': an upper bound on its sentences


class ArticleFormatError(ValueError):
    """The text cannot be read as an article; the message says why, for the file's report."""


def parse_article(article_id: str, text: str) -> Article:
    """Parse one article file's text, whatever its layout."""
    text = _normalise_newlines(text).lstrip("\ufeff")
    if not text.strip():
        raise ArticleFormatError("the file is empty")
    if "\x00" in text:
        raise ArticleFormatError("the file looks binary (it contains NUL bytes)")
    _check_length(text)
    blocks = _raw_blocks(text)
    fields = _header_fields(blocks[0])
    if fields is not None:
        return _make_article(
            article_id,
            title=fields["title"],
            paragraphs=_unwrap(blocks[1:]),
            source=fields.get("source") or None,
            published=parse_date(fields["date"]) if fields.get("date") else None,
            url=fields.get("url") or None,
        )
    title, _, first_rest = blocks[0].partition("\n")
    rest = _unwrap([first_rest, *blocks[1:]] if first_rest.strip() else blocks[1:])
    source, published = None, None
    if rest:
        match = _DATELINE.match(rest[0])
        if match:
            source = match.group("source").strip() or None
            published = _date_from_parts(match.group("year"), match.group("month"), match.group("day"))
            rest = rest[1:]
    return _make_article(article_id, title=title, paragraphs=rest, source=source, published=published)


def article_from_record(article_id: str, record: object) -> Article:
    """Build an Article from one JSON Lines record (bulk import).

    Fields: `title` (required), `body` or `text` (a string, paragraphs separated by blank
    lines) or `paragraphs` (a list of strings), and optional `source`, `date`/`published`, `url`.
    """
    if not isinstance(record, dict):
        raise ArticleFormatError("each line must be a JSON object")
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ArticleFormatError("the record has no 'title' string")
    paragraphs = record.get("paragraphs")
    if paragraphs is None:
        body = record.get("body", record.get("text"))
        if not isinstance(body, str):
            raise ArticleFormatError("the record needs a 'body', 'text' or 'paragraphs' field")
        _check_length(f"{title}\n\n{_normalise_newlines(body)}")
        paragraphs = split_paragraphs(body)
    elif not (isinstance(paragraphs, list) and all(isinstance(p, str) for p in paragraphs)):
        raise ArticleFormatError("'paragraphs' must be a list of strings")
    else:
        _check_length(_normalise_newlines("\n\n".join([title, *paragraphs])))
    published = record.get("published", record.get("date"))
    return _make_article(
        article_id,
        title=title,
        paragraphs=paragraphs,
        source=_optional_str(record.get("source"), "source"),
        published=parse_date(published) if published not in (None, "") else None,
        url=_optional_str(record.get("url"), "url"),
    )


def split_paragraphs(text: str) -> list[str]:
    """Split on blank lines and unwrap hard-wrapped lines; a text without blank lines is one paragraph a line."""
    return _unwrap(_raw_blocks(_normalise_newlines(text)))


def parse_date(value: object) -> date:
    """Accept ISO dates and datetimes (`2012-01-25`, `2012-01-25T10:00:00Z`) and `25 Jan 2012`."""
    if not isinstance(value, str) or not value.strip():
        raise ArticleFormatError(f"the date {value!r} is not a string")
    value = value.strip()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        pass
    match = re.fullmatch(r"(?:[A-Za-z]+,?\s+)?(\d{1,2})\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})", value)
    parsed = _date_from_parts(match.group(3), match.group(2), match.group(1)) if match else None
    if parsed is None:
        raise ArticleFormatError(f"the date {value[:40]!r} is not in YYYY-MM-DD form")
    return parsed


def _check_length(text: str) -> None:
    """The same bounds for a file and a JSON Lines record: past them it is a dump, not an article."""
    lines, marks = text.count("\n") + 1, sum(text.count(mark) for mark in ".!?")
    if lines > MAX_LINES or marks > MAX_SENTENCE_MARKS:
        raise ArticleFormatError(f"too long for one article ({lines:,} lines, {marks:,} sentence marks; at most "
                                 f"{MAX_LINES:,} of each): split it into several articles")


def _check_encodable(texts: list[str]) -> None:
    """JSON can spell half a character (an unpaired surrogate such as \\ud800), which no file, hash or
    database can store: refuse the record rather than fail the build."""
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ArticleFormatError(f"it holds an unpaired surrogate (\\u{ord(text[error.start]):04x}), "
                                     "which is not a character") from None


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _raw_blocks(text: str) -> list[str]:
    return [b.strip() for b in _BLANK_LINES.split(text) if b.strip()]


def _unwrap(blocks: list[str]) -> list[str]:
    if len(blocks) == 1:
        return [line.strip() for line in blocks[0].split("\n") if line.strip()]
    return [" ".join(line.strip() for line in b.split("\n") if line.strip()) for b in blocks]


def _header_fields(block: str) -> dict[str, str] | None:
    """The header's fields when every line of the first block is `key: value` and one is `title`."""
    fields: dict[str, str] = {}
    for line in block.split("\n"):
        match = _HEADER_LINE.match(line)
        if not match:
            return None
        key = match.group("key").lower()
        if key in HEADER_KEYS:
            fields[key] = match.group("value")
    return fields if "title" in fields else None


def _make_article(article_id: str, *, title: str, paragraphs: list[str], source: str | None,
                  published: date | None, url: str | None = None) -> Article:
    body = tuple(_clean_paragraphs(paragraphs))
    title = " ".join(title.split())
    if not title:
        raise ArticleFormatError("the article has no title")
    if not body:
        raise ArticleFormatError("the article has a title but no body text")
    _check_encodable([article_id, title, *body, source or "", url or ""])
    return Article(id=article_id, title=title, paragraphs=body, source=source, published=published, url=url)


def _clean_paragraphs(paragraphs: list[str]) -> list[str]:
    """Drop what is not an answer candidate: photo captions and everything from boilerplate on."""
    kept = []
    for paragraph in paragraphs:
        paragraph = " ".join(paragraph.split())
        if not paragraph or _CAPTION.search(paragraph):
            continue
        if _BOILERPLATE.match(paragraph):
            break
        kept.append(paragraph)
    return kept


def _date_from_parts(year: str, month: str, day: str) -> date | None:
    number = _MONTHS.get(month[:3].lower())
    try:
        return date(int(year), number, int(day)) if number else None
    except ValueError:
        return None


def _optional_str(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ArticleFormatError(f"'{name}' must be a string")
    return value.strip() or None
