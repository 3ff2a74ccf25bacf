"""Lexical candidates: the FTS5 index of the sentences' terms, filled by every build, and what it adds."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from newsbot.corpus.terms import terms
from newsbot.index import IndexIncompatible, build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.manifest import FORMAT_VERSION, MANIFEST_FILE, METADATA_FILE, read_manifest
from newsbot.index.metadata import MetadataReader
from newsbot.index.store import write_checksums
from newsbot.index.version import open_version
from newsbot.retrieval import Retriever
from newsbot.retrieval.candidates import find_candidates

from tests.conftest import add_filler_articles
from tests.embedders import CountingEmbedder

RARE = "Nuland"
LONG_SENTENCE = ("Officials from several capitals met again on Tuesday to discuss trade routes, fishing quotas, "
                 "grain shipments, customs forms, harbour fees and weather reports, and agreed on nothing at all, "
                 f"spokeswoman Victoria {RARE} said.")


def _assert_every_term_finds_exactly_its_sentences(metadata: MetadataReader, sentences: int) -> None:
    """The FTS index agrees with the stored terms: each term matches the sentences holding it, no others."""
    stored = metadata.terms(range(sentences))
    holding: dict[str, set[int]] = {}
    for sentence, found in enumerate(stored):
        for term in found:
            holding.setdefault(term, set()).add(sentence)
    assert any("," in term for term in holding)  # numbers with separators ("5,400") are whole terms too
    for term, ids in holding.items():
        assert set(metadata.lexical_candidates({term}, sentences + 1).tolist()) == ids, term


def test_full_and_incremental_builds_index_every_sentence_s_terms(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    first = build_index(corpus_dir, index_dir, HashingEmbedder())
    metadata = MetadataReader(first.version / METADATA_FILE)
    _assert_every_term_finds_exactly_its_sentences(metadata, first.sentences)
    assert metadata.lexical_candidates({"zanzibarite"}, 10).size == 0
    assert metadata.lexical_candidates(set(), 10).size == 0  # a question without terms adds nothing
    metadata.close()

    (corpus_dir / "added.txt").write_text("title: Island news\n\nA zanzibarite was found on the beach.\n",
                                          encoding="utf-8")
    embedder = CountingEmbedder()
    second = build_index(corpus_dir, index_dir, embedder)
    assert sum(embedder.calls) == 2  # incremental: only the added sentence and its paragraph were embedded
    metadata = MetadataReader(second.version / METADATA_FILE)
    _assert_every_term_finds_exactly_its_sentences(metadata, second.sentences)
    [found] = metadata.lexical_candidates({"zanzibarite", "nothing-like-it"}, 10).tolist()
    assert metadata.texts([found]) == ["A zanzibarite was found on the beach."]
    metadata.close()


def test_bm25_ranks_the_sentences_with_the_rarer_terms_first(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    add_filler_articles(corpus, 3)  # every filler sentence holds "harbour"
    (corpus / "rare.txt").write_text(f"title: Briefing\n\nThe harbour was calm, {RARE} said.\n", encoding="utf-8")
    report = build_index(corpus, tmp_path / "idx", HashingEmbedder())
    metadata = MetadataReader(report.version / METADATA_FILE)
    ranked = metadata.lexical_candidates(terms(f"{RARE} harbour"), 5)
    assert len(ranked) == 5 and metadata.texts([int(ranked[0])]) == [f"The harbour was calm, {RARE} said."]
    metadata.close()


def test_a_rare_word_brings_in_the_sentence_the_embeddings_miss(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(30):  # 240 short sentences that look like the question to a bag-of-words embedder
        body = " ".join(f"Who is the spokeswoman {n} {m} of the harbour?" for m in range(8))
        (corpus / f"who{n:02d}.txt").write_text(f"title: Questions {n}\n\n{body}\n", encoding="utf-8")
    (corpus / "briefing.txt").write_text(f"title: Trade talks\n\n{LONG_SENTENCE}\n", encoding="utf-8")
    build_index(corpus, tmp_path / "idx", HashingEmbedder())
    question = f"Who is {RARE}?"
    version = open_version(tmp_path / "idx")
    retriever = Retriever(version, HashingEmbedder())
    try:
        target = next(i for i in range(version.manifest.sentences) if RARE in version.metadata.texts([i])[0])
        query = retriever.embedder.encode([question])
        [dense] = find_candidates(query, version.sentences, version.paragraphs, version.paragraph_vectors,
                                  version.sentence_paragraphs)
        assert target not in dense.ids  # the embeddings alone miss it
        [hybrid] = retriever.candidates([question])
        assert target in hybrid.ids and set(dense.ids) <= set(hybrid.ids)
        position = int(np.searchsorted(hybrid.ids, target))
        stored = version.sentences.reconstruct(target)
        assert hybrid.sentence_scores[position] == pytest.approx(float(stored @ query[0]), abs=1e-5)
        assert retriever.search(question, k=1)[0].text == LONG_SENTENCE  # and the reranker puts it first
    finally:
        retriever.close()


def test_an_index_from_before_the_lexical_index_is_refused_then_rebuilt(corpus_dir: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    old = build_index(corpus_dir, index_dir, HashingEmbedder()).version
    with sqlite3.connect(old / METADATA_FILE) as db:  # as the previous format wrote it: no FTS table
        db.execute("DROP TABLE sentence_terms")
    manifest = json.loads((old / MANIFEST_FILE).read_text())
    (old / MANIFEST_FILE).write_text(json.dumps({**manifest, "format_version": FORMAT_VERSION - 1}))
    write_checksums(old)
    with pytest.raises(IndexIncompatible, match=f"format version {FORMAT_VERSION - 1}.*run `newsbot index`"):
        Retriever.open(index_dir, embedder=HashingEmbedder())

    embedder = CountingEmbedder()
    rebuilt = build_index(corpus_dir, index_dir, embedder)  # what `newsbot index` runs
    assert rebuilt.version != old and sum(embedder.calls) == 0  # rebuilt from the embedding cache
    assert read_manifest(rebuilt.version).format_version == FORMAT_VERSION
    version = open_version(index_dir)
    assert version.metadata.lexical_candidates({"lavrov"}, 3).size == 3
    version.close()
