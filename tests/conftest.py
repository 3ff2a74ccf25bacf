"""Shared fixtures: the real model loaded once per session, a deterministic fake where the model is not the point."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from benchmarks.stories import write_many_story_corpus
from newsbot.corpus import BUNDLED_CORPUS_DIR
from newsbot.index import build_index
from newsbot.index.embedder import DEFAULT_MODEL, local_model_dir
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.onnx_embedder import OnnxEmbedder
from newsbot.index.store import CACHE_DIR
from newsbot.index.onnx_export import FP32_FILE, INT8_FILE, cached_export_dir, export_onnx
from newsbot.index.torch_embedder import SentenceTransformerEmbedder
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.reqa import load_squad
from tests.bot_harness import Harness, in_process_bot
from tests.redis_server import redis_server

pytest_plugins = ("tests.reliability", "tests.tiers")  # tiers: the `model` and `process` markers

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SQUAD_DEV = SHARED / "eval" / "squad_v1.1_dev.jsonl"
SEED_QUESTION = "How many people have died?"


def add_filler_articles(corpus: Path, count: int, sentences: int = 8) -> None:
    """Write `count` small articles of `sentences` distinct filler sentences each into a corpus folder."""
    for n in range(count):
        body = " ".join(f"Filler sentence {n} {m} about harbour topic {n * m}." for m in range(sentences))
        (corpus / f"bulk{n:02d}.txt").write_text(f"title: Bulk {n}\nsource: Wire\n\n{body}\n", encoding="utf-8")


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2, loaded once for the whole run."""
    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL, local_model_dir(DEFAULT_MODEL))
    embedder.encode(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private export cache holding both files of the packaged model, exported once for the session."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    export_onnx(local_model_dir(DEFAULT_MODEL), cached_export_dir(local_model_dir(DEFAULT_MODEL), cache), quantize=True)
    return cache


@pytest.fixture(scope="session")
def export_dir(onnx_cache: Path) -> Path:
    return cached_export_dir(local_model_dir(DEFAULT_MODEL), onnx_cache)


@pytest.fixture(scope="session")
def fp32(export_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(f"{DEFAULT_MODEL}#onnx", export_dir / FP32_FILE)


@pytest.fixture(scope="session")
def int8(export_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(f"{DEFAULT_MODEL}#onnx-int8", export_dir / INT8_FILE)


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private copy of the bundled corpus that a test may change."""
    folder = tmp_path / "corpus"
    shutil.copytree(BUNDLED_CORPUS_DIR, folder)
    return folder


@pytest.fixture
async def bot(tmp_path: Path, corpus_dir: Path) -> AsyncIterator[Harness]:
    """The Telegram bot in-process (tests/bot_harness.py) over a copy of the bundled corpus."""
    async with in_process_bot(tmp_path, corpus_dir) as harness:
        yield harness


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder) -> Path:
    """The bundled corpus indexed with the real model, once per session. Treat as read-only."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index(BUNDLED_CORPUS_DIR, index_dir, real_embedder)
    return index_dir


@pytest.fixture(scope="session")
def seed_retriever(seed_index: Path, real_embedder: SentenceTransformerEmbedder) -> Retriever:
    return Retriever.open(seed_index, embedder=real_embedder)


@pytest.fixture(scope="session")
def many_stories(tmp_path_factory: pytest.TempPathFactory, int8: OnnxEmbedder) -> Iterator[Retriever]:
    """The bundled article and the 48 SQuAD dev articles as one corpus folder, indexed once per session with
    the product's default (int8) backend: a news bot holds many stories at once. Their embeddings are kept
    beside pytest's temporary folders between runs (12,000 sentences: minutes to embed on a busy machine,
    a second to copy)."""
    if not SQUAD_DEV.is_file():
        pytest.skip(f"{SQUAD_DEV} is not here (the shared evaluation set is optional)")
    folder = tmp_path_factory.mktemp("many-stories")
    kept = tmp_path_factory.getbasetemp().parent / "newsbot-many-stories-embeddings"
    if kept.is_dir():
        shutil.copytree(kept, folder / "index" / CACHE_DIR)
    started = time.perf_counter()
    build_index(write_many_story_corpus(load_squad(SQUAD_DEV), folder / "corpus"), folder / "index", int8)
    print(f"many-story index built in {time.perf_counter() - started:.0f} s")
    shutil.copytree(folder / "index" / CACHE_DIR, kept, dirs_exist_ok=True)
    retriever = Retriever.open(folder / "index", embedder=int8)
    yield retriever
    retriever.close()


@pytest.fixture
def squad_dev() -> Path:
    if not SQUAD_DEV.is_file():
        pytest.skip(f"{SQUAD_DEV} is not here (the shared evaluation set is optional)")
    return SQUAD_DEV


@pytest.fixture(scope="session")
def redis_session_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One throwaway redis-server for the session (tests/redis_server.py)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_session_url: str) -> Iterator[str]:
    """The session's redis-server, emptied before each test so that tests share no keys."""
    import redis

    client = redis.Redis.from_url(redis_session_url)
    client.flushall()
    client.close()
    yield redis_session_url
