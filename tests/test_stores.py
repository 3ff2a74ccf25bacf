"""The store seam: `NEWSBOT_STORE` read by one pure function, and the files store meeting the interface the
retriever reads (`index.version`)."""

import subprocess
import sys
from pathlib import Path

import pytest

from newsbot.bot.cli import main
from newsbot.bot.config import ConfigError, parse_settings
from newsbot.corpus import BUNDLED_CORPUS_DIR
from newsbot.index import build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.stores import (FilesStore, MilvusLiteStore, MilvusServerStore, StoreAddressError, current_revision,
                                  parse_store, store_from_environment)
from newsbot.index.version import SentenceMetadata, VectorSearch, open_version

from tests.fake_bot_api import TOKEN
from tests.reliability import Record


@pytest.mark.parametrize(("value", "token", "expected"), [
    (None, None, FilesStore(None)),
    ("  ", None, FilesStore(None)),
    ("/srv/newsbot/index", None, FilesStore(Path("/srv/newsbot/index"))),
    ("index/data", None, FilesStore(Path("index/data"))),
    ("milvus:///var/lib/newsbot/newsbot.db", None, MilvusLiteStore(Path("/var/lib/newsbot/newsbot.db"))),
    ("milvus://./newsbot.db", None, MilvusLiteStore(Path("newsbot.db"))),
    ("milvus://milvus.internal", None, MilvusServerStore("http://milvus.internal:19530")),
    ("milvus://10.0.0.5:19531", "root:Milvus", MilvusServerStore("http://10.0.0.5:19531", "root:Milvus")),
    ("MILVUS://[::1]", None, MilvusServerStore("http://[::1]:19530")),
    ("https://in01-abc.cloud.zilliz.com", "secret", MilvusServerStore("https://in01-abc.cloud.zilliz.com", "secret")),
    ("http://127.0.0.1:19530/", None, MilvusServerStore("http://127.0.0.1:19530")),
])
def test_parse_store_names_each_store(value: str | None, token: str | None, expected: object) -> None:
    store = parse_store(value, token)
    assert store == expected
    if isinstance(store, MilvusServerStore) and token:
        assert token not in repr(store)  # the token never reaches a log line


@pytest.mark.parametrize(("value", "token", "says"), [
    ("redis://cache:6379", None, "unknown scheme redis://"),
    ("milvus:///var/lib/newsbot/", None, "must end in .db"),
    ("milvus:///var/lib/newsbot.sqlite", None, "must end in .db"),
    ("milvus:///var/lib/newsbot.db", "secret", "takes none"),
    ("milvus://host:port", None, "port that is not a number"),
    ("milvus://host:99999", None, "port that is not a number"),
    ("https://host/collections", None, "three slashes"),
    ("https://:443", None, "without a host"),
    ("milvus://host?db=news", None, "?query"),
    ("/srv/newsbot/index", "secret", "names no Milvus server"),
])
def test_parse_store_refuses_a_malformed_address_saying_what_is_accepted(
        value: str, token: str | None, says: str, reliability: Record) -> None:
    with pytest.raises(StoreAddressError, match="NEWSBOT_") as refused:
        parse_store(value, token)
    assert says in str(refused.value)
    if token:
        assert token not in str(refused.value)
    reliability("Bad input", f"NEWSBOT_STORE={value}" + (" with NEWSBOT_MILVUS_TOKEN" if token else ""), 1,
                "refused at start-up, naming the setting and what it accepts")


def test_store_from_environment_reads_both_settings() -> None:
    environ = {"NEWSBOT_STORE": "milvus://db.example:443", "NEWSBOT_MILVUS_TOKEN": "t0ken"}
    assert store_from_environment(environ) == MilvusServerStore("http://db.example:443", "t0ken")
    assert store_from_environment({}) == FilesStore(None)


def test_the_files_store_meets_the_interface_the_retriever_reads(tmp_path: Path) -> None:
    build_index(BUNDLED_CORPUS_DIR, tmp_path / "idx", embedder=HashingEmbedder())
    version = open_version(tmp_path / "idx")
    try:
        assert isinstance(version.sentences, VectorSearch) and isinstance(version.paragraphs, VectorSearch)
        assert isinstance(version.metadata, SentenceMetadata)
        assert version.sentences.ntotal == version.manifest.sentences > 0
    finally:
        version.close()


def test_the_files_revision_follows_each_build(tmp_path: Path) -> None:
    assert current_revision(FilesStore(), tmp_path / "idx") is None
    build_index(BUNDLED_CORPUS_DIR, tmp_path / "idx", embedder=HashingEmbedder())
    first = current_revision(FilesStore(), tmp_path / "idx")
    build_index(BUNDLED_CORPUS_DIR, tmp_path / "idx", embedder=HashingEmbedder(), force=True)
    second = current_revision(FilesStore(tmp_path / "idx"), tmp_path / "elsewhere")
    assert first and second and first != second
    version = open_version(tmp_path / "idx")
    try:
        assert version.folder.name == second
    finally:
        version.close()


def test_the_files_store_never_imports_pymilvus() -> None:
    """pymilvus costs 0.6 s and 8 warning filters to import: the CLI, the bot and the answer path load it only
    when NEWSBOT_STORE names Milvus."""
    run = subprocess.run([sys.executable, "-c", "import sys, newsbot.bot.cli, newsbot.bot.serve, newsbot.retrieval, "
                          "newsbot.index.stores; print(sorted(m for m in sys.modules if m.startswith('pymilvus')))"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.strip() == "[]"


def test_the_command_line_imports_redis_only_to_serve() -> None:
    """redis-py takes about 60 ms to import, a seventh of a cold `newsbot ask`: only `serve` (with
    NEWSBOT_REDIS_URL) uses it."""
    run = subprocess.run([sys.executable, "-c", "import sys, newsbot.bot.cli, newsbot.bot.texts, newsbot.retrieval; "
                          "print(sorted(m for m in sys.modules if m.split('.')[0] == 'redis'))"],
                         capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.strip() == "[]"


def test_the_bot_settings_read_the_store_and_refuse_a_bad_one() -> None:
    assert parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN}).store == FilesStore(None)
    folder = parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_STORE": "/srv/newsbot"})
    assert folder.store == FilesStore(Path("/srv/newsbot")) and folder.index_dir == Path("/srv/newsbot")
    server = parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_STORE": "https://db.example",
                             "NEWSBOT_MILVUS_TOKEN": "s3cret"})
    assert server.store == MilvusServerStore("https://db.example", "s3cret") and "s3cret" not in repr(server)
    with pytest.raises(ConfigError, match="NEWSBOT_STORE has the unknown scheme"):
        parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_STORE": "ftp://db.example"})


def test_a_malformed_store_stops_the_cli_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NEWSBOT_STORE", "milvus://host:port")
    assert main(["ask", "--model", "hashing", "Who vetoed?"]) == 2
    assert capsys.readouterr().err.startswith("newsbot: NEWSBOT_STORE has a port that is not a number")
