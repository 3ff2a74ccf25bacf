"""A pytest plugin: the fault and bad-input tests record what they tried, and a run can write the tables
of docs/RELIABILITY.md from those records, so the document shows what was measured rather than claimed.
Only the page's `reliability` block is replaced (`benchmarks.report.write_block`); the rest is written by hand.

    .venv/bin/python -m pytest tests --reliability-report docs/RELIABILITY.md    # the whole suite

A test takes the `reliability` fixture and calls it once per thing tried:
`reliability(area, tried, times, outcome)`. A row is marked passed only if its test passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.report import provenance, table, write_block

AREAS = ("Consistency", "Index faults", "Telegram faults", "Bad input", "Security")
Record = Callable[[str, str, int, str], None]


@dataclass
class Row:
    area: str
    tried: str
    times: int
    outcome: str
    test: str
    passed: bool = False


_rows: list[Row] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reliability-report", metavar="PATH", default=None,
                     help="write the table of faults and bad inputs tried (docs/RELIABILITY.md) to PATH")


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Iterator[Record]:
    """Record one fault or bad input this test tried: its area, what it was, how often, what happened."""
    def record(area: str, tried: str, times: int, outcome: str) -> None:
        assert area in AREAS, f"unknown area {area!r}"
        _rows.append(Row(area, tried, times, outcome, request.node.nodeid))

    yield record


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        for row in _rows:
            if row.test == item.nodeid:
                row.passed = report.passed
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = session.config.getoption("--reliability-report")
    if target and _rows:
        command = " ".join(["python -m pytest", *session.config.invocation_params.args])
        write_block(Path(target), "reliability", f"{provenance(command)}\n\n{render_tables(_rows)}")


def render_tables(rows: list[Row]) -> str:
    """One table per area: what was tried, how many times, what the test observed, and whether it passed."""
    lines = [f"{sum(r.times for r in rows):,} faults and inputs in {len(rows)} rows; "
             f"{sum(not r.passed for r in rows)} rows failed."]
    for area in AREAS:
        chosen = [r for r in rows if r.area == area]
        if not chosen:
            continue
        lines += ["", f"### {area}", "",
                  table(("tried", "times", "outcome", "test", "result"), [_row(row) for row in chosen], "lrlll")]
    return "\n".join(lines) + "\n"


def _row(row: Row) -> tuple[str, str, str, str, str]:
    where = row.test.split("::", 1)[0].removeprefix("tests/")
    name = row.test.rsplit("::", 1)[-1].split("[")[0]
    return row.tried, f"{row.times:,}", row.outcome, f"`{where}::{name}`", "pass" if row.passed else "**FAIL**"
