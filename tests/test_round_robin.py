"""The round-robin proxy the replica tests put in front of the bots' webhook ports (tests/round_robin.py):
it must behave as a load balancer does, or those tests would prove nothing about redelivery."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.local_services import free_port
from tests.round_robin import Forwarded, RoundRobinProxy


class _Backend(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.hang_up:  # a replica killed mid-request
            self.close_connection = True
            return
        self.server.seen.append((self.path, dict(self.headers), body))
        reply = json.dumps({"backend": self.server.name}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextmanager
def backend(name: str, *, hang_up: bool = False) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    server.name, server.hang_up, server.seen = name, hang_up, []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_posts_go_round_robin_with_their_path_body_and_secret_header() -> None:
    with backend("a") as a, backend("b") as b, RoundRobinProxy([a.server_port, b.server_port]) as proxy:
        answers = [post(proxy.url("/telegram"), f'{{"n": {n}}}'.encode(),
                        {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3"})
                   for n in range(4)]
    assert [json.loads(body)["backend"] for _, body in answers] == ["a", "b", "a", "b"]
    assert all(status == 200 for status, _ in answers)
    path, headers, body = a.seen[1]
    assert path == "/telegram" and body == b'{"n": 2}'
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3"


def test_a_refused_connection_goes_to_the_next_replica_and_a_failure_mid_request_is_a_502() -> None:
    forwarded: list[Forwarded] = []
    with backend("b") as b, backend("c", hang_up=True) as c, RoundRobinProxy(
            [free_port(), b.server_port, c.server_port], lambda body, f: forwarded.append(f)) as proxy:
        statuses = [post(proxy.url("/t"), b"{}", {})[0] for _ in range(3)]
    assert statuses == [200, 200, 502]  # nothing listens on the first: its turn goes to b; c hangs up
    assert [f.replica for f in forwarded] == [1, 1, 2]
    with RoundRobinProxy([free_port()]) as proxy:
        assert post(proxy.url("/t"), b"{}", {})[0] == 502  # no replica at all
