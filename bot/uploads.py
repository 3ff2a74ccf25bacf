"""The article an admin sends with /add: a .txt upload, the text after the command, or the message
that /add replies to; or links to web pages. An upload is checked before it is read (name, size, UTF-8),
so that a wrong file is refused with its reason and nothing is stored."""

from __future__ import annotations

import re

from telegram import Document, Message

from newsbot.bot.service import ArticleRejected

MAX_UPLOAD_BYTES = 1_000_000
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)


def links_only(text: str) -> list[str] | None:
    """The links, in order, when the text is nothing but one or more http(s) links; else None (an article)."""
    words = text.split()
    return words if words and all(_LINK.fullmatch(word) for word in words) else None


async def article_sent(message: Message) -> tuple[str, str | None] | None:
    """The article text and, for an upload, its file name; None when the message holds no article.
    ArticleRejected for an upload that is not a UTF-8 .txt file of at most MAX_UPLOAD_BYTES."""
    for source in (message, message.reply_to_message):
        if source is None:
            continue
        if source.document is not None:
            return await _download_text(source.document), source.document.file_name
        body = source.text or ""
        if source is message:
            body = body.split(maxsplit=1)[1] if len(body.split(maxsplit=1)) > 1 else ""
        if body.strip():
            return body, None
    return None


async def _download_text(document: Document) -> str:
    if not (document.file_name or "").lower().endswith(".txt"):
        raise ArticleRejected("only .txt files can be added")
    if document.file_size and document.file_size > MAX_UPLOAD_BYTES:
        raise ArticleRejected(f"it is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
    data = await (await document.get_file()).download_as_bytearray()
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArticleRejected("it is not UTF-8 text") from None
