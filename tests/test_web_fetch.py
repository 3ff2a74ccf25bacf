"""Fetching one page for `newsbot add URL`, against an HTTP server on 127.0.0.1 that the tests run.

No request leaves the machine: the server is local, and every connection goes through `network` (autouse), which
records each attempt and refuses any address other than 127.0.0.1 unless a test routes it to 127.0.0.1. Tests
whose hosts must look public fake the name resolution (`fetch.resolve_host`) and route the faked address here.
"""

from __future__ import annotations

import gzip
import ipaddress
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import certifi
import httpcore
import pytest

from newsbot.corpus.web import fetch
from newsbot.corpus.web.fetch import FetchRefused, address_refusal, fetch_page
from tests.web_server import LocalSite, Route, local_site, redirect, send

ARTICLE = "<html><head><title>Floods</title></head><body><p>More than 5,400 people died.</p></body></html>"
SLOW_SECONDS = 3.0
FAST_TIMEOUT = 0.5

def _slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(SLOW_SECONDS)
    send(200, ARTICLE.encode())(handler)


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    """Headers at once, then one byte every 0.2 s for 3 s: no single read waits long enough to time out."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    for _ in range(int(SLOW_SECONDS / 0.2)):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.2)


def redirect(location: str) -> Route:
    return send(302, content_type=None, headers={"Location": location})


def _routes() -> dict[str, Route]:
    latin = "<html><body><p>Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.</p></body></html>"
    meta_only = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
                 "</head><body><p>\u201cQuoted\u201d \u20ac5</p></body></html>")
    routes: dict[str, Route] = {
        "/article": send(200, ARTICLE.encode()),
        "/xhtml": send(200, ARTICLE.encode(), "application/xhtml+xml"),
        "/big": send(200, b"<p>" + b"x" * 5000 + b"</p>"),
        "/big-undeclared": send(200, b"<p>" + b"x" * 5000 + b"</p>", length=False),
        "/slow": _slow,
        "/trickle": _trickle,
        "/loop": redirect("/loop"),
        "/missing": send(404, b"not here"),
        "/broken": send(500, b"oops"),
        "/latin": send(200, latin.encode("iso-8859-1"), "text/html; charset=ISO-8859-1"),
        "/meta-charset": send(200, meta_only.encode("windows-1252"), "text/html"),
        "/no-charset": send(200, "<p>\u00e9</p>".encode() + b"\xff", "text/html"),
        "/gzip": send(200, gzip.compress(ARTICLE.encode()), headers={"Content-Encoding": "gzip"}),
        "/gzip-bomb": send(200, gzip.compress(b" " * 200_000), headers={"Content-Encoding": "gzip"}),
        "/pdf": send(200, b"%PDF-1.4 ...", "application/pdf"),
        "/json": send(200, b"{}", "application/json"),
        "/plain": send(200, "Plain words.\n".encode(), "text/plain; charset=utf-8"),
        "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-file": redirect("file:///etc/passwd"),
        "/hang-up": lambda handler: handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Le"),  # then closes
    }
    for hops in range(1, 8):  # /hops/N redirects N times, then serves the article
        routes[f"/hops/{hops}"] = redirect(f"/hops/{hops - 1}" if hops > 1 else "/article")
    return routes


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    """An HTTP server on 127.0.0.1 serving `_routes()`, recording the requests it receives."""
    with local_site(_routes()) as served:
        yield served


@pytest.fixture(scope="module")
def server(site: LocalSite) -> str:
    """The local site's base URL (http://127.0.0.1:PORT)."""
    return site.url


@dataclass
class Network:
    """Every TCP connection attempted (address, port), and the addresses a test lets stand for 127.0.0.1."""

    attempts: list[tuple[str, int]] = field(default_factory=list)
    routes: dict[str, str] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)  # addresses whose connection times out
    connect_timeouts: list[float | None] = field(default_factory=list)


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    """httpcore's connect layer, recording each attempt: 127.0.0.1 and the routed addresses reach the local site,
    any other address is refused as unreachable, so no test can leave the machine whatever it resolves."""
    seen = Network()
    connect = httpcore.SyncBackend.connect_tcp

    def connect_tcp(backend: httpcore.SyncBackend, host: str, port: int, **options: object) -> object:
        seen.attempts.append((host, port))
        seen.connect_timeouts.append(options.get("timeout"))  # type: ignore[arg-type]
        if host in seen.silent:
            raise httpcore.ConnectTimeout(f"{host} did not answer")
        target = seen.routes.get(host, host)
        if target != "127.0.0.1":
            raise httpcore.ConnectError(f"the tests' network has no route to {host}")
        return connect(backend, target, port, **options)  # type: ignore[arg-type]
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    return seen


def _resolve_as(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> list[str]:
    """Make `fetch` resolve these names only, to these addresses; returns the names it is asked, in order."""
    asked: list[str] = []

    def resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        asked.append(host)
        if host not in names:
            raise OSError(f"{host} is unknown to the test resolver")
        return [ipaddress.ip_address(address) for address in names[host]]
    monkeypatch.setattr(fetch, "resolve_host", resolve)
    return asked


def _refused(url: str, **kwargs: object) -> FetchRefused:
    kwargs.setdefault("allow_private", True)
    with pytest.raises(FetchRefused) as caught:
        fetch_page(url, timeout=kwargs.pop("timeout", 5.0), **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert caught.value.url == url and message.startswith(f"{url}: "), message
    assert "\n" not in message and "Traceback" not in message
    return caught.value


def test_an_html_page_is_fetched_with_its_final_url_status_type_and_text(server: str) -> None:
    page = fetch_page(f"{server}/article", allow_private=True)
    assert (page.url, page.status, page.content_type, page.kind) == (f"{server}/article", 200, "text/html", "html")
    assert page.text == ARTICLE and page.raw == ARTICLE.encode()


def test_xhtml_is_a_web_page_and_plain_text_is_accepted_marked_plain(server: str) -> None:
    assert fetch_page(f"{server}/xhtml", allow_private=True).kind == "html"
    page = fetch_page(f"{server}/plain", allow_private=True)
    assert (page.kind, page.text) == ("plain", "Plain words.\n")


@pytest.mark.parametrize("path", ["/big", "/big-undeclared", "/gzip-bomb"])
def test_a_page_over_the_size_cap_is_refused_not_truncated(server: str, path: str, reliability) -> None:
    error = _refused(f"{server}{path}", max_bytes=1000)
    assert "larger than 1,000 bytes" in error.reason
    reliability("Bad input", f"`fetch_page` of a page over the size cap ({path[1:]})", 1, "refused, naming the cap")


def test_a_slow_server_is_refused_after_the_timeout(server: str, reliability) -> None:
    started = time.monotonic()
    error = _refused(f"{server}/slow", timeout=FAST_TIMEOUT)
    assert time.monotonic() - started < SLOW_SECONDS - 1
    assert "no answer within 0.5 s" in error.reason
    reliability("Bad input", "`fetch_page` of a server that answers after 3 s (timeout 0.5 s)", 1,
                "refused within the timeout")


def test_a_server_trickling_bytes_is_refused_at_the_overall_deadline(server: str, reliability) -> None:
    started = time.monotonic()
    error = _refused(f"{server}/trickle", timeout=FAST_TIMEOUT * 2)
    assert time.monotonic() - started < SLOW_SECONDS - 1
    assert error.reason == "the page did not arrive in time"
    reliability("Bad input", "`fetch_page` of a server sending one byte every 0.2 s for 3 s (timeout 1 s)", 1,
                "refused at the overall deadline")


def test_redirects_are_followed_up_to_five_and_a_sixth_or_a_loop_is_refused(server: str, reliability) -> None:
    page = fetch_page(f"{server}/hops/5", allow_private=True)
    assert page.url == f"{server}/article" and page.text == ARTICLE
    assert "more than 5 redirects" in _refused(f"{server}/hops/6").reason
    assert "more than 5 redirects" in _refused(f"{server}/loop").reason
    assert "more than 2 redirects" in _refused(f"{server}/hops/3", max_redirects=2).reason
    reliability("Bad input", "`fetch_page` of a redirect loop and of a chain of 6 redirects", 2,
                "refused: more than 5 redirects")


@pytest.mark.parametrize(("path", "reason"), [("/missing", "HTTP 404 Not Found"),
                                              ("/broken", "HTTP 500 Internal Server Error")])
def test_an_error_status_is_refused_with_the_status(server: str, path: str, reason: str, reliability) -> None:
    assert _refused(f"{server}{path}").reason == reason
    reliability("Bad input", f"`fetch_page` of a page answering {reason}", 1, "refused, naming the status")


def test_the_charset_comes_from_the_header_then_the_meta_tag_then_utf8(server: str) -> None:
    latin = fetch_page(f"{server}/latin", allow_private=True)
    assert (latin.charset, "Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu." in latin.text) == ("iso8859-1", True)
    meta = fetch_page(f"{server}/meta-charset", allow_private=True)
    assert meta.charset == "cp1252" and "\u201cQuoted\u201d \u20ac5" in meta.text
    fallback = fetch_page(f"{server}/no-charset", allow_private=True)
    assert fallback.charset == "utf-8" and fallback.text == "<p>\u00e9</p>\ufffd"


def test_a_gzipped_page_is_decoded(server: str) -> None:
    page = fetch_page(f"{server}/gzip", allow_private=True)
    assert page.text == ARTICLE


@pytest.mark.parametrize(("path", "media_type"), [("/pdf", "application/pdf"), ("/json", "application/json")])
def test_a_pdf_or_json_is_refused_naming_its_type(server: str, path: str, media_type: str, reliability) -> None:
    assert media_type in _refused(f"{server}{path}").reason
    reliability("Bad input", f"`fetch_page` of a {media_type} document", 1, "refused, naming the content type")


def test_a_private_address_is_refused_by_default_and_allowed_by_the_flag_or_the_setting(
        server: str, monkeypatch: pytest.MonkeyPatch, reliability) -> None:
    monkeypatch.delenv(fetch.ALLOW_PRIVATE_ENV, raising=False)
    error = _refused(f"{server}/article", allow_private=None)
    assert "resolves to loopback address 127.0.0.1" in error.reason
    assert fetch_page(f"{server}/article", allow_private=True).text == ARTICLE
    monkeypatch.setenv(fetch.ALLOW_PRIVATE_ENV, "1")
    assert fetch_page(f"{server}/article").text == ARTICLE
    assert "loopback" in _refused(f"{server}/article", allow_private=False).reason
    reliability("Security", "`fetch_page` of a URL on 127.0.0.1 without NEWSBOT_ALLOW_PRIVATE_URLS", 1,
                "refused before connecting")


def test_a_redirect_from_a_public_host_to_a_link_local_one_is_refused(
        server: str, monkeypatch: pytest.MonkeyPatch, network: Network, reliability) -> None:
    """The first hop passes as public (its name resolution is faked, and the test network routes the faked
    address to the local site); the cloud metadata address does not, and is never connected to."""
    real = fetch.resolve_host
    monkeypatch.setattr(fetch, "resolve_host",
                        lambda host: [ipaddress.ip_address("93.184.216.34")] if host == "127.0.0.1" else real(host))
    network.routes["93.184.216.34"] = "127.0.0.1"
    error = _refused(f"{server}/to-metadata", allow_private=False)
    assert error.reason.startswith("redirected to http://169.254.169.254/latest/meta-data/: host ")
    assert "link-local" in error.reason
    assert fetch_page(f"{server}/article", allow_private=False).text == ARTICLE  # the fake does let the first hop in
    assert {address for address, _ in network.attempts} == {"93.184.216.34"}
    reliability("Security", "`fetch_page` redirected from a public host to 169.254.169.254", 1,
                "refused before connecting")


def test_a_server_that_hangs_up_mid_response_is_refused_in_words_not_a_class_name(server: str) -> None:
    assert _refused(f"{server}/hang-up").reason == "the server broke off or sent a malformed response"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/a.html", "javascript:alert(1)",
                                 "gopher://127.0.0.1/", "example.org/no-scheme"])
def test_a_scheme_other_than_http_or_https_is_refused(url: str, reliability) -> None:
    error = _refused(url)
    assert "is not http or https" in error.reason
    reliability("Security", f"`fetch_page` of `{url}`", 1, "refused: not http or https")


def test_a_url_with_a_control_character_is_refused_as_invalid(network: Network) -> None:
    assert _refused("http://127.0.0.1/a\x00b").reason == "not a valid URL"
    assert network.attempts == []


def test_a_redirect_to_a_file_url_is_refused(server: str) -> None:
    error = _refused(f"{server}/to-file")
    assert error.reason == "redirected to file:///etc/passwd: scheme 'file' is not http or https"


@pytest.mark.parametrize(("address", "refusal"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("::ffff:10.0.0.1", "private"),
    ("fd00::1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "reserved"),
    ("100.64.0.1", "non-public"),
    ("93.184.216.34", None), ("2606:4700::1111", None), ("::ffff:8.8.8.8", None)])
def test_every_non_public_kind_of_address_is_named(address: str, refusal: str | None) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == refusal


def test_a_name_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(host: str) -> list[ipaddress.IPv4Address]:
        raise OSError("no such host")
    monkeypatch.setattr(fetch, "resolve_host", fail)
    assert "does not resolve" in _refused("http://nowhere.invalid/", allow_private=False).reason


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "resolve_host",
                        lambda host: [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")])
    assert "private address 10.0.0.7" in _refused("http://mixed.example/", allow_private=False).reason


def _port(site: LocalSite) -> int:
    port = urlsplit(site.url).port
    assert port is not None
    return port


def test_a_name_only_the_checking_resolver_knows_is_fetched_from_the_address_it_gave(
        site: LocalSite, monkeypatch: pytest.MonkeyPatch, network: Network) -> None:
    """The system resolver cannot resolve `.invalid`: the page arrives only if the connection went to the address
    the check saw, and the server still sees the name."""
    asked = _resolve_as(monkeypatch, {"pinned.invalid": ["127.0.0.1"]})
    url = f"http://pinned.invalid:{_port(site)}/article"
    page = fetch_page(url, allow_private=True)
    assert (page.url, page.text) == (url, ARTICLE)
    assert site.requests[-1].path == "/article"
    assert site.requests[-1].headers["Host"] == f"pinned.invalid:{_port(site)}"
    assert (asked, network.attempts) == (["pinned.invalid"], [("127.0.0.1", _port(site))])


def test_a_dns_answer_that_changes_after_the_check_cannot_reach_an_unchecked_address(
        monkeypatch: pytest.MonkeyPatch, network: Network, reliability) -> None:
    """A rebinding name: public for the check, loopback for any later lookup. The one connection attempted goes
    to the public address checked (refused by the test network, so nothing leaves the machine)."""
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    asked: list[str] = []

    def rebinding(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        asked.append(host)
        return [ipaddress.ip_address(next(answers))]
    monkeypatch.setattr(fetch, "resolve_host", rebinding)
    error = _refused("http://rebind.example/article", allow_private=False)
    assert error.reason == "could not connect to the server"
    assert (asked, network.attempts) == (["rebind.example"], [("93.184.216.34", 80)])
    reliability("Security", "`fetch_page` of a name whose DNS answer changes between the check and the connection "
                "(public, then 127.0.0.1)", 1, "cannot reach an unchecked address: the one connection goes to the "
                "address checked")


def test_a_name_with_several_addresses_is_tried_in_order_at_the_checked_addresses_only(
        site: LocalSite, monkeypatch: pytest.MonkeyPatch, network: Network) -> None:
    """The first address refuses the connection, the second (IPv6, bracketed in the request) answers."""
    _resolve_as(monkeypatch, {"multi.example": ["93.184.216.34", "2606:4700::1111"]})
    network.routes["2606:4700::1111"] = "127.0.0.1"
    page = fetch_page(f"http://multi.example:{_port(site)}/article", allow_private=False)
    assert page.text == ARTICLE
    assert network.attempts == [("93.184.216.34", _port(site)), ("2606:4700::1111", _port(site))]
    assert site.requests[-1].headers["Host"] == f"multi.example:{_port(site)}"


def test_a_silent_address_gives_way_to_the_next_within_its_share_of_the_timeout(
        site: LocalSite, monkeypatch: pytest.MonkeyPatch, network: Network) -> None:
    _resolve_as(monkeypatch, {"multi.example": ["2606:4700::1111", "93.184.216.34"]})
    network.silent.add("2606:4700::1111")
    network.routes["93.184.216.34"] = "127.0.0.1"
    page = fetch_page(f"http://multi.example:{_port(site)}/article", allow_private=False, timeout=8.0)
    assert page.text == ARTICLE
    assert network.attempts == [("2606:4700::1111", _port(site)), ("93.184.216.34", _port(site))]
    assert network.connect_timeouts == [4.0, 8.0]


def test_a_redirect_to_another_name_is_resolved_checked_and_pinned_again(
        site: LocalSite, monkeypatch: pytest.MonkeyPatch, network: Network) -> None:
    port = _port(site)
    site.routes["/to-second"] = redirect(f"http://second.example:{port}/article")
    asked = _resolve_as(monkeypatch, {"first.example": ["93.184.216.34"], "second.example": ["93.184.216.35"]})
    network.routes.update({"93.184.216.34": "127.0.0.1", "93.184.216.35": "127.0.0.1"})
    page = fetch_page(f"http://first.example:{port}/to-second", allow_private=False)
    assert (page.url, page.text) == (f"http://second.example:{port}/article", ARTICLE)
    assert asked == ["first.example", "second.example"]
    assert network.attempts == [("93.184.216.34", port), ("93.184.216.35", port)]
    assert [(r.path, r.headers["Host"]) for r in site.requests[-2:]] == [
        ("/to-second", f"first.example:{port}"), ("/article", f"second.example:{port}")]


@pytest.mark.parametrize(("url", "address", "pinned_url", "host", "server_name"), [
    ("http://news.example/a?b=1", "93.184.216.34", "http://93.184.216.34/a?b=1", "news.example", None),
    ("http://news.example:8080/a", "2606:4700::1111", "http://[2606:4700::1111]:8080/a", "news.example:8080", None),
    ("https://news.example/a", "93.184.216.34", "https://93.184.216.34/a", "news.example", "news.example"),
    ("https://b\u00fccher.example:8443/", "::1", "https://[::1]:8443/", "xn--bcher-kva.example:8443",
     "xn--bcher-kva.example")])
def test_a_pinned_request_keeps_the_name_as_host_and_tls_server_name(
        url: str, address: str, pinned_url: str, host: str, server_name: str | None) -> None:
    pinned = fetch.pin(url, ipaddress.ip_address(address))
    assert (str(pinned.url), pinned.host_header, pinned.extensions.get("sni_hostname")) == (
        pinned_url, host, server_name)


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalSite, str]]:
    """The article over https on 127.0.0.1, with a self-signed certificate naming only `pinned.invalid` (not
    127.0.0.1); yields the site and the certificate's path, to be the only one a client trusts."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=pinned.invalid", "-addext",
                    "subjectAltName=DNS:pinned.invalid", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with local_site({"/article": send(200, ARTICLE.encode())}, tls=context) as served:
        yield served, str(cert)


def test_https_to_a_pinned_address_is_verified_against_the_name_not_the_address(
        tls_site: tuple[LocalSite, str], monkeypatch: pytest.MonkeyPatch, network: Network) -> None:
    """A real handshake with the address pinned: it succeeds only because the certificate is checked against the
    URL's name, and the same certificate is refused for the bare address or another name."""
    site, cert = tls_site
    monkeypatch.setattr(certifi, "where", lambda: cert)  # what httpx's default context trusts
    _resolve_as(monkeypatch, {"pinned.invalid": ["127.0.0.1"], "other.invalid": ["127.0.0.1"],
                              "127.0.0.1": ["127.0.0.1"]})
    port = _port(site)
    page = fetch_page(f"https://pinned.invalid:{port}/article", allow_private=True)
    assert (page.url, page.text) == (f"https://pinned.invalid:{port}/article", ARTICLE)
    assert site.requests[-1].headers["Host"] == f"pinned.invalid:{port}"
    for unnamed in (f"https://127.0.0.1:{port}/article", f"https://other.invalid:{port}/article"):
        assert _refused(unnamed).reason == "could not connect to the server"
    assert network.attempts == [("127.0.0.1", port)] * 3
