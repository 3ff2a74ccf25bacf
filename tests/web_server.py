"""A web site on 127.0.0.1 for the tests of fetching, adding and following pages: no request leaves the machine.

Its routes are a plain dict that a test may change while it serves (a feed that changes between polls), and
it records the requests it received (to see a conditional GET's headers, or that nothing was fetched again).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


def send(status: int, body: bytes = b"", content_type: str | None = "text/html; charset=utf-8",
         headers: Mapping[str, str] | None = None, length: bool = True) -> Route:
    """A route answering with this status, body and headers."""
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return respond


def redirect(location: str) -> Route:
    return send(302, content_type=None, headers={"Location": location})


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class LocalSite:
    """The running site: `url` is its base (http://127.0.0.1:PORT); unknown paths get a 404."""

    url: str
    routes: dict[str, Route]
    requests: list[Request] = field(default_factory=list)


@contextmanager
def local_site(routes: dict[str, Route], tls: ssl.SSLContext | None = None) -> Iterator[LocalSite]:
    """Serve `routes` on 127.0.0.1 (a free port) for the duration of the block; over https with `tls`."""
    site = LocalSite("", routes)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requests.append(Request(self.path, dict(self.headers.items())))
            site.routes.get(self.path, send(404, b"no route"))(self)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that timed out closed its end: the late answer has nowhere to go

    httpd = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    site.url = f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
