"""The ONNX backends: exported once per session into a temporary cache, compared with the torch reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from newsbot.corpus import BUNDLED_CORPUS_DIR
from newsbot.index import IndexIncompatible, build_index
from newsbot.index.embedder import DEFAULT_MODEL, load_embedder, local_model_dir
from newsbot.index.errors import ModelUnavailable
from newsbot.index.manifest import read_manifest
from newsbot.index.onnx_embedder import OnnxEmbedder
from newsbot.index.onnx_export import FP32_FILE, INT8_FILE, META_FILE, cached_export_dir, export_onnx
from newsbot.index.store import current_version
from newsbot.index.torch_embedder import SentenceTransformerEmbedder
from newsbot.retrieval import Retriever
from tests.conftest import SEED_QUESTION

ROOT = Path(__file__).resolve().parents[1]
NEWS = ["How many people have died?", "Who vetoed the resolution?",
        ("Muallem said Syria had no choice but to confront the armed groups that the government holds responsible "
         "for the violence which the UN says has killed more than 5,400 people since March."),
        "Russia against sanctions, open to dialogue on Syria: Lavrov",
        "Which NFL team represented the AFC at Super Bowl 50?"]
ODD = ["", "a", "😀🎉 emoji only", "word " * 600, "Le café est très bon."]


def test_fp32_vectors_match_sentence_transformers(fp32: OnnxEmbedder, real_embedder: SentenceTransformerEmbedder) -> None:
    cosines = (fp32.encode(NEWS + ODD) * real_embedder.encode(NEWS + ODD)).sum(axis=1)
    assert cosines.min() > 0.999


def test_int8_vectors_stay_close_to_sentence_transformers(int8: OnnxEmbedder,
                                                           real_embedder: SentenceTransformerEmbedder) -> None:
    assert (int8.encode(NEWS) * real_embedder.encode(NEWS)).sum(axis=1).min() > 0.98
    assert (int8.encode(ODD) * real_embedder.encode(ODD)).sum(axis=1).min() > 0.95  # short or degenerate texts


@pytest.mark.parametrize("backend", ["fp32", "int8"])
def test_vectors_are_unit_rows_of_384_in_input_order(backend: str, request: pytest.FixtureRequest) -> None:
    embedder: OnnxEmbedder = request.getfixturevalue(backend)
    texts = NEWS + ODD
    batch = embedder.encode(texts)
    assert embedder.dimension == 384 and batch.shape == (len(texts), 384) and batch.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch, axis=1), 1, atol=1e-5)
    assert np.array_equal(batch[::-1], embedder.encode(texts[::-1]))
    assert embedder.encode([]).shape == (0, 384)


def test_the_name_records_the_backend() -> None:
    assert load_embedder(backend="torch").name == DEFAULT_MODEL
    assert load_embedder("all-MiniLM-L6-v2", backend="onnx").name == f"{DEFAULT_MODEL}#onnx"
    assert load_embedder(f"{DEFAULT_MODEL}#onnx-int8").name == f"{DEFAULT_MODEL}#onnx-int8"
    assert load_embedder("hashing", backend="onnx").name == "hashing"
    with pytest.raises(ModelUnavailable, match="unknown backend"):
        load_embedder(backend="tensorrt")


def test_an_index_refuses_another_backend(tmp_path: Path, int8: OnnxEmbedder, fp32: OnnxEmbedder,
                                          real_embedder: SentenceTransformerEmbedder) -> None:
    build_index(BUNDLED_CORPUS_DIR, tmp_path, int8)
    assert read_manifest(current_version(tmp_path)).model == f"{DEFAULT_MODEL}#onnx-int8"
    for other in (fp32, real_embedder):
        with pytest.raises(IndexIncompatible, match="onnx-int8"):
            Retriever.open(tmp_path, embedder=other)
    answer = Retriever.open(tmp_path, embedder=int8).answer(SEED_QUESTION)
    assert answer.found and "more than 5,400 people" in answer.hits[0].text


def test_a_second_export_reuses_the_cache(export_dir: Path) -> None:
    before = {name: (export_dir / name).stat().st_mtime_ns for name in (FP32_FILE, INT8_FILE, META_FILE)}
    assert export_onnx(local_model_dir(DEFAULT_MODEL), export_dir, quantize=True) == export_dir / INT8_FILE
    assert {name: (export_dir / name).stat().st_mtime_ns for name in before} == before
    meta = json.loads((export_dir / META_FILE).read_text())
    assert meta["opset"] == 17 and len(meta["files"][INT8_FILE]["sha256"]) == 64


def test_a_changed_model_gets_a_new_export_folder(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    first = cached_export_dir(model, tmp_path / "cache")
    (model / "config.json").write_text('{"hidden_size": 8}')
    assert cached_export_dir(model, tmp_path / "cache") != first


def test_asking_with_the_onnx_backend_never_imports_torch(onnx_cache: Path, tmp_path: Path) -> None:
    """The cold-start promise: with an existing export, `newsbot ask` loads no torch or transformers."""
    script = textwrap.dedent(f"""
        import sys
        from newsbot.bot.cli import main
        assert main(["ask", {SEED_QUESTION!r}, "--backend", "onnx-int8", "--corpus-dir", {str(BUNDLED_CORPUS_DIR)!r},
                     "--index-dir", {str(tmp_path / "index")!r}]) == 0
        loaded = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
        assert not loaded, loaded
    """)
    env = {**os.environ, "NEWSBOT_ONNX_DIR": str(onnx_cache), "NEWSBOT_MODEL": ""}
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "5,400" in run.stdout
