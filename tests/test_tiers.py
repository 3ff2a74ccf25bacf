"""The test tiers (tests/tiers.py): `make test-fast` selects no test that loads the real model or starts a
process, and a test that does either without its marker fails saying which marker it needs."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from newsbot.index import load_embedder
from tests.tiers import TierError, refused_in

ROOT = Path(__file__).resolve().parents[1]
# Written out here rather than taken from tests/tiers.py, which finds them by reading the fixtures' code.
MODEL_FIXTURES = {"real_embedder", "onnx_cache", "export_dir", "fp32", "int8", "seed_index", "seed_retriever"}


def _fast_tier() -> str:
    """The marker expression `make test-fast` runs."""
    return re.search(r"^FAST_TIER := (.+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)[1]


def _pytest(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.stdout + done.stderr


def test_an_unmarked_test_that_loads_the_model_or_starts_a_process_is_stopped(request: pytest.FixtureRequest) -> None:
    """Through product code and a module imported by name, which tests/tiers.py's reading of test code does not
    follow. (A test that runs `_pytest` below is marked `process` through it.)"""
    for backend in ("torch", "onnx", "onnx-int8"):
        with pytest.raises(TierError, match=r"loads the real model .* pytest\.mark\.model"):
            load_embedder(backend=backend).encode(["How many people have died?"])
    with pytest.raises(TierError, match=r"starts a process .* pytest\.mark\.process"):
        importlib.import_module("subprocess").run([sys.executable, "-c", "pass"])
    assert len(refused_in(request.node)) == 4
    refused_in(request.node).clear()  # refused on purpose: this test passes


def test_the_fast_tier_selects_no_test_that_uses_the_model_or_starts_a_process() -> None:
    shown = _pytest("--fixtures-per-test", "-m", _fast_tier())
    tests = re.split(r"^-* ?fixtures used by ", shown, flags=re.MULTILINE)[1:]
    assert len(tests) > 250, shown[-2000:]  # most of the suite is fast
    for test in tests:
        name = test.split(" ", 1)[0]
        assert not MODEL_FIXTURES & set(re.findall(r"^(\w+) -- ", test, re.MULTILINE)), name
    selected = _pytest("--collect-only", "-q", "-m", _fast_tier())
    for left_out in ("test_real_model.py::test_the_packaged_model_loads_offline",  # the model, by fixture
                     "test_same_vectors.py::test_a_text_gets_the_same_vector_alone_in_any_batch_and_any_order",
                     "test_bot_e2e_model.py::", "test_bot_e2e.py::test_a_question_is_answered_with_its_citation",
                     "test_faults_index.py::test_a_build_killed_at_any_of_many_points",  # kills builds
                     "test_index.py::test_a_build_killed_half_way", "test_tiers.py::test_the_fast_tier_selects"):
        assert left_out not in selected
    assert "test_tiers.py::test_an_unmarked_test_that_loads_the_model" in selected


def test_a_refusal_fails_the_test_even_when_the_code_under_test_swallows_it(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    model: m\n    process: p\n", encoding="utf-8")
    (tmp_path / "test_new.py").write_text(textwrap.dedent("""
        import importlib, sys
        from newsbot.index import load_embedder

        def test_loads_the_model_and_swallows_the_error():
            try:
                load_embedder("default", backend="onnx-int8").encode(["a question"])
            except Exception:
                pass

        def test_starts_a_process_and_swallows_the_error():
            try:
                importlib.import_module("subprocess").run([sys.executable, "-c", "pass"])
            except Exception:
                pass
    """), encoding="utf-8")
    shown = _pytest("-p", "tests.tiers", "-q", "-rf", str(tmp_path), cwd=tmp_path)
    assert "2 failed" in shown, shown[-3000:]
    assert "test_loads_the_model_and_swallows_the_error loads the real model without the `model` marker" in shown
    assert "test_starts_a_process_and_swallows_the_error starts a process without the `process` marker" in shown
