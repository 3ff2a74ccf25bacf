"""A throwaway Milvus standalone server for the tests of several bot replicas on one shared index: the `milvus`
PyPI package (the Milvus binaries, no dependencies) started on free 127.0.0.1 ports, its files in a temporary
folder, stopped at the end.

The package picks free ports for Milvus's own services, but the etcd it embeds listens on etcd's defaults
(2379/2380), so a second server on the machine (another test session, a developer's) would collide with it:
here etcd gets a config file of its own with free ports too.

Where the package is missing the tests that need it are skipped, naming why; with NEWSBOT_TEST_REQUIRE_MILVUS set
(by .ci/run, whose install brings it through the test extra) they fail instead, so CI cannot pass without them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import local_services as services
from tests.local_services import free_port

REQUIRE = "NEWSBOT_TEST_REQUIRE_MILVUS"
START_SECONDS = 120  # about 7 s alone here; much longer while other jobs hold both cores


def unavailable(reason: str) -> None:
    """Skip the test, or fail it where CI requires Milvus."""
    services.unavailable(reason, REQUIRE, "the test extra installs it (pip install -e '.[test]')")


@contextmanager
def milvus_server(folder: Path) -> Iterator[str]:
    """Run a Milvus standalone server with its files in `folder`; yields its URI (milvus://127.0.0.1:PORT)."""
    try:
        from milvus import MilvusServer, MilvusServerConfig
    except ImportError:
        unavailable("the milvus package (a Milvus standalone server) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    client_port = free_port()
    config = MilvusServerConfig(data_dir=str(folder))
    config.template_text = _with_own_etcd(config.template_text, folder, client_port, free_port())
    server = MilvusServer(config, wait_for_started=False, proxy_port=free_port(), etcd_port=client_port)
    server.set_base_dir(str(folder))
    started = time.monotonic()
    try:
        server.start()
        server.wait_started(timeout=START_SECONDS * 1000)
    except (RuntimeError, TimeoutError) as error:
        server.stop()
        log = folder / "logs" / "milvus-stdout.log"
        unavailable(f"the Milvus server did not start ({error}; see {log})")
    print(f"Milvus server on 127.0.0.1:{server.listen_port} started in {time.monotonic() - started:.1f} s")
    try:
        yield f"milvus://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()


def _with_own_etcd(template: str, folder: Path, client_port: int, peer_port: int) -> str:
    """The package's config template with its embedded etcd pointed at a config file naming free ports."""
    etcd = folder / "etcd.yaml"
    client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    etcd.write_text(f"name: newsbot-test\nlisten-client-urls: {client}\nadvertise-client-urls: {client}\n"
                    f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\n"
                    f"initial-cluster: newsbot-test={peer}\n", encoding="utf-8")
    assert "\netcd:\n" in template, "the milvus package's config template changed: review tests/milvus_server.py"
    return template.replace("\netcd:\n", f"\netcd:\n  config:\n    path: {etcd}\n", 1)


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Milvus standalone server for the session: its URI for NEWSBOT_STORE."""
    with milvus_server(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri
