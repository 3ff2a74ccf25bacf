"""The benchmark suite's own logic (no timing is asserted anywhere: benchmarks measure, tests check)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import pytest

from benchmarks import quality
from benchmarks.bot_throughput import Level, median_level
from benchmarks.report import MarkerError, markers, write_block
from benchmarks.stats import machine, summary_ms
from benchmarks.suite import MEASUREMENTS, Report, parse_options, write_docs
from newsbot.retrieval.evaluation.percentile import percentile


def test_percentile_is_nearest_rank() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2
    assert percentile(range(1, 101), 99) == 99
    assert percentile([7], 99) == 7
    assert math.isnan(percentile([], 50))


def test_a_latency_summary_gives_nearest_rank_p50_and_p99() -> None:
    assert summary_ms([4.0, 1.0, 3.0, 2.0]) == {"samples": 4, "p50_ms": 2.0, "p99_ms": 4.0}


def test_quick_shrinks_and_explicit_options_win() -> None:
    options, output = parse_options(["--quick", "--skip", "txtai,bot", "--rounds", "2", "--json"])
    assert options.only == tuple(m for m in MEASUREMENTS if m not in ("txtai", "bot"))
    assert options.rounds == 2 and options.articles == 4 and options.sizes == (10_000,) and output.json
    full, output = parse_options(["--write-docs"])
    assert full.only == MEASUREMENTS and full.articles is None and full.sizes == (10_000, 100_000, 1_000_000)
    assert output.write_docs and not output.json


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
    from benchmarks.research.abstention_sizes import RememberingEmbedder
    from newsbot.index.hashing_embedder import HashingEmbedder
    from tests.embedders import CountingEmbedder

    inner = CountingEmbedder()
    remembering = RememberingEmbedder(inner)
    first, second = remembering.encode(["a", "b", "a"]), remembering.encode(["b", "c"])
    assert inner.calls == [2, 1] and remembering.name == inner.name
    expected = HashingEmbedder().encode(["a", "b", "a", "b", "c"])
    assert (first == expected[:3]).all() and (second == expected[3:]).all()


def _page(*names: str) -> str:
    return "".join(f"# {name}\n\nBy hand.\n\n{markers(name)[0]}\nold {name}\n{markers(name)[1]}\n\nAfter.\n"
                   for name in names)


def test_a_marked_block_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(_page("speed", "speed-search", "bot"), encoding="utf-8")
    write_block(page, "speed-search", "| new | table |\n")
    write_block(page, "speed-search", "| newer | table |")  # rewriting is idempotent in shape
    expected = _page("speed", "speed-search", "bot").replace("old speed-search", "| newer | table |")
    assert page.read_text(encoding="utf-8") == expected


def test_a_page_without_the_blocks_markers_is_refused_and_left_alone(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    for text in ("# Notes\n\nNo markers here.\n", _page("speed") + _page("speed"),
                 f"{markers('speed')[1]}\nend first\n{markers('speed')[0]}\n"):
        page.write_text(text, encoding="utf-8")
        with pytest.raises(MarkerError, match="speed"):
            write_block(page, "speed", "figures")
        assert page.read_text(encoding="utf-8") == text
    with pytest.raises(ValueError):
        markers("Speed Table")


def test_a_missing_page_is_created_holding_the_block(tmp_path: Path) -> None:
    write_block(tmp_path / "new.md", "quality", "figures")
    begin, end = markers("quality")
    assert (tmp_path / "new.md").read_text(encoding="utf-8") == f"{begin}\nfigures\n{end}\n"


def test_the_suite_writes_only_the_blocks_whose_measurements_ran(tmp_path: Path) -> None:
    pages = {"README.md": ("speed-headline",), "docs/BOT.md": ("bot-throughput",),
             "docs/PERFORMANCE.md": ("speed", "speed-search")}
    for page, names in pages.items():
        (tmp_path / page).parent.mkdir(exist_ok=True)
        (tmp_path / page).write_text(_page(*names), encoding="utf-8")
    options, _ = parse_options(["--only", "bot"])
    report = Report({**machine(), "load_average_at_end": [1.0, 1.0, 1.0]}, asdict(options))
    report.details["bot"] = [asdict(_level(99.5))]
    assert write_docs(report, "python -m benchmarks.suite --only bot --write-docs", tmp_path) == ["docs/BOT.md#bot-throughput"]
    bot = (tmp_path / "docs/BOT.md").read_text(encoding="utf-8")
    assert "Regenerate: `python -m benchmarks.suite --only bot --write-docs`" in bot and "| 99.5 |" in bot
    assert "load average" in bot and "cores" in bot
    for page in ("README.md", "docs/PERFORMANCE.md"):
        assert (tmp_path / page).read_text(encoding="utf-8") == _page(*pages[page])


def test_the_quality_benchmark_writes_what_newsbot_eval_measures(tmp_path: Path) -> None:
    from newsbot.index.hashing_embedder import HashingEmbedder
    from tests.test_evaluate import RECORD

    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text("".join(json.dumps({**RECORD, "id": f"t-{n}"}) + "\n" for n in range(2)), encoding="utf-8")
    report = quality.measure(dataset, HashingEmbedder())
    for page in {page for page, _ in quality.DOC_BLOCKS}:
        (tmp_path / page).parent.mkdir(exist_ok=True)
        (tmp_path / page).write_text(_page(*(name for where, name in quality.DOC_BLOCKS if where == page)),
                                     encoding="utf-8")
    written = quality.write_docs(report, "python -m benchmarks.quality --write-docs", machine(), tmp_path)
    assert sorted(written) == sorted(f"{page}#{name}" for page, name in quality.DOC_BLOCKS)
    page = (tmp_path / "docs/QUALITY.md").read_text(encoding="utf-8")
    p_at_1 = report["segmentations"]["dataset"]["p_at_1"]
    assert f"| the dataset's `reqa_sentence_spans` | 8 | 2 | {p_at_1:.3f} |" in page
    assert "the default for" in page and "old quality" not in page
    assert page.count("By hand.") == sum(where == "docs/QUALITY.md" for where, _ in quality.DOC_BLOCKS)
    assert "answered, of those ranked right" in page  # the overlap bands


def test_milvus_ivf_gets_the_lists_the_product_would_give_one_segment_and_hnsw_explores_at_least_k() -> None:
    from benchmarks.research.milvus_scale import SEGMENT_ROWS, milvus_index
    from benchmarks.scale import CANDIDATES
    from newsbot.index.vectors import MIN_PROBES, plan_index

    segment_lists = plan_index(SEGMENT_ROWS, exact_up_to=0).factory.split(",")[0]
    assert milvus_index("IVF_SQ8", 1_000_000) == ({"nlist": int(segment_lists[3:])}, {"nprobe": MIN_PROBES})
    assert milvus_index("IVF_SQ8", 10_000)[0]["nlist"] < int(segment_lists[3:])  # one small segment, fewer lists
    assert milvus_index("HNSW", 10_000)[1]["ef"] >= CANDIDATES
    assert milvus_index("FLAT", 10_000) == ({}, {})


def _faiss_row(sentences: int, file_mb: float, p50_ms: float) -> dict:
    return {"engine": "FAISS", "index": "IVF1024,SQ8", "sentences": sentences, "index_file_mb": file_mb, "p50_ms": p50_ms}


def test_the_scaling_plan_extrapolates_from_the_largest_ivf_row_and_the_bots_capacity() -> None:
    from benchmarks.research import milvus_scale as m

    rows = [_faiss_row(100_000, 1000.0, 9.0), _faiss_row(1_000_000, 400.0, 0.4),
            {"engine": "FAISS", "index": "Flat", "sentences": 10_000_000, "index_file_mb": 1.0, "p50_ms": 1.0}]
    figures = {quantity: estimate for quantity, estimate, _ in m.plan(rows, bot_capacity=1_000, replica_cpu_ms=12.0)}
    assert figures["IVF_SQ8 bytes per vector"] == f"{400 * 2**20 / 1_000_000:.0f}"
    vectors = m.TARGET_SENTENCES * (1 + 1 / m.SENTENCES_PER_PARAGRAPH)
    assert figures["search CPU per message"] == f"{vectors / m.SEGMENT_SENTENCES * 0.4:.0f} ms"
    assert figures["bot replicas, index in the process"] == str(
        math.ceil(m.TARGET_MESSAGES / (1_000 * m.BOT_UTILISATION)) + 1)
    assert figures["bot replicas reading Milvus"] == str(
        math.ceil(m.TARGET_MESSAGES * 12.0 / 1000 / (m.REPLICA_CORES * m.BOT_UTILISATION)) + 1)
    assert figures["Redis commands/s"] == f"{m.REDIS_COMMANDS * m.TARGET_MESSAGES:,}"


def test_a_replicas_cpu_reading_milvus_is_read_from_the_replicas_table(tmp_path: Path) -> None:
    from benchmarks.research.milvus_scale import replica_cpu_ms

    page = tmp_path / "SCALING.md"
    page.write_text("| index folder | 1 | 3000 | 153.1 | 148.1–185.6 | 1235.4 | 2713.6 | yes | 7.02 | 1.64 |\n"
                    "| Milvus server | 1 | 3000 | 54.6 | 54.2–55.4 | 3534.0 | 5008.9 | yes | 12.87 | 2.16 |\n",
                    encoding="utf-8")
    assert replica_cpu_ms(page) == 12.87
    page.write_text("| index folder | 1 | 3000 | 153.1 | 148.1–185.6 | 1235.4 | 2713.6 | yes | 7.02 | 1.64 |\n",
                    encoding="utf-8")
    with pytest.raises(SystemExit, match="Milvus server"):
        replica_cpu_ms(page)


def test_the_bots_capacity_is_read_from_its_generated_table_and_a_page_without_it_is_refused(tmp_path: Path) -> None:
    from benchmarks.research.milvus_scale import bot_capacity

    page = tmp_path / "BOT.md"
    page.write_text("| 1, saturated | 150.5 | 6 ms |\n| 20, saturated | 257.5 | 75 ms |\n", encoding="utf-8")
    assert bot_capacity(page) == 257.5
    page.write_text("| 1, saturated | 150.5 | 6 ms |\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="20, saturated"):
        bot_capacity(page)
