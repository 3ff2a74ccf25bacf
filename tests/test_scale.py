"""The approximate-index path at a small scale: a few thousand sentences with the exact-search
threshold lowered, so choosing, training, recording, resuming and reloading run in seconds."""

import json
import math
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from newsbot.index import build_index
from newsbot.index.build import EMBEDDING, INDEXING, READING, SENTENCES_PER_BATCH
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.manifest import VECTORS_FILE, read_manifest
from newsbot.index.rowfile import RowFile
from newsbot.index.store import VERSIONS_DIR
from newsbot.index.vectors import EXACT, load_vectors, plan_index
from newsbot.retrieval import Retriever

from tests.embedders import CountingEmbedder

ROOT = Path(__file__).resolve().parents[1]
ARTICLES, SENTENCES_EACH, THRESHOLD = 150, 20, 1000  # 3,000 sentences: past the lowered threshold
TEXTS_EACH = SENTENCES_EACH + 4  # and four paragraphs embedded per article


def _sentence(article: int, number: int) -> str:
    return f"Report{article} item{number} mentions code{article * 100 + number} and place{(article * 7 + number) % 97}."


@pytest.fixture
def bulk_corpus(tmp_path: Path) -> Path:
    """One JSON Lines file of articles, four paragraphs each, every sentence with words of its own."""
    folder = tmp_path / "bulk"
    folder.mkdir()
    lines = []
    for article in range(ARTICLES):
        sentences = [_sentence(article, n) for n in range(SENTENCES_EACH)]
        paragraphs = [" ".join(sentences[p:p + 5]) for p in range(0, SENTENCES_EACH, 5)]
        lines.append(json.dumps({"id": article, "title": f"Story {article}", "paragraphs": paragraphs,
                                 "source": "Wire", "date": "2024-01-02"}))
    (folder / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_the_index_type_follows_the_size() -> None:
    assert plan_index(20_000).factory == EXACT and plan_index(20_001).factory == "IVF512,SQ8"
    small, large = plan_index(100_000), plan_index(1_000_000)
    assert small.factory == "IVF1024,SQ8" and large.factory == "IVF4096,SQ8"
    assert large.training_sample == 64 * 4096 and large.search == {"nprobe": 32}
    assert plan_index(3_000, exact_up_to=1_000).factory == "IVF64,SQ8"  # at least 39 training points per list


def test_a_large_corpus_gets_an_approximate_index_recorded_in_the_manifest(bulk_corpus: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    report = build_index(bulk_corpus, tmp_path / "idx", embedder, exact_up_to=THRESHOLD)
    manifest = read_manifest(report.version)
    plan = plan_index(ARTICLES * SENTENCES_EACH, exact_up_to=THRESHOLD)
    assert manifest.sentences == report.sentences == ARTICLES * SENTENCES_EACH
    assert manifest.faiss_factory == plan.factory != EXACT
    assert manifest.faiss_index == "IndexIVFScalarQuantizer"
    assert manifest.faiss_training_sample == plan.training_sample and manifest.faiss_search == dict(plan.search)
    assert not list(report.version.glob("*spool*"))
    paragraph_plan = plan_index(manifest.paragraphs, exact_up_to=THRESHOLD)  # paragraphs get their own index
    assert (manifest.paragraph_faiss_factory, manifest.paragraph_faiss_search) == (paragraph_plan.factory,
                                                                                   dict(paragraph_plan.search))
    loaded = load_vectors(report.version / VECTORS_FILE, dimension=manifest.dimension, count=manifest.sentences,
                          search=manifest.faiss_search)
    assert loaded.nprobe == manifest.faiss_search["nprobe"] > 1
    assert max(embedder.calls) < SENTENCES_PER_BATCH + TEXTS_EACH  # streamed in batches, never all at once


def test_every_stage_of_a_build_reports_its_progress(bulk_corpus: Path, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int | None]] = []
    build_index(bulk_corpus, tmp_path / "idx", CountingEmbedder(), exact_up_to=THRESHOLD,
                progress=lambda stage, done, total: calls.append((stage, done, total)))
    stages = [stage for stage, _, _ in calls]
    assert stages == sorted(stages, key=[READING, EMBEDDING, INDEXING].index)  # one stage after the other
    reading = [(done, total) for stage, done, total in calls if stage == READING]
    assert [done for done, _ in reading] == [*range(1, ARTICLES + 1), ARTICLES]  # every article, counted
    assert {total for _, total in reading[:-1]} == {None} and reading[-1][1] == ARTICLES  # the total once known
    texts = ARTICLES * TEXTS_EACH
    embedding = [(done, total) for stage, done, total in calls if stage == EMBEDDING]
    assert embedding[0] == (0, texts) and embedding[-1] == (texts, texts) and len(embedding) > 2
    vectors = ARTICLES * TEXTS_EACH  # the sentences' index, then the paragraphs'
    indexing = [(done, total) for stage, done, total in calls if stage == INDEXING]
    assert indexing[0] == (0, vectors) and indexing[-1] == (vectors, vectors)
    assert [done for done, _ in indexing] == sorted(done for done, _ in indexing)

    calls.clear()  # a rebuild from the cache embeds nothing and says so
    build_index(bulk_corpus, tmp_path / "idx", CountingEmbedder(), exact_up_to=THRESHOLD, force=True,
                progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert [(done, total) for stage, done, total in calls if stage == EMBEDDING] == [(0, 0)]


def test_the_approximate_index_finds_what_the_exact_one_finds(bulk_corpus: Path, tmp_path: Path) -> None:
    approximate = Retriever.open(build_index(bulk_corpus, tmp_path / "ivf", HashingEmbedder(),
                                             exact_up_to=THRESHOLD).version.parent.parent, embedder=HashingEmbedder())
    exact = Retriever.open(build_index(bulk_corpus, tmp_path / "flat", HashingEmbedder()).version.parent.parent,
                           embedder=HashingEmbedder())
    assert exact.manifest.faiss_factory == EXACT
    rng = np.random.default_rng(5)
    asked = [(int(a), int(n)) for a, n in zip(rng.integers(0, ARTICLES, 40), rng.integers(0, SENTENCES_EACH, 40))]
    found = shared = 0
    for article, number in asked:
        question = _sentence(article, number)
        ivf_hits, flat_hits = approximate.search(question, k=5), exact.search(question, k=5)
        found += ivf_hits[0].text == question
        shared += len({h.sentence_id for h in ivf_hits} & {h.sentence_id for h in flat_hits})
    assert found >= 38 and shared >= 0.9 * 5 * len(asked)
    top = approximate.search(_sentence(3, 4), k=1)[0]
    assert top.article.title == "Story 3" and abs(top.score - exact.search(_sentence(3, 4), k=1)[0].score) < 0.02


def test_an_unchanged_corpus_is_rebuilt_when_its_index_type_would_change(bulk_corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    first = build_index(bulk_corpus, index_dir, HashingEmbedder(), exact_up_to=THRESHOLD)
    assert build_index(bulk_corpus, index_dir, HashingEmbedder(), exact_up_to=THRESHOLD).up_to_date
    exact = build_index(bulk_corpus, index_dir, HashingEmbedder())
    assert not exact.up_to_date and exact.embedded == 0 and exact.version != first.version
    assert read_manifest(exact.version).faiss_factory == EXACT


SELF_KILLING_BUILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import newsbot.index.build
    from newsbot.index import build_index
    from newsbot.index.hashing_embedder import HashingEmbedder

    newsbot.index.build.SENTENCES_PER_BATCH = 500

    class DyingEmbedder(HashingEmbedder):
        calls = 0

        def encode(self, texts):
            DyingEmbedder.calls += 1
            if DyingEmbedder.calls == 4:
                os.kill(os.getpid(), signal.SIGKILL)
            return super().encode(texts)

    build_index(Path(sys.argv[1]), Path(sys.argv[2]), DyingEmbedder(), exact_up_to=int(sys.argv[3]))
""")


def test_a_killed_approximate_build_resumes_without_re_embedding(bulk_corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    killed = subprocess.run([sys.executable, "-c", SELF_KILLING_BUILD, str(bulk_corpus), str(index_dir), str(THRESHOLD)],
                            cwd=ROOT, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert not (index_dir / "CURRENT").exists()
    assert [p.name for p in (index_dir / VERSIONS_DIR).iterdir()][0].startswith(".staging-")

    embedder = CountingEmbedder()
    resumed = build_index(bulk_corpus, index_dir, embedder, exact_up_to=THRESHOLD)
    assert resumed.sentences == ARTICLES * SENTENCES_EACH
    kept = 3 * math.ceil(500 / TEXTS_EACH) * SENTENCES_EACH  # the three batches finished before the kill
    assert resumed.embedded == resumed.sentences - kept
    assert [p.name for p in (index_dir / VERSIONS_DIR).iterdir()] == [resumed.version.name]
    retriever = Retriever.open(index_dir, embedder=HashingEmbedder())
    assert retriever.manifest.faiss_factory != EXACT
    assert retriever.search(_sentence(149, 19), k=1)[0].text == _sentence(149, 19)


def test_a_row_file_is_written_out_of_order_and_read_back_as_npy(tmp_path: Path) -> None:
    rows = np.arange(40, dtype=np.float32).reshape(10, 4)
    spool = RowFile(tmp_path / "rows.npy", 10, 4)
    spool.write(6, rows[6:])
    spool.write(0, rows[:6])
    assert np.array_equal(np.concatenate(list(spool.chunks(3))), rows)
    assert np.array_equal(spool.take(np.array([0, 4, 5, 9]), 3), rows[[0, 4, 5, 9]])
    with pytest.raises(ValueError, match="do not fit"):
        spool.write(8, rows[:3])
    spool.close()
    assert np.array_equal(np.load(tmp_path / "rows.npy"), rows)
