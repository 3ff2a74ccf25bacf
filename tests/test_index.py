import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from newsbot.index import IndexBusy, IndexCorrupt, IndexIncompatible, IndexNotFound, IndexProblem, build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.manifest import FORMAT_VERSION, MANIFEST_FILE, VECTORS_FILE, read_manifest
from newsbot.index.metadata import MetadataReader
from newsbot.index.store import CURRENT_FILE, VERSIONS_DIR, current_version, write_checksums, writer_lock
from newsbot.retrieval import Retriever

from tests.embedders import CountingEmbedder

ROOT = Path(__file__).resolve().parents[1]


def _article(folder: Path, name: str, title: str, *sentences: str) -> None:
    (folder / name).write_text(f"title: {title}\nsource: Test Wire\ndate: 2024-05-01\n\n" + " ".join(sentences),
                               encoding="utf-8")


def test_manifest_describes_the_index(corpus_dir: Path, tmp_path: Path) -> None:
    report = build_index(corpus_dir, tmp_path / "idx", HashingEmbedder())
    manifest = read_manifest(report.version)
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model == "hashing" and manifest.dimension == 256
    assert manifest.metric == "inner_product" and manifest.faiss_index == "IndexFlatIP"
    assert manifest.articles == report.articles == 1
    assert manifest.sentences == report.sentences > 10
    assert len(manifest.corpus_fingerprint) == 64 and manifest.built_at
    stored = json.loads((report.version / MANIFEST_FILE).read_text())
    assert stored["format"] == "newsbot-index"
    assert manifest.paragraphs == 13 and manifest.embedding.startswith("title-sentence")
    assert {p.name for p in report.version.iterdir()} == {"manifest.json", "vectors.faiss", "metadata.sqlite",
                                                          "checksums.json", "paragraph_vectors.npy",
                                                          "sentence_paragraphs.npy", "paragraphs.faiss",
                                                          "term_frequencies.json", "embedding_keys.json"}
    assert manifest.paragraph_faiss_factory == "Flat" and manifest.paragraph_faiss_search == {}
    frequencies = json.loads((report.version / "term_frequencies.json").read_text())
    assert frequencies["documents"] == manifest.sentences
    assert frequencies["document_frequency"]["lavrov"] >= 2  # in the title, so in every sentence's terms


def test_each_paragraph_stores_the_terms_of_its_sentences_in_vector_order(corpus_dir: Path, tmp_path: Path) -> None:
    report = build_index(corpus_dir, tmp_path / "idx", HashingEmbedder())
    manifest = read_manifest(report.version)
    metadata = MetadataReader(report.version / "metadata.sqlite")
    paragraph_of = np.load(report.version / "sentence_paragraphs.npy")
    sentence_terms = metadata.terms(range(manifest.sentences))
    paragraph_terms = metadata.paragraph_terms(range(manifest.paragraphs))
    for row in range(manifest.paragraphs):
        assert paragraph_terms[row] == frozenset().union(*(t for t, p in zip(sentence_terms, paragraph_of) if p == row))
    assert metadata.texts([1, 0]) == [s.text for s in metadata.sentences([1, 0])]
    with pytest.raises(IndexCorrupt):
        metadata.paragraph_terms([manifest.paragraphs])
    metadata.close()


def test_rebuild_embeds_only_new_or_changed_articles(corpus_dir: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    index_dir = tmp_path / "idx"
    first = build_index(corpus_dir, index_dir, embedder)
    assert first.embedded == first.sentences
    first_texts = sum(embedder.calls)

    again = build_index(corpus_dir, index_dir, embedder)
    assert again.up_to_date and again.embedded == 0 and again.version == first.version

    _article(corpus_dir, "new.txt", "Quake strikes", "An earthquake struck the coast.", "Nobody was hurt.")
    added = build_index(corpus_dir, index_dir, embedder)
    assert not added.up_to_date and added.articles == 2
    assert added.embedded == 2 and sum(embedder.calls) == first_texts + 3  # 2 sentences, 1 paragraph
    assert current_version(index_dir) == added.version
    hits = Retriever.open(index_dir, embedder=embedder).search("earthquake struck coast", k=1)
    assert hits[0].article.title == "Quake strikes"


def test_the_previous_version_is_kept_and_older_ones_removed(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    versions = []
    for n in range(3):
        _article(corpus_dir, f"a{n}.txt", f"Story {n}", f"Sentence number {n}.")
        versions.append(build_index(corpus_dir, index_dir, HashingEmbedder()).version)
    remaining = {p.name for p in (index_dir / VERSIONS_DIR).iterdir()}
    assert remaining == {versions[1].name, versions[2].name}


def test_a_reader_keeps_its_version_while_a_new_one_is_swapped_in(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    build_index(corpus_dir, index_dir, HashingEmbedder())
    reader = Retriever.open(index_dir, embedder=HashingEmbedder())
    before = reader.search("Lavrov sanctions", k=3)
    _article(corpus_dir, "new.txt", "Other news", "Lavrov sanctions Lavrov sanctions.")
    build_index(corpus_dir, index_dir, HashingEmbedder())
    assert reader.search("Lavrov sanctions", k=3) == before
    assert Retriever.open(index_dir, embedder=HashingEmbedder()).search("Lavrov sanctions", k=1)[0].article.id == "new.txt"


def test_a_second_writer_is_refused(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    with writer_lock(index_dir):
        with pytest.raises(IndexBusy, match="another index build"):
            build_index(corpus_dir, index_dir, HashingEmbedder())
    assert build_index(corpus_dir, index_dir, HashingEmbedder()).articles == 1


def test_an_unreadable_corpus_changes_nothing(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    good = build_index(corpus_dir, index_dir, HashingEmbedder())
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "bad.txt").write_bytes(b"\x00\x01")
    with pytest.raises(IndexProblem, match="bad.txt"):
        build_index(empty, index_dir, HashingEmbedder())
    assert current_version(index_dir) == good.version


def test_loading_refuses_missing_other_model_unknown_format_and_damage(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    with pytest.raises(IndexNotFound, match="newsbot index"):
        Retriever.open(index_dir, embedder=HashingEmbedder())
    version = build_index(corpus_dir, index_dir, HashingEmbedder()).version

    with pytest.raises(IndexIncompatible, match="built with the model hashing.*newsbot index"):
        Retriever.open(index_dir, model="some/other-model")

    manifest = json.loads((version / MANIFEST_FILE).read_text())
    (version / MANIFEST_FILE).write_text(json.dumps({**manifest, "format_version": 99}))
    write_checksums(version)  # as a future newsbot would have written it
    with pytest.raises(IndexIncompatible, match="format version 99.*newsbot index"):
        Retriever.open(index_dir, embedder=HashingEmbedder())
    (version / MANIFEST_FILE).write_text(json.dumps(manifest))

    vectors = version / VECTORS_FILE
    vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    with pytest.raises(IndexCorrupt, match="newsbot index"):
        Retriever.open(index_dir, embedder=HashingEmbedder())

    (index_dir / CURRENT_FILE).write_text("no-such-version\n")
    with pytest.raises(IndexCorrupt, match="does not hold the name of an index version"):
        Retriever.open(index_dir, embedder=HashingEmbedder())


KILLABLE_BUILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import newsbot.index.build
    from newsbot.index import build_index
    from newsbot.index.hashing_embedder import HashingEmbedder

    newsbot.index.build.SENTENCES_PER_BATCH = 250

    class SlowEmbedder(HashingEmbedder):
        calls = 0

        def encode(self, texts):
            SlowEmbedder.calls += 1
            Path(sys.argv[3]).write_text(str(SlowEmbedder.calls))
            time.sleep(0.5)
            return super().encode(texts)

    build_index(Path(sys.argv[1]), Path(sys.argv[2]), SlowEmbedder())
""")


def test_a_build_killed_half_way_leaves_the_old_index_serving(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    old = build_index(corpus_dir, index_dir, HashingEmbedder())
    for n in range(100):  # 1,000 sentences: four embedding batches of 250
        _article(corpus_dir, f"bulk{n:02d}.txt", f"Bulk {n}",
                 *[f"Filler sentence {n} {m} about topic {n * m}." for m in range(10)])
    marker = tmp_path / "started"
    process = subprocess.Popen([sys.executable, "-c", KILLABLE_BUILD, str(corpus_dir), str(index_dir), str(marker)],
                               cwd=ROOT)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:  # kill once the second batch has begun
        if marker.exists() and marker.read_text() == "2":
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    assert current_version(index_dir) == old.version
    survivor = Retriever.open(index_dir, embedder=HashingEmbedder())
    assert survivor.manifest.articles == 1 and survivor.search("Lavrov", k=1)

    embedder = CountingEmbedder()
    resumed = build_index(corpus_dir, index_dir, embedder)
    assert resumed.articles == 101
    assert 0 < resumed.embedded < resumed.sentences - old.sentences  # finished work was reused
    leftovers = [p.name for p in (index_dir / VERSIONS_DIR).iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert not list(index_dir.rglob("*.partial"))


@pytest.mark.parametrize("damaged", ["term_frequencies.json", "paragraph_vectors.npy", "metadata.sqlite"])
def test_a_missing_or_damaged_companion_file_is_refused(corpus_dir: Path, tmp_path: Path, damaged: str) -> None:
    version = build_index(corpus_dir, tmp_path / "idx", HashingEmbedder()).version
    (version / damaged).write_bytes(b"not what it should be")
    with pytest.raises(IndexCorrupt, match="newsbot index"):
        Retriever.open(tmp_path / "idx", embedder=HashingEmbedder())


def test_cached_vectors_of_another_width_are_refused_with_what_to_do(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    good = build_index(corpus_dir, index_dir, HashingEmbedder(256))
    _article(corpus_dir, "new.txt", "Other news", "A sentence of its own.")
    with pytest.raises(IndexProblem, match="cached ones have 256.*cache/ folder"):
        build_index(corpus_dir, index_dir, HashingEmbedder(384))  # same model name, another width
    assert current_version(index_dir) == good.version
