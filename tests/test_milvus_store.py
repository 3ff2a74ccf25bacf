"""The Milvus store (Milvus Lite, in this process) answers exactly as the files store does on the same version.

A small corpus is indexed to files with the fake embedder (untied: `tests.embedders.UntiedEmbedder`), copied into Milvus Lite (`index.milvus_store`),
and both are opened through the same `IndexVersion` seam: every reader call and every ranking must agree.
"""

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from newsbot.corpus import BUNDLED_CORPUS_DIR  # noqa: E402
from newsbot.corpus.terms import terms  # noqa: E402
from newsbot.index import build_index  # noqa: E402
from newsbot.index.errors import IndexNotFound  # noqa: E402
from newsbot.index.milvus_publish import write_version  # noqa: E402
from newsbot.index.milvus_store import collection_prefix, connect, open_milvus_version  # noqa: E402
from newsbot.index.stores import MilvusLiteStore, current_revision  # noqa: E402
from newsbot.index.version import IndexVersion, SentenceMetadata, VectorSearch, open_version  # noqa: E402
from newsbot.retrieval import Retriever  # noqa: E402

from tests.conftest import SEED_QUESTION, add_filler_articles  # noqa: E402
from tests.embedders import UntiedEmbedder  # noqa: E402

QUESTIONS = [SEED_QUESTION, "What did Lavrov say about sanctions?", "Who vetoed the resolution?",
             "harbour topic 12", "When did the Arab League mission start?", "Filler sentence 3 about harbour",
             "qwertyuiop zxcvbnm", "What does Russia prefer?", "Where did Beyoncé sing?"]
TODAY = date(2012, 2, 1)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IndexVersion, IndexVersion]]:
    """The same version opened from its files and from Milvus Lite."""
    folder = tmp_path_factory.mktemp("milvus")
    corpus = folder / "corpus"
    shutil.copytree(BUNDLED_CORPUS_DIR, corpus)
    seed = next(corpus.glob("*.txt"))
    header, body = seed.read_text(encoding="utf-8").split("\n\n", 1)
    # a wire copy on another site (cited with the story, not indexed) and a later report of the same story
    (corpus / "copy.txt").write_text(f"title: {header.splitlines()[0]}\nsource: Wire Copy\npublished: 2012-01-26\n"
                                     f"url: https://example.org/copy\n\n{body}", encoding="utf-8")
    add_filler_articles(corpus, 30)
    (corpus / "accents.txt").write_text("title: Beyoncé in Zürich\nsource: Wire\n\nBeyoncé sang in Zürich on "
                                        "Friday. The Café Müller crowd numbered 5,400.\n", encoding="utf-8")
    build_index(corpus, folder / "index", embedder=UntiedEmbedder())
    files = open_version(folder / "index")
    client = connect(MilvusLiteStore(folder / "newsbot.db"))
    write_version(client, files, collection_prefix(files.folder.name))
    milvus = open_milvus_version(connect(MilvusLiteStore(folder / "newsbot.db")))
    yield files, milvus
    files.close()
    milvus.close()
    client.close()


def test_the_milvus_version_meets_the_interface_and_holds_the_whole_version(
        stores: tuple[IndexVersion, IndexVersion]) -> None:
    files, milvus = stores
    assert isinstance(milvus.sentences, VectorSearch) and isinstance(milvus.metadata, SentenceMetadata)
    assert milvus.manifest == files.manifest and milvus.sentences.ntotal == files.manifest.sentences > 100
    assert dict(milvus.document_frequencies) == dict(files.document_frequencies)
    np.testing.assert_array_equal(milvus.sentence_paragraphs, files.sentence_paragraphs)
    np.testing.assert_array_equal(milvus.paragraph_vectors, files.paragraph_vectors)
    ids = list(range(files.manifest.sentences))
    assert milvus.metadata.sentences(ids) == files.metadata.sentences(ids)
    assert milvus.metadata.terms(ids[::-1]) == files.metadata.terms(ids[::-1])
    np.testing.assert_array_equal(milvus.metadata.articles_of(ids), files.metadata.articles_of(ids))
    rows = list(range(files.manifest.paragraphs))
    assert milvus.metadata.paragraph_terms(rows) == files.metadata.paragraph_terms(rows)
    assert milvus.metadata.articles() == files.metadata.articles()
    assert any(article.copies for article in files.metadata.articles())  # the copy is carried over
    for article in set(files.metadata.articles_of(ids).tolist()):
        assert milvus.metadata.article_terms(article) == files.metadata.article_terms(article)
    np.testing.assert_array_equal(milvus.sentences.reconstruct_batch(np.array([5, 0, 7])),
                                  files.sentences.reconstruct_batch(np.array([5, 0, 7])))


def test_lexical_candidates_are_fts5s_bm25_order(stores: tuple[IndexVersion, IndexVersion]) -> None:
    """Every single term and many pairs find the same sentences in the same order as SQLite's FTS5."""
    files, milvus = stores
    vocabulary = sorted(files.document_frequencies)
    rng = np.random.default_rng(7)
    asked = [{term} for term in vocabulary] + [set(rng.choice(vocabulary, 3)) for _ in range(200)]
    disagreeing = [query for query in asked
                   if milvus.metadata.lexical_candidates(query, 10).tolist()
                   != files.metadata.lexical_candidates(query, 10).tolist()]
    assert not disagreeing, disagreeing[:5]


def test_both_stores_rank_and_answer_alike(stores: tuple[IndexVersion, IndexVersion]) -> None:
    files, milvus = stores
    embedder = UntiedEmbedder()
    from_files, from_milvus = Retriever(files, embedder), Retriever(milvus, embedder)
    for question in QUESTIONS:
        [expected], [got] = from_files.candidates([question]), from_milvus.candidates([question])
        np.testing.assert_array_equal(got.ids, expected.ids)
        np.testing.assert_allclose(got.sentence_scores, expected.sentence_scores, atol=1e-6)
        np.testing.assert_allclose(got.paragraph_scores, expected.paragraph_scores, atol=1e-6)
        ranked_ids, ranked_scores = from_milvus.rank(question, got)
        expected_ids, expected_scores = from_files.rank(question, expected)
        np.testing.assert_array_equal(ranked_ids, expected_ids)
        np.testing.assert_allclose(ranked_scores, expected_scores, atol=1e-5)
    assert ([answer.to_dict() for answer in from_milvus.answer_many(QUESTIONS, today=TODAY)]
            == [answer.to_dict() for answer in from_files.answer_many(QUESTIONS, today=TODAY)])
    assert any(answer.found for answer in from_files.answer_many(QUESTIONS, today=TODAY))


def test_an_empty_milvus_is_refused_with_what_to_run(tmp_path: Path) -> None:
    assert current_revision(MilvusLiteStore(tmp_path / "empty.db"), tmp_path) is None
    client = connect(MilvusLiteStore(tmp_path / "empty.db"))
    try:
        with pytest.raises(IndexNotFound, match="newsbot index"):
            open_milvus_version(client)
    finally:
        client.close()


def test_terms_of_the_question_reach_the_lexical_search(stores: tuple[IndexVersion, IndexVersion]) -> None:
    """A rare word of the corpus finds its sentence in Milvus, as the retriever asks for it."""
    files, milvus = stores
    target = next(i for i in range(files.manifest.sentences) if "Lavrov" in files.metadata.texts([i])[0])
    rare = sorted(terms("Lavrov"))
    assert target in milvus.metadata.lexical_candidates(rare, 50).tolist()


def test_index_then_ask_through_milvus_lite_answers_as_the_files_do(
        corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`newsbot index` copies its build into the store NEWSBOT_STORE names, and `newsbot ask` reads it there."""
    from newsbot.bot.cli import main

    dirs = ["--corpus-dir", str(corpus_dir), "--index-dir", str(tmp_path / "idx"), "--model", "hashing"]
    question = ["ask", *dirs, "--json", "Russia and China vetoed a previous European attempt"]
    monkeypatch.setenv("NEWSBOT_STORE", f"milvus://{tmp_path / 'milvus' / 'newsbot.db'}")
    assert main(["index", *dirs]) == 0 and (tmp_path / "milvus" / "newsbot.db").exists()
    capsys.readouterr()
    assert main(question) == 0
    from_milvus = capsys.readouterr().out
    monkeypatch.delenv("NEWSBOT_STORE")
    assert main(question) == 0
    assert from_milvus == capsys.readouterr().out and '"found": true' in from_milvus
    # a new version is copied and made current; the one Milvus serves already is not copied again
    client = connect(MilvusLiteStore(tmp_path / "milvus" / "newsbot.db"))
    try:
        before = sorted(client.list_collections())
        monkeypatch.setenv("NEWSBOT_STORE", f"milvus://{tmp_path / 'milvus' / 'newsbot.db'}")
        assert main(["index", *dirs]) == 0
        assert sorted(client.list_collections()) == before and len(before) == 5
        revision = current_revision(MilvusLiteStore(tmp_path / "milvus" / "newsbot.db"), tmp_path / "idx")
        files = open_version(tmp_path / "idx")
        files.close()
        assert revision == collection_prefix(files.folder.name) + "@0"
    finally:
        client.close()


def test_terms_too_common_for_a_posting_list_are_found_by_scanning(stores: tuple[IndexVersion, IndexVersion],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A term held by more sentences than have posting lists (none the retriever asks for) is still found, in
    FTS5's order: read as if only terms held by one sentence had posting lists."""
    from newsbot.index import milvus_store

    files, milvus = stores
    monkeypatch.setattr(milvus_store, "POSTED_TERM_SENTENCES", 1)
    common = [term for term, count in files.document_frequencies.items() if count > 3][:20]
    assert common
    for term in common:
        rare = next(t for t, count in files.document_frequencies.items() if count == 1)
        assert (milvus.metadata.lexical_candidates({term, rare}, 10).tolist()
                == files.metadata.lexical_candidates({term, rare}, 10).tolist()), term
