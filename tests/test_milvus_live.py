"""The Milvus store as a live, shared index: exact vectors, old collections dropped, articles added to the live
collections as a new generation (readers see one generation whole), and IVF_SQ8 ranking as the files do.

Milvus Lite in this process, the fake embedder (untied: `tests.embedders.UntiedEmbedder`, so no two sentences
tie and both stores must order alike).
"""

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from newsbot.corpus import BUNDLED_CORPUS_DIR  # noqa: E402
from newsbot.index import build_index  # noqa: E402
from newsbot.index import milvus_publish, milvus_store  # noqa: E402
from newsbot.index.manifest import Manifest  # noqa: E402
from newsbot.index.milvus_publish import plan_additions, write_version  # noqa: E402
from newsbot.index.milvus_store import collection_prefix, connect, open_milvus_version  # noqa: E402
from newsbot.index.stores import MilvusLiteStore, current_revision, publish_to_store  # noqa: E402
from newsbot.index.version import IndexVersion, open_version  # noqa: E402
from newsbot.retrieval import Retriever  # noqa: E402

from tests.conftest import SEED_QUESTION, add_filler_articles  # noqa: E402
from tests.embedders import UntiedEmbedder  # noqa: E402
from tests.reliability import Record  # noqa: E402

QUESTIONS = [SEED_QUESTION, "What did Lavrov say about sanctions?", "Who vetoed the resolution?",
             "harbour topic 12", "Filler sentence 3 about harbour", "lighthouse keeper storm",
             "When did the ferry reach the island?", "What does Russia prefer?", "harbour topic 40"]
LATE = ("title: Lighthouse keeper\nsource: Coast News\npublished: 2012-02-02\n\nThe lighthouse keeper watched the "
        "storm for three nights. The ferry reached the island on Sunday. Harbour topic 40 was closed.\n")


def _corpus(folder: Path, fillers: int = 12) -> Path:
    corpus = folder / "corpus"
    shutil.copytree(BUNDLED_CORPUS_DIR, corpus)
    add_filler_articles(corpus, fillers)
    return corpus


def _wire_copy(corpus: Path) -> None:
    """A republished copy of the seed story on another site: cited with it, not indexed."""
    seed = sorted(corpus.glob("*.txt"))[0]
    header, body = seed.read_text(encoding="utf-8").split("\n\n", 1)
    (corpus / "zz-copy.txt").write_text(f"title: {header.splitlines()[0]}\nsource: Wire Copy\npublished: 2012-01-26\n"
                                        f"url: https://example.org/copy\n\n{body}", encoding="utf-8")


def _top5(version: IndexVersion, questions: Sequence[str] = QUESTIONS) -> list[list[tuple[str, str]]]:
    """Each question's five best sentences by text and cited article (sentence ids differ between stores once
    articles were inserted: Milvus appends them, the files number them in corpus order)."""
    retriever = Retriever(version, UntiedEmbedder())
    return [[(hit.text, hit.article.id) for hit in hits] for hits in retriever.search_many(list(questions), k=5)]


def _collections(store: MilvusLiteStore) -> list[str]:
    client = connect(store)
    try:
        return sorted(client.list_collections())
    finally:
        client.close()


def _open(store: MilvusLiteStore) -> IndexVersion:
    return open_milvus_version(connect(store))


def _files(index: Path) -> IndexVersion:
    return open_version(index)


def test_milvus_holds_the_float32_vectors_the_build_embedded_not_the_ivf_codes(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, fillers=20)
    embedder = UntiedEmbedder()
    build_index(corpus, tmp_path / "index", embedder, exact_up_to=50)  # ~170 sentences: IVF,SQ8 in FAISS
    store = MilvusLiteStore(tmp_path / "m.db")
    publish_to_store(store, tmp_path / "index")
    files, milvus = _files(tmp_path / "index"), _open(store)
    try:
        assert files.manifest.faiss_factory.startswith("IVF") and milvus.manifest == files.manifest
        ids = np.arange(files.manifest.sentences)
        stored = milvus.metadata.sentences(ids.tolist())
        embedded = embedder.encode([f"{sentence.article.title}: {sentence.text}" for sentence in stored])
        np.testing.assert_allclose(milvus.sentences.reconstruct_batch(ids), embedded, atol=1e-6)
        decoded = files.sentences.reconstruct_batch(ids)
        assert np.abs(decoded - embedded).max() > 1e-4  # what the copy used to hold: the 8-bit codes, decoded
    finally:
        files.close()
        milvus.close()


def test_without_its_embedding_cache_a_version_is_copied_with_its_faiss_vectors(tmp_path: Path) -> None:
    """The cache deleted (or a version built before the keys were recorded): the index's own vectors, exact for
    a flat index, are copied instead."""
    corpus = _corpus(tmp_path, fillers=2)
    build_index(corpus, tmp_path / "index", UntiedEmbedder())
    shutil.rmtree(tmp_path / "index" / "cache")
    store = MilvusLiteStore(tmp_path / "m.db")
    publish_to_store(store, tmp_path / "index")
    files, milvus = _files(tmp_path / "index"), _open(store)
    try:
        ids = np.arange(files.manifest.sentences)
        np.testing.assert_array_equal(milvus.sentences.reconstruct_batch(ids), files.sentences.reconstruct_batch(ids))
    finally:
        files.close()
        milvus.close()


def _published(folder: Path) -> tuple[Path, Path, MilvusLiteStore, str, list[list[tuple[str, str]]]]:
    """A corpus indexed and published to Milvus Lite: corpus, index folder, store, revision, top 5s."""
    corpus = _corpus(folder)
    index, store = folder / "index", MilvusLiteStore(folder / "m.db")
    build_index(corpus, index, UntiedEmbedder())
    publish_to_store(store, index)
    version = _open(store)
    try:
        return corpus, index, store, version.folder.name, _top5(version)
    finally:
        version.close()


def test_a_version_that_adds_articles_is_inserted_into_the_live_collections(tmp_path: Path) -> None:
    corpus, index, store, first, old_answers = _published(tmp_path)
    before, collections = _open(store), _collections(store)
    (corpus / "late.txt").write_text(LATE, encoding="utf-8")
    add_filler_articles(corpus, 15)  # three more after the twelve
    _wire_copy(corpus)  # a copy attached to an existing article's citation
    build_index(corpus, index, UntiedEmbedder())
    publish_to_store(store, index)
    files, after = _files(index), _open(store)
    try:
        prefix = first.split("@")[0]
        assert first == f"{prefix}@0" and current_revision(store, index) == f"{prefix}@1" == after.folder.name
        assert _collections(store) == collections  # the same collections, one generation on
        assert after.manifest.sentences == files.manifest.sentences > before.manifest.sentences
        assert after.manifest == files.manifest and dict(after.document_frequencies) == dict(files.document_frequencies)
        assert after.metadata.articles() == files.metadata.articles()
        assert any(article.copies for article in after.metadata.articles())
        assert _top5(after) == _top5(files) != old_answers
        assert any(article == "late.txt" for hits in _top5(after) for _, article in hits)
        assert _top5(before) == old_answers  # a reader of the old generation reads none of the inserted rows
    finally:
        for version in (files, after, before):
            version.close()


def test_a_killed_insert_leaves_the_old_generation_and_the_next_publish_repairs_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reliability: Record) -> None:
    corpus, index, store, first, old_answers = _published(tmp_path)
    assert current_revision(store, index) == first
    (corpus / "late.txt").write_text(LATE, encoding="utf-8")
    build_index(corpus, index, UntiedEmbedder())

    def killed(*_: object) -> None:  # every row is in; the posting lists and the records are not
        raise RuntimeError("killed")

    with monkeypatch.context() as patched:
        patched.setattr(milvus_publish, "_store_postings", killed)
        with pytest.raises(RuntimeError):
            publish_to_store(store, index)
    assert current_revision(store, index) == first
    reader = _open(store)
    try:
        assert reader.folder.name == first and _top5(reader) == old_answers
    finally:
        reader.close()
    publish_to_store(store, index)
    files, repaired = _files(index), _open(store)
    try:
        assert repaired.folder.name == first.replace("@0", "@1") == current_revision(store, index)
        assert _top5(repaired) == _top5(files)
        ids = list(range(repaired.manifest.sentences))
        assert sorted(repaired.metadata.texts(ids)) == sorted(files.metadata.texts(ids))
    finally:
        files.close()
        repaired.close()
    reliability("Index faults", "Milvus: an insert of added articles into the live collections killed after its rows", 1,
                "the old generation keeps serving, its answers unchanged; the next publish deletes the partial rows "
                "and inserts the generation whole")


def test_a_changed_article_or_index_type_gets_new_collections_and_old_ones_are_dropped(
        tmp_path: Path, reliability: Record) -> None:
    corpus = _corpus(tmp_path)
    index, store = tmp_path / "index", MilvusLiteStore(tmp_path / "m.db")
    prefixes = []
    for change in range(3):
        (corpus / "bulk00.txt").write_text(f"title: Bulk 0\nsource: Wire\n\nEdition {change} of the harbour news.\n",
                                           encoding="utf-8")
        build_index(corpus, index, UntiedEmbedder())
        publish_to_store(store, index)
        prefixes.append(current_revision(store, index))
    assert len(set(prefixes)) == 3 and all(name.endswith("@0") for name in prefixes)
    kept = {name.split("_")[1] for name in _collections(store)}  # newsbot_<version>_<part>
    assert {prefix.split("@")[0].split("_")[1] for prefix in prefixes[1:]} == kept  # the current and previous
    client = connect(store)  # a copy killed before its alias moved leaves partial collections behind
    try:
        client.create_collection("newsbot_killed_sentences", dimension=2)
        client.create_collection("not_ours_sentences", dimension=2)
    finally:
        client.close()
    build_index(corpus, index, UntiedEmbedder(), exact_up_to=50)  # the index type changes: new collections
    publish_to_store(store, index)
    names = _collections(store)
    assert "newsbot_killed_sentences" not in names and "not_ours_sentences" in names
    assert len([name for name in names if name.startswith("newsbot_")]) == 10
    assert current_revision(store, index).endswith("@0") and current_revision(store, index) != prefixes[-1]
    reliability("Index faults", "Milvus: the partial collections of a copy killed before its alias moved", 1,
                "dropped by the next publish, with every version older than the previous one; other collections "
                "kept")


def _manifest(**changes: object) -> Manifest:
    fields = dict(model="m", dimension=4, metric="inner_product", faiss_index="IndexFlatIP", faiss_factory="Flat",
                  faiss_training_sample=0, faiss_search={}, paragraph_faiss_factory="Flat", paragraph_faiss_search={},
                  articles=2, copies=0, sentences=3, paragraphs=2, corpus_fingerprint="x", segmenter="s",
                  embedding="e", built_at="t", build_seconds=0.0)
    return Manifest(**{**fields, **changes})


def test_only_added_articles_and_changed_copies_are_inserted() -> None:
    a, b = ("a", "fa", [["a", "A", None, None, None]]), ("b", "fb", [["b", "B", None, None, None]])
    c = ("c", "fc", [["c", "C", None, None, None]])
    b_copied = ("b", "fb", [["b", "B", None, None, None], ["b2", "B", "Other", None, None]])
    served = _manifest()
    planned = plan_additions(served, [a, b], _manifest(articles=4), [c, a, b_copied])
    assert planned is not None and planned.articles == (0,) and planned.citations == {1: b_copied[2]}
    assert plan_additions(served, [a, b], served, [a, ("b", "changed", b[2]), c]) is None
    assert plan_additions(served, [a, b], served, [a, c]) is None  # b removed
    assert plan_additions(served, [a, b], _manifest(faiss_factory="IVF2,SQ8"), [a, b, c]) is None
    assert plan_additions(served, [a, b], _manifest(model="other"), [a, b, c]) is None


def test_write_version_still_copies_a_version_under_any_prefix(tmp_path: Path) -> None:
    """The benchmarks and tests copy a version directly; the copy is generation 0 of its prefix."""
    corpus = _corpus(tmp_path, fillers=2)
    build_index(corpus, tmp_path / "index", UntiedEmbedder())
    files = _files(tmp_path / "index")
    client = connect(MilvusLiteStore(tmp_path / "m.db"))
    try:
        write_version(client, files, collection_prefix(files.folder.name))
        assert milvus_store.current_revision(client) == collection_prefix(files.folder.name) + "@0"
    finally:
        client.close()
        files.close()


def test_eval_through_a_milvus_store_of_its_own_measures_what_the_files_measure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from newsbot.bot.cli import main
    from tests.test_evaluate import RECORD

    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text("".join(json.dumps({**RECORD, "id": f"t-{n}"}) + "\n" for n in range(4)), encoding="utf-8")
    command = ["eval", str(dataset), "--model", "hashing", "--json"]
    measured = {}
    for name, extra in (("files", []), ("milvus", ["--store", f"milvus://{tmp_path / 'eval.db'}"])):
        assert main([*command, *extra]) == 0
        report = json.loads(capsys.readouterr().out)
        measured[name] = {segmentation: {key: value for key, value in figures.items() if not key.endswith("_seconds")}
                          for segmentation, figures in report["segmentations"].items()}
    assert measured["milvus"] == measured["files"] and measured["files"]["dataset"]["pairs"] > 0
    assert current_revision(MilvusLiteStore(tmp_path / "eval.db"), tmp_path) is not None  # it went through Milvus
    monkeypatch.setenv("NEWSBOT_STORE", f"milvus://{tmp_path / 'eval.db'}")  # never the store the bot serves from
    assert main([*command, "--store", f"milvus://{tmp_path / 'eval.db'}"]) == 2
    assert "NEWSBOT_STORE" in capsys.readouterr().err
    assert main([*command, "--store", str(tmp_path / "folder")]) == 2


def test_above_the_ivf_threshold_both_stores_rank_nearly_alike(tmp_path: Path) -> None:
    """An IVF,SQ8 index (forced at ~500 sentences) in FAISS and IVF_SQ8 in Milvus: not the same ranking by
    construction. Both probe every list here (nprobe = nlist = 8), so the candidates agree; but the files rescore
    them from FAISS's 8-bit codes (about 1e-3 off in cosine) and Milvus from the exact vectors, and the fake
    embedder's filler sentences lie closer than that, so near-ties swap. Measured: the same first sentence for
    every question, 92% of the top 5 shared; asserted with a margin."""
    corpus = _corpus(tmp_path, fillers=60)
    build_index(corpus, tmp_path / "index", UntiedEmbedder(), exact_up_to=50)
    store = MilvusLiteStore(tmp_path / "m.db")
    publish_to_store(store, tmp_path / "index")
    files, milvus = _files(tmp_path / "index"), _open(store)
    try:
        assert files.manifest.faiss_factory == "IVF8,SQ8" and milvus.manifest.faiss_search == {"nprobe": 8}
        questions = QUESTIONS + [f"harbour topic {n}" for n in range(0, 200, 7)] + [
            f"Filler sentence {n} {m}" for n in range(0, 60, 5) for m in (1, 4)]
        from_files, from_milvus = _top5(files, questions), _top5(milvus, questions)
        first = np.mean([a[:1] == b[:1] for a, b in zip(from_files, from_milvus)])
        shared = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(from_files, from_milvus)])
        assert first >= 0.9 and shared >= 0.85, (first, shared)
    finally:
        files.close()
        milvus.close()
    (corpus / "late.txt").write_text(LATE, encoding="utf-8")  # the index type stays IVF8,SQ8: inserted
    build_index(corpus, tmp_path / "index", UntiedEmbedder(), exact_up_to=50)
    publish_to_store(store, tmp_path / "index")
    files, milvus = _files(tmp_path / "index"), _open(store)
    try:
        assert milvus.folder.name.endswith("@1") and milvus.manifest == files.manifest
        assert milvus.manifest.faiss_factory == "IVF8,SQ8" and milvus.manifest.faiss_search == {"nprobe": 8}
        [[(text, article), *_]] = _top5(milvus, ["lighthouse keeper storm three nights"])
        assert article == "late.txt" and "lighthouse" in text
    finally:
        files.close()
        milvus.close()
