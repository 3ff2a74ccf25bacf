"""The service: concurrent answers equal the core's answers; rebuild refusals; stats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from newsbot.bot.service import BuildRunning, Progress, Service
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.retrieval.confidence import default_min_confidence
from tests.conftest import add_filler_articles


@pytest.fixture
async def service(tmp_path: Path, corpus_dir: Path) -> Service:
    opened = await asyncio.to_thread(Service.open, corpus_dir, tmp_path / "index", embedder=HashingEmbedder())
    yield opened
    opened.close()


async def test_concurrent_questions_each_get_their_own_answer(service: Service) -> None:
    questions = ["Russia sanctions", "Lavrov Moscow", "qwertyuiop", "Arab League observers"] * 10
    answers = await asyncio.gather(*(service.answer(q, 2) for q in questions))
    assert [a.question for a in answers] == questions
    assert answers == [service.retriever.answer(q, 2) for q in questions]


async def test_a_second_build_is_refused_while_one_runs(service: Service) -> None:
    first = asyncio.create_task(service.reindex(Progress(), force=True))
    await asyncio.sleep(0)  # let the first build claim the builder
    with pytest.raises(BuildRunning):
        await service.reindex(Progress())
    report = await first
    assert not report.up_to_date and service.retriever.version_dir == report.version


async def test_stats_report_latency_percentiles(service: Service) -> None:
    for millis in range(1, 101):
        service.record_answer(millis / 1000)
    stats = service.stats()
    assert stats.questions == 100 and stats.model == "hashing"
    assert (stats.latency_p50, stats.latency_p90, stats.latency_p99) == (0.05, 0.09, 0.099)


@pytest.mark.parametrize("given", [None, 0.5])
async def test_a_rebuild_keeps_a_given_threshold_or_follows_the_new_size(tmp_path: Path, corpus_dir: Path,
                                                                         given: float | None) -> None:
    service = await asyncio.to_thread(Service.open, corpus_dir, tmp_path / "index", embedder=HashingEmbedder(),
                                      min_confidence=given)
    try:
        add_filler_articles(corpus_dir, 30, sentences=100)
        before, sentences_before = service.retriever.min_confidence, service.retriever.manifest.sentences
        await service.reindex(Progress())
        after = service.retriever
        assert after.manifest.sentences > 2_600
        if given is None:
            assert after.min_confidence == default_min_confidence(after.manifest.sentences) > before
            assert before == default_min_confidence(sentences_before)
        else:
            assert after.min_confidence == before == given
    finally:
        service.close()
