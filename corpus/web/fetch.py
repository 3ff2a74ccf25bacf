"""Fetch one web page for `newsbot add URL` (or a feed), refusing what an admin's link must not reach or the bot
cannot use.

An admin's link is untrusted: it must not reach the bot's own network (loopback, private, link-local addresses,
checked on every redirect hop; each hop then connects to the very address checked, with the name as Host header
and TLS server name, so a DNS answer that changes between the check and the connection, DNS rebinding, cannot
reach an unchecked address), must not fill memory (a byte cap on the decoded body, refused rather than truncated,
so a gzip bomb stops too), and must not hang the caller (connect/read timeouts and an overall deadline, so a
server trickling bytes cannot hold it). Every failure is one `FetchRefused` with a one-line reason, so the CLI
and the bot can show it as is. The call is synchronous: callers run it off the event loop.

A feed is polled again and again, so `fetch_feed` makes a conditional GET (the validators the last answer gave,
ETag and Last-Modified) and takes a 304 as `NotModified`: an unchanged feed costs its server one short answer.
"""

from __future__ import annotations

import codecs
import ipaddress
import os
import re
import socket
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx

ALLOW_PRIVATE_ENV = "NEWSBOT_ALLOW_PRIVATE_URLS"
MAX_BYTES = 5 * 1024 * 1024  # far above a news article's HTML (typically 50-500 kB), far below memory trouble
MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 10.0
ALLOWED_SCHEMES = ("http", "https")
HTML_TYPES = ("text/html", "application/xhtml+xml")
PLAIN_TYPES = ("text/plain",)
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")
META_SNIFF_BYTES = 4096  # where HTML puts its <meta charset> (the HTML standard looks in the first 1024)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
NOT_MODIFIED = 304
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)

Kind = Literal["html", "plain", "feed"]
_TYPES: dict[Kind, tuple[str, ...]] = {"html": HTML_TYPES, "plain": PLAIN_TYPES, "feed": FEED_TYPES}
PAGE_KINDS: tuple[Kind, ...] = ("html", "plain")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchRefused(Exception):
    """A page that was not fetched, or fetched and refused; the message is one line: the URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


@dataclass(frozen=True)
class Page:
    """One fetched page: where it ended up (after redirects), what it is, and its body as bytes and as text."""

    url: str
    status: int
    content_type: str
    kind: Kind
    charset: str
    text: str
    raw: bytes
    etag: str | None = None  # the validators a conditional GET sends next time (`fetch_feed`)
    last_modified: str | None = None


@dataclass(frozen=True)
class Validators:
    """What the server said identifies the version it sent: echoed as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        return {name: value for name, value in (("If-None-Match", self.etag),
                                                ("If-Modified-Since", self.last_modified)) if value}


@dataclass(frozen=True)
class NotModified:
    """A 304 to a conditional GET: the feed is as it was when the validators were given."""

    url: str
    validators: Validators


def fetch_page(url: str, *, allow_private: bool | None = None, timeout: float = TIMEOUT_SECONDS,
               max_bytes: int = MAX_BYTES, max_redirects: int = MAX_REDIRECTS) -> Page:
    """Fetch `url`, following at most `max_redirects` redirects, each target checked like the first URL."""
    fetched = _fetch(url, allow_private, timeout, max_bytes, max_redirects, PAGE_KINDS, None)
    assert isinstance(fetched, Page)  # no validators were sent, so no 304 is taken as "not modified"
    return fetched


def fetch_feed(url: str, validators: Validators | None = None, *, allow_private: bool | None = None,
               timeout: float = TIMEOUT_SECONDS, max_bytes: int = MAX_BYTES,
               max_redirects: int = MAX_REDIRECTS) -> Page | NotModified:
    """Fetch a feed (RSS, Atom or RDF media types only) with the same limits as a page; with `validators`,
    a conditional GET whose 304 is `NotModified` rather than a refusal."""
    return _fetch(url, allow_private, timeout, max_bytes, max_redirects, ("feed",), validators)


def _fetch(url: str, allow_private: bool | None, timeout: float, max_bytes: int, max_redirects: int,
           kinds: tuple[Kind, ...], validators: Validators | None) -> Page | NotModified:
    if allow_private is None:
        allow_private = os.environ.get(ALLOW_PRIVATE_ENV, "").strip() == "1"
    try:
        return _follow(url, allow_private, timeout, max_bytes, max_redirects, kinds, validators)
    except FetchRefused as refused:
        if refused.url == url:
            raise
        raise FetchRefused(url, f"redirected to {refused.url}: {refused.reason}") from None


def _follow(url: str, allow_private: bool, timeout: float, max_bytes: int, max_redirects: int,
            kinds: tuple[Kind, ...], validators: Validators | None) -> Page | NotModified:
    """The redirect loop; a refusal names the hop it happened on (`fetch_page` then names the URL asked for)."""
    deadline = time.monotonic() + timeout
    current = url
    headers = {"Accept": ", ".join(t for kind in kinds for t in _TYPES[kind]), **(validators or Validators()).headers()}
    # No kept-alive connection: one made for a hop's name and address must not serve the next hop's name.
    with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False,
                      limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for _ in range(max_redirects + 1):
            addresses = check_url(current, allow_private=allow_private)
            try:
                with closing(_send_pinned(client, current, addresses, headers)) as response:
                    if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                        current = urljoin(current, response.headers["location"])
                        continue
                    if response.status_code == NOT_MODIFIED and validators is not None:
                        return NotModified(current, _validators(response, validators))
                    return _read_page(current, response, max_bytes, deadline, kinds)
            except httpx.InvalidURL:
                raise FetchRefused(current, "not a valid URL") from None
            except httpx.TimeoutException:
                raise FetchRefused(current, f"no answer within {timeout:g} s") from None
            except httpx.HTTPError as error:
                raise FetchRefused(current, _failure(error)) from None
    raise FetchRefused(url, f"more than {max_redirects} redirects")


def _failure(error: httpx.HTTPError) -> str:
    """What went wrong, in words an admin can act on (never the library's class name)."""
    for kind, words in ((httpx.ConnectError, "could not connect to the server"),
                        (httpx.RemoteProtocolError, "the server broke off or sent a malformed response"),
                        (httpx.DecodingError, "the server's compressed response could not be decoded"),
                        (httpx.NetworkError, "the connection failed while reading the page")):
        if isinstance(error, kind):
            return words
    return "could not fetch the page"


def _send_pinned(client: httpx.Client, url: str, addresses: list[Address],
                 headers: dict[str, str]) -> httpx.Response:
    """GET `url` (streamed) from the first of the checked `addresses` that accepts a connection, in the
    resolver's order as a connection by name would try them, and never from an address resolved again.

    An address that refuses or stays silent gives way to the next; each but the last may take only its share
    of the timeout to connect, so one dead address (an unreachable IPv6 route) cannot use it all up."""
    def send(address: Address, timeout: httpx.Timeout) -> httpx.Response:
        pinned = pin(url, address)
        return client.send(client.build_request("GET", pinned.url, headers={**headers, "Host": pinned.host_header},
                                                extensions=pinned.extensions, timeout=timeout), stream=True)
    whole = client.timeout
    share = httpx.Timeout(whole.read, connect=whole.connect / len(addresses) if whole.connect else None)
    for address in addresses[:-1]:
        try:
            return send(address, share)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            continue
    return send(addresses[-1], whole)


@dataclass(frozen=True)
class Pinned:
    """A request for a URL sent to one checked address: the URL with the address for its host, the name as the
    Host header and, for https, as the TLS server name (SNI, and the name the certificate is verified against)."""

    url: httpx.URL
    host_header: str
    extensions: dict[str, str]


def pin(url: str, address: Address) -> Pinned:
    """How to request `url` from `address` so that the server, and TLS, still see the URL's own host name."""
    named = httpx.URL(url)
    server_name = named.raw_host.decode("ascii")
    return Pinned(url=named.copy_with(host=str(address)), host_header=named.netloc.decode("ascii"),
                  extensions={"sni_hostname": server_name} if named.scheme == "https" else {})


def check_url(url: str, *, allow_private: bool) -> list[Address]:
    """The addresses `url`'s host resolves to, the only ones to connect to; refuse a scheme other than
    http/https and, unless allowed, a host with any non-public address among them."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchRefused(url, f"scheme {parts.scheme or '(none)'!r} is not http or https")
    host = parts.hostname
    if not host:
        raise FetchRefused(url, "no host name")
    try:
        addresses = list(dict.fromkeys(resolve_host(host)))
    except (OSError, UnicodeError):
        raise FetchRefused(url, f"host {host!r} does not resolve") from None
    if not addresses:
        raise FetchRefused(url, f"host {host!r} does not resolve")
    refusals = [] if allow_private else [(address, address_refusal(address)) for address in addresses]
    for address, refusal in refusals:
        if refusal:
            raise FetchRefused(url, f"host {host!r} resolves to {refusal} address {address} "
                                    f"(set {ALLOW_PRIVATE_ENV}=1 to allow)")
    return addresses


def _system_resolve(host: str) -> list[Address]:
    """Every address the system resolver gives for `host` (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


# A seam for tests: a host name the test server stands in for can resolve to a public address.
resolve_host: Callable[[str], list[Address]] = _system_resolve


def address_refusal(address: Address) -> str | None:
    """Why `address` is off limits for an admin's link ("loopback", "private"...), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in ("loopback", "unspecified", "link_local", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-public"  # e.g. 100.64.0.0/10, carrier-grade NAT


def _validators(response: httpx.Response, sent: Validators | None = None) -> Validators:
    """The response's validators; a 304 may leave one out, which then stays as it was sent."""
    kept = sent or Validators()
    return Validators(response.headers.get("etag") or kept.etag,
                      response.headers.get("last-modified") or kept.last_modified)


def _read_page(url: str, response: httpx.Response, max_bytes: int, deadline: float,
               kinds: tuple[Kind, ...]) -> Page:
    if not 200 <= response.status_code < 300:
        raise FetchRefused(url, f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
    content_type, header_charset = parse_content_type(response.headers.get("content-type", ""))
    kind = page_kind(content_type)
    if kind not in kinds:
        wanted = "a feed (RSS or Atom)" if kinds == ("feed",) else "a web page or plain text"
        raise FetchRefused(url, f"content type {content_type or '(none)'!r} is not {wanted}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(url, f"larger than {max_bytes:,} bytes ({int(declared):,} declared)")
    raw = _read_capped(url, response, max_bytes, deadline)
    charset = choose_charset(raw, header_charset, kind)
    validators = _validators(response)
    return Page(url=url, status=response.status_code, content_type=content_type, kind=kind, charset=charset,
                text=raw.decode(charset, errors="replace"), raw=raw, etag=validators.etag,
                last_modified=validators.last_modified)


def _read_capped(url: str, response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    """The decoded (un-gzipped) body, refused as soon as it passes `max_bytes` or the deadline."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefused(url, f"larger than {max_bytes:,} bytes")
        if time.monotonic() > deadline:
            raise FetchRefused(url, "the page did not arrive in time")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_content_type(header: str) -> tuple[str, str | None]:
    """The media type (lower case) and the charset parameter, if any, of a Content-Type header."""
    media_type, *params = header.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip("\"'"):
            charset = value.strip().strip("\"'")
    return media_type.strip().lower(), charset


def page_kind(content_type: str) -> Kind | None:
    return next((kind for kind, types in _TYPES.items() if content_type in types), None)


def choose_charset(raw: bytes, header_charset: str | None, kind: Kind) -> str:
    """The header's charset, else (HTML) the <meta> one, else UTF-8; an unknown name counts as none."""
    candidates = [header_charset]
    if kind == "html":
        match = _META_CHARSET.search(raw[:META_SNIFF_BYTES])
        candidates.append(match.group(1).decode("ascii") if match else None)
    for name in candidates:
        if name:
            try:
                return codecs.lookup(name).name
            except LookupError:
                continue
    return "utf-8"
