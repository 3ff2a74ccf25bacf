"""Importing newsbot changes nothing in the importing program, and neither does making the int8 export; the
`newsbot` command sets its thread limits itself, where its process starts (retrieval/threads.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from newsbot.corpus import BUNDLED_CORPUS_DIR

ROOT = Path(__file__).resolve().parents[1]
# More threads than one by default whatever the machine, so that a limit to one is seen.
MANY_THREADS = {"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "3"}

# What a program's process-wide state is made of, printed as JSON. numpy and faiss are imported first so
# that their BLAS and OpenMP libraries are loaded, and threadpoolctl sees them, before the first look.
STATE = textwrap.dedent("""
    import json, logging, os, warnings
    import faiss, numpy
    from threadpoolctl import threadpool_info

    def state():
        root = logging.getLogger()
        return {"environ": dict(os.environ), "root_level": root.level, "root_handlers": len(root.handlers),
                "warning_filters": len(warnings.filters), "faiss_threads": faiss.omp_get_max_threads(),
                "threads": {f"{pool['user_api']} {pool['filepath']}": pool["num_threads"]
                            for pool in threadpool_info()}}
""")


def _run(script: str, **env: str) -> dict:
    run = subprocess.run([sys.executable, "-c", STATE + textwrap.dedent(script)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=False, env={**os.environ, **MANY_THREADS, **env})
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_importing_every_module_of_retrieval_index_and_corpus_changes_nothing_global() -> None:
    states = _run("""
        import importlib, pkgutil
        before = state()
        modules = []
        for package in ("retrieval", "index", "corpus"):
            modules += [f"newsbot.{package}"] + [m.name for m in pkgutil.walk_packages([package], prefix=f"newsbot.{package}.")]
        for name in modules:
            importlib.import_module(name)
        print(json.dumps({"before": before, "after": state(), "modules": modules}))
    """)
    before, after = states["before"], states["after"]
    assert {f"newsbot.{name}" for name in (
        "retrieval.candidates", "retrieval.evaluation.evaluate", "retrieval.threads", "index.vectors", "index.embedder",
        "index.onnx_export", "index.onnx_embedder", "index.torch_embedder")} <= set(states["modules"])
    assert any(name.startswith("blas ") for name in before["threads"]) and before["faiss_threads"] == 3
    assert after["environ"] == before["environ"]
    assert after["root_level"] == before["root_level"] and after["root_handlers"] == before["root_handlers"]
    assert after["warning_filters"] == before["warning_filters"]
    assert after["threads"] == before["threads"]  # BLAS (numpy's, FAISS's) and OpenMP thread counts
    assert after["faiss_threads"] == before["faiss_threads"]


def test_the_newsbot_command_puts_questions_on_one_thread_where_it_starts(tmp_path: Path) -> None:
    """The settings the speed figures were measured with, made by the command as its process starts."""
    states = _run(f"""
        from newsbot.bot.cli import main
        before = state()
        assert main(["ask", "How many people have died?", "--corpus-dir", {str(BUNDLED_CORPUS_DIR)!r},
                     "--index-dir", {str(tmp_path / "index")!r}]) == 0
        print(json.dumps({{"before": before, "after": state()}}))
    """, NEWSBOT_MODEL="hashing")
    before, after = states["before"], states["after"]
    assert before["faiss_threads"] == 3
    assert after["faiss_threads"] == 1  # also after the build, which adds to FAISS on every core
    blas = {name: count for name, count in after["threads"].items() if name.startswith("blas ")}
    assert blas and set(blas.values()) == {1}


def test_quantising_leaves_the_root_logger_as_it_was() -> None:
    """onnxruntime's quantiser warns through `logging.warning`, which also gives a root logger without
    handlers one of its own, for good: the int8 export must not leave it in the user's program."""
    states = _run("""
        from newsbot.index.onnx_export import _root_logger_silenced
        before = state()
        with _root_logger_silenced():
            logging.warning("Please consider to run pre-processing before quantization.")
        print(json.dumps({"before": before, "after": state()}))
    """)
    before, after = states["before"], states["after"]
    assert after["root_handlers"] == before["root_handlers"] == 0 and after["root_level"] == before["root_level"]


def test_the_api_imports_from_a_folder_whose_own_folders_share_the_parts_names(tmp_path: Path) -> None:
    """A user's index folder named `index/` (or folders named bot/, corpus/, retrieval/) in the working
    directory used to shadow the project's modules: "cannot import name 'default_index_dir' from 'index'"."""
    for name in ("index", "bot", "corpus", "retrieval"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the user folder was imported')\n")
    run = subprocess.run([sys.executable, "-c", "from newsbot.retrieval import Retriever; "
                          "from newsbot.index import default_index_dir; import newsbot.bot.cli; print('ok')"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_the_console_commands_do_not_import_the_telegram_library() -> None:
    """`newsbot ask` and `newsbot chat` share the bot's texts but not its library: python-telegram-bot (and
    httpx) cost 0.12 s of every cold `newsbot ask`."""
    code = "import sys, newsbot.bot.cli, newsbot.bot.console; print('telegram' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
