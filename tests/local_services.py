"""What the tests that start a real service on 127.0.0.1 (redis-server, a Milvus server, the bot's webhook)
share: a free port, and the rule for a service that cannot be started here."""

from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice); a race with another process is the caller's to retry."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unavailable(reason: str, require: str, install: str) -> None:
    """Skip the test naming why and how to install what it needs, or fail it where the environment variable
    `require` is set (by .ci/run): there the service must run, so CI cannot pass without its tests."""
    if os.environ.get(require):
        pytest.fail(f"{reason} ({require} is set: these tests must run here)")
    pytest.skip(f"{reason}; {install}")
