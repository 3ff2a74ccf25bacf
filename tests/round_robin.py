"""A round-robin HTTP proxy on 127.0.0.1 in front of bot replicas' webhook ports: what a load balancer does
in front of several `newsbot serve --webhook-url` processes behind one URL.

Each POST goes, with its path, body and headers (the X-Telegram-Bot-Api-Secret-Token among them), to the
next replica in turn; a replica that refuses the connection (stopped, killed, not yet listening) is skipped
for the next one. A replica that accepts and then fails (killed mid-request) gives a 502, and so does the
proxy when every replica refuses: the sender (Telegram, or a test acting as it) delivers again later.
The standard library's threading server, like tests/fake_bot_api.py: no dependency, runs beside any event
loop. Also used by benchmarks/research/replicas.py.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FORWARD_TIMEOUT = 30.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass(frozen=True)
class Forwarded:
    """One POST as the proxy handled it: the replica it reached (an index into the ports; None if none
    answered) and the status returned to the sender."""

    replica: int | None
    status: int
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: RoundRobinProxy

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        forwarded = self.server.forward(self.path, body, headers)
        self.send_response(forwarded.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(forwarded.body)))
        self.end_headers()
        self.wfile.write(forwarded.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet, as a webhook path may hold a secret
        pass


class RoundRobinProxy(ThreadingHTTPServer):
    """The proxy on a free 127.0.0.1 port; a context manager so that it always stops. `on_forwarded`, if
    given, is called (in the request's thread, before the sender gets its answer) with each POST's body and
    what became of it: a test can act at an exact point, such as right after a replica acknowledged."""

    daemon_threads = True

    def __init__(self, ports: Sequence[int],
                 on_forwarded: Callable[[bytes, Forwarded], None] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.ports = list(ports)
        self.on_forwarded = on_forwarded
        self._turn = itertools.cycle(range(len(self.ports)))
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="round-robin-proxy",
                                        daemon=True)  # polls for shutdown every 50 ms: tests stop it often

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def forward(self, path: str, body: bytes, headers: dict[str, str]) -> Forwarded:
        """Send the POST to the next replica that accepts the connection."""
        with self._lock:
            first = next(self._turn)
        forwarded = Forwarded(None, 502, b'{"error": "no replica accepted the connection"}')
        for step in range(len(self.ports)):
            replica = (first + step) % len(self.ports)
            try:
                forwarded = _post(replica, self.ports[replica], path, body, headers)
                break
            except ConnectionRefusedError:
                continue
            except (OSError, http.client.HTTPException):  # accepted, then reset or closed: killed mid-request
                forwarded = Forwarded(replica, 502, b'{"error": "the replica failed mid-request"}')
                break
        if self.on_forwarded is not None:
            self.on_forwarded(body, forwarded)
        return forwarded

    def __enter__(self) -> RoundRobinProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


def _post(replica: int, port: int, path: str, body: bytes, headers: dict[str, str]) -> Forwarded:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=FORWARD_TIMEOUT)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return Forwarded(replica, response.status, response.read())
    finally:
        connection.close()
