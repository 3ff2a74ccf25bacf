"""Feeds the feed tests serve from tests/web_server.py: RSS 2.0, RSS 1.0 (RDF) and Atom written from a list of
entries, and a route that answers a conditional GET with 304 as a polite server does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler

from tests.web_server import Route, send


@dataclass(frozen=True)
class Item:
    title: str
    link: str | None
    published: datetime | None = None
    guid: str | None = None


def rss20(items: Sequence[Item], title: str = "Example News") -> bytes:
    def item(entry: Item) -> str:
        parts = [f"<title>{escape(entry.title)}</title>"]
        parts += [f"<link>{escape(entry.link)}</link>"] if entry.link else []
        parts += [f"<guid isPermaLink='false'>{escape(entry.guid)}</guid>"] if entry.guid else []
        parts += [f"<pubDate>{format_datetime(entry.published)}</pubDate>"] if entry.published else []
        return f"<item>{''.join(parts)}</item>"

    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{escape(title)}</title>"
            f"<link>http://example.com/</link>{''.join(item(e) for e in items)}</channel></rss>").encode()


def rss10(items: Sequence[Item], title: str = "Example News") -> bytes:
    def item(entry: Item) -> str:
        about = escape(entry.link or entry.guid or entry.title)
        date = f"<dc:date>{entry.published.isoformat()}</dc:date>" if entry.published else ""
        return f"<item rdf:about='{about}'><title>{escape(entry.title)}</title><link>{about}</link>{date}</item>"

    return ("<?xml version='1.0'?><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' "
            "xmlns='http://purl.org/rss/1.0/' xmlns:dc='http://purl.org/dc/elements/1.1/'>"
            f"<channel rdf:about='http://example.com/'><title>{escape(title)}</title></channel>"
            f"{''.join(item(e) for e in items)}</rdf:RDF>").encode()


def atom(items: Sequence[Item], title: str = "Example News") -> bytes:
    def entry(item: Item) -> str:
        parts = [f"<title>{escape(item.title)}</title>", f"<id>{escape(item.guid or item.link or item.title)}</id>"]
        parts += [f"<link rel='alternate' href='{escape(item.link)}'/>"] if item.link else []
        parts += [f"<updated>{item.published.isoformat()}</updated>"] if item.published else []
        return f"<entry>{''.join(parts)}</entry>"

    return ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>{escape(title)}</title><id>urn:example</id>{''.join(entry(i) for i in items)}</feed>").encode()


def conditional(body: Callable[[], bytes], content_type: str = "application/rss+xml", *, etag: str | None = None,
                last_modified: str | None = None) -> Route:
    """A feed route answering 304 when the request's If-None-Match / If-Modified-Since match; `body` is read at
    each request, so a test changes the feed by changing what it returns (and the validators with it)."""
    def respond(handler: BaseHTTPRequestHandler) -> None:
        headers = {name: value for name, value in (("ETag", etag), ("Last-Modified", last_modified)) if value}
        if (etag and handler.headers.get("If-None-Match") == etag) or \
                (last_modified and handler.headers.get("If-Modified-Since") == last_modified):
            send(304, content_type=None, headers=headers, length=False)(handler)
            return
        send(200, body(), content_type, headers=headers)(handler)
    return respond
