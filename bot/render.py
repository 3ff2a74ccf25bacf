"""Telegram messages from replies: HTML with every dynamic piece escaped, and a plain-text twin.

A reply is built as blocks (paragraphs) of styled spans; bot.texts writes them. It is split into
messages *before* markup is applied, by the length Telegram counts (UTF-16 code units of the
visible text, at most 4096), at paragraph boundaries first, then line, sentence, then word boundaries.
Each message has an HTML form and a plain-text form, for when Telegram rejects the HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

MAX_MESSAGE_UTF16 = 4096
BLOCK_SEPARATOR = "\n\n"
_STYLES = {"": ("", ""), "b": ("<b>", "</b>"), "i": ("<i>", "</i>")}
_SENTENCE_ENDS = re.compile(r"(?<=\n)|(?<=[.!?…][\"'”’)\]]\s)|(?<=[.!?…]\s)")
_WORD_ENDS = re.compile(r"(?<=\s)")


@dataclass(frozen=True)
class Span:
    """A run of text with one style ("", "b" or "i"), or a link when `url` is set."""

    text: str
    style: str = ""
    url: str | None = None

    @property
    def plain(self) -> str:
        return self.url if self.url else self.text

    @property
    def html(self) -> str:
        if self.url:
            return f'<a href="{html.escape(self.url, quote=True)}">{html.escape(self.text, quote=False)}</a>'
        opening, closing = _STYLES[self.style]
        return f"{opening}{html.escape(self.text, quote=False)}{closing}"


Block = tuple[Span, ...]


@dataclass(frozen=True)
class Chunk:
    """One Telegram message: the HTML to send, and the plain text to send if the HTML is rejected."""

    html: str
    plain: str


def utf16_len(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def render(blocks: Sequence[Block], limit: int = MAX_MESSAGE_UTF16) -> list[Chunk]:
    """Pack blocks into as few messages as fit `limit` (measured on the longer, plain form)."""
    messages: list[list[Block]] = []
    size = 0
    for piece in (p for block in blocks for p in _fit(block, limit)):
        if not "".join(s.plain for s in piece).strip():
            continue  # Telegram trims whitespace; an empty piece would only add blank lines
        length = _length(piece)
        if not messages or size + len(BLOCK_SEPARATOR) + length > limit:
            messages.append([piece])
            size = length
        else:
            messages[-1].append(piece)
            size += len(BLOCK_SEPARATOR) + length
    return [Chunk(html=BLOCK_SEPARATOR.join("".join(s.html for s in b) for b in m).strip(),
                  plain=BLOCK_SEPARATOR.join("".join(s.plain for s in b) for b in m).strip())
            for m in messages]


def text_blocks(*paragraphs: str) -> list[Block]:
    """Plain paragraphs (e.g. status messages) as blocks."""
    return [(Span(p),) for p in paragraphs]


def _length(block: Block) -> int:
    return utf16_len("".join(s.plain for s in block))


def _fit(block: Block, limit: int) -> list[Block]:
    """The block as is if it fits, else cut into consecutive blocks that each fit: between its lines
    where they fit (a numbered sentence keeps its number), else within a line (`_units`)."""
    if _length(block) <= limit:
        return [block]
    pieces: list[Block] = []
    current: list[Span] = []
    size = 0
    for line in _lines(block):
        for unit in [line] if _length(line) <= limit else [(u,) for u in _units(line, limit)]:
            length = _length(unit)
            if current and size + length > limit:
                pieces.append(tuple(current))
                current, size = [], 0
            current += unit
            size += length
    if current:
        pieces.append(tuple(current))
    return pieces


def _lines(block: Block) -> list[Block]:
    """The block's spans in lines: each line ends with the span that ends it with a newline."""
    lines: list[list[Span]] = [[]]
    for span in block:
        lines[-1].append(span)
        if span.text.endswith("\n") and not span.url:
            lines.append([])
    return [tuple(line) for line in lines if line]


def _units(block: Block, limit: int) -> Iterable[Span]:
    """The block's spans cut at sentence ends, then word ends, then anywhere, each unit within `limit`."""
    for span in block:
        if utf16_len(span.plain) <= limit:
            yield span
            continue
        if span.url:  # a link too long to keep whole is shown as its text
            span = Span(span.url, span.style)
        for sentence in _split(_SENTENCE_ENDS, span.text):
            for word in _split(_WORD_ENDS, sentence) if utf16_len(sentence) > limit else [sentence]:
                for part in _hard_cut(word, limit):
                    yield replace(span, text=part)


def _split(pattern: re.Pattern[str], text: str) -> list[str]:
    return [part for part in pattern.split(text) if part]


def _hard_cut(text: str, limit: int) -> Iterable[str]:
    """Cut between code points (never inside a surrogate pair) into parts of at most `limit` units."""
    start, size = 0, 0
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if size + width > limit:
            yield text[start:index]
            start, size = index, 0
        size += width
    if start < len(text):
        yield text[start:]
