"""A throwaway redis-server for the tests of state shared between bot replicas: on a free 127.0.0.1 port,
its files in a temporary folder, nothing persisted, stopped at the end.

Where redis-server is missing the tests that need it are skipped, naming why; with NEWSBOT_TEST_REQUIRE_REDIS
set (by .ci/run, which installs it) they fail instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import local_services as services
from tests.local_services import free_port

REQUIRE = "NEWSBOT_TEST_REQUIRE_REDIS"
START_SECONDS = 10


def unavailable(reason: str) -> None:
    """Skip the test, or fail it where CI requires Redis."""
    services.unavailable(reason, REQUIRE, "`make test` installs it (.ci/install-redis-server)")


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """Run a redis-server with its working files in `folder`; yields its URL, stops it on the way out."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        port = free_port()
        process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--logfile", str(folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _answers(port, process):
            break
        process.kill()
        process.wait()
    else:
        unavailable(f"redis-server did not start (see {folder / 'redis.log'})")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(port: int, process: subprocess.Popen) -> bool:
    """Whether the server on `port` answers PING before START_SECONDS pass (False if it exited)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False
