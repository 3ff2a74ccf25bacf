"""The benchmark suite's own logic (no timing is asserted anywhere: benchmarks measure, tests check)."""

from __future__ import annotations

import math

import pytest

from benchmarks.bot_throughput import Level, median_level
from newsbot.retrieval.evaluation.percentile import percentile
from benchmarks.suite import MEASUREMENTS, parse_options


def test_percentile_is_nearest_rank() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2
    assert percentile(range(1, 101), 99) == 99
    assert percentile([7], 99) == 7
    assert math.isnan(percentile([], 50))


def test_quick_shrinks_and_explicit_options_win() -> None:
    options, as_json = parse_options(["--quick", "--skip", "txtai,bot", "--rounds", "2", "--json"])
    assert options.only == tuple(m for m in MEASUREMENTS if m not in ("txtai", "bot"))
    assert options.rounds == 2 and options.articles == 4 and options.sizes == (10_000,) and as_json
    full, _ = parse_options([])
    assert full.only == MEASUREMENTS and full.articles is None and full.sizes == (10_000, 100_000, 1_000_000)


def test_an_unknown_measurement_is_refused() -> None:
    with pytest.raises(SystemExit):
        parse_options(["--only", "encode,speed"])


def _level(per_second: float, one_each: bool = True) -> Level:
    return Level(chats=200, mode="saturated", offered_per_second=None, answered=100, skipped=0,
                 per_second=per_second, p50_ms=per_second * 2, p99_ms=per_second * 3,
                 exactly_one_answer_each=one_each, bot_cpu_ms_per_message=1.0, fake_and_load_cpu_ms_per_message=0.5)


def test_a_level_reports_medians_and_any_round_that_lost_an_answer() -> None:
    merged = median_level([_level(90), _level(10, one_each=False), _level(50)])
    assert merged.per_second == 50 and merged.p99_ms == 150 and merged.answered == 300
    assert not merged.exactly_one_answer_each


def test_the_threshold_benchmark_embeds_each_question_once_across_its_indexes() -> None:
    from benchmarks.abstention_sizes import RememberingEmbedder
    from newsbot.index.hashing_embedder import HashingEmbedder
    from tests.embedders import CountingEmbedder

    inner = CountingEmbedder()
    remembering = RememberingEmbedder(inner)
    first, second = remembering.encode(["a", "b", "a"]), remembering.encode(["b", "c"])
    assert inner.calls == [2, 1] and remembering.name == inner.name
    expected = HashingEmbedder().encode(["a", "b", "a", "b", "c"])
    assert (first == expected[:3]).all() and (second == expected[3:]).all()
