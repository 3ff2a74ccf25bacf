"""A pytest plugin: the test tiers. `make test-fast` runs the tests marked neither `model` nor `process`.

- `model`: the test loads the real model (all-MiniLM-L6-v2, by torch or onnxruntime, or its ONNX export).
- `process`: the test starts a process: a `newsbot` command, the bot against the fake Bot API, a build it kills.

They are not written by hand: they are applied at collection from what a test uses, found in the code
of the test function, of the fixtures it takes (directly, through other fixtures, or by name through
`request.getfixturevalue`) and of every function or class of tests/ these name: the model's loaders
(MODEL_LOADERS) and the ways to start a process (PROCESS_STARTERS). What that reading cannot see (a model
loaded by a product function such as `load_embedder()`, a process started by a module it does not follow)
is refused while the test runs: in a test without `model` the model's loaders raise TierError, and in a
test without `process` so do fork, spawn and `subprocess`; the test fails with a message naming the marker
it needs, even if the code under test swallowed the error. The one marker written by hand is on a test
whose model runs in the process it starts (`pytestmark = pytest.mark.model` in test_bot_e2e_model.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dis
import inspect
import multiprocessing
import os
import subprocess
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

import pytest

from newsbot.index import onnx_export
from newsbot.index.onnx_embedder import OnnxEmbedder
from newsbot.index.onnx_export import export_onnx
from newsbot.index.torch_embedder import SentenceTransformerEmbedder

TESTS_DIR = Path(__file__).resolve().parent
MODEL_LOADERS: tuple[object, ...] = (SentenceTransformerEmbedder, OnnxEmbedder, export_onnx)
PROCESS_STARTERS: tuple[object, ...] = (
    subprocess.Popen, subprocess.run, subprocess.call, subprocess.check_call, subprocess.check_output,
    subprocess.getoutput, subprocess.getstatusoutput, os.fork, os.forkpty, os.system, os.popen, os.posix_spawn,
    os.posix_spawnp, asyncio.create_subprocess_exec, asyncio.create_subprocess_shell, multiprocessing.Process,
    concurrent.futures.ProcessPoolExecutor)
_KINDS = {**{id(loader): "model" for loader in MODEL_LOADERS},
          **{id(starter): "process" for starter in PROCESS_STARTERS}}


class TierError(RuntimeError):
    """A test did what its tier does not allow: it needs the marker named in the message."""


_REFUSED = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for kind in sorted(kinds_used(item) - {mark.name for mark in item.iter_markers()}):
            item.add_marker(kind)


def kinds_used(item: pytest.Item) -> set[str]:
    """The markers an item needs ("model", "process") for what its function and its fixtures use."""
    function = getattr(item, "function", None)
    if function is None:
        return set()
    kinds = set(_kinds_of(function))
    fixtures = list(item.fixturenames)
    if "getfixturevalue" in _names_read(function, ("LOAD_ATTR", "LOAD_METHOD")):  # any string may name one
        callspec = getattr(item, "callspec", None)
        fixtures += [*_names_read(function, ("LOAD_CONST",)), *(callspec.params.values() if callspec else ())]
    manager = item.session._fixturemanager  # no public way to the fixtures a name means for an item
    for name in fixtures:
        for definition in (manager.getfixturedefs(name, item) or ()) if isinstance(name, str) else ():
            kinds |= _kinds_of(definition.func)
    return kinds


_found: dict[object, frozenset[str]] = {}


def _kinds_of(value: object) -> frozenset[str]:
    """What a function or class of tests/ uses, following the functions and classes of tests/ it names."""
    if id(value) in _KINDS:
        return frozenset({_KINDS[id(value)]})
    if not (inspect.isfunction(value) or inspect.isclass(value)):
        return frozenset()
    if value not in _found:
        _found[value] = frozenset()  # a helper reached again while it is being read adds nothing
        if inspect.isclass(value):
            found = [_kinds_of(_function_of(member)) for member in vars(value).values()]
        else:
            found = [_kinds_of(used) for used in _globals_used(value)]
        _found[value] = frozenset().union(*found)
    return _found[value]


def _function_of(member: object) -> object:
    """The function behind a class member: a method, a static or class method, a property's getter."""
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    return member.fget if isinstance(member, property) else member


def _written_here(function: Callable[..., Any]) -> Any:
    """The function itself, under any decorator (hypothesis' @given included), if it is written in tests/."""
    function = inspect.unwrap(getattr(getattr(function, "hypothesis", None), "inner_test", function))
    code = getattr(function, "__code__", None)
    return function if code is not None and Path(code.co_filename).resolve().is_relative_to(TESTS_DIR) else None


def _instructions(code: CodeType) -> Iterator[list[dis.Instruction]]:
    """The instructions of a code object and of every function or class body defined inside it."""
    yield list(dis.get_instructions(code))
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _instructions(constant)


def _globals_used(function: Callable[..., Any]) -> Iterator[object]:
    """The objects a function of tests/ loads by global name, and `module.attribute` for a module loaded so."""
    function = _written_here(function)
    for instructions in (_instructions(function.__code__) if function else ()):
        for at, instruction in enumerate(instructions):
            if instruction.opname not in ("LOAD_GLOBAL", "LOAD_NAME"):
                continue
            value = function.__globals__.get(instruction.argval)
            following = instructions[at + 1] if at + 1 < len(instructions) else None
            if isinstance(value, ModuleType) and following and following.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                value = getattr(value, following.argval, None)
            yield value


def _names_read(function: Callable[..., Any], opnames: tuple[str, ...]) -> list[object]:
    function = _written_here(function)
    return [instruction.argval for instructions in (_instructions(function.__code__) if function else ())
            for instruction in instructions if instruction.opname in opnames]


# What the reading above cannot see is refused while the test runs.

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    marked = {mark.name for mark in item.iter_markers()}
    item.stash[_REFUSED] = []
    with pytest.MonkeyPatch.context() as patch:
        if "model" not in marked:
            # where the weights are read: a torch model, an onnxruntime session, the ONNX export and its int8 pass
            for owner, name in ((SentenceTransformerEmbedder, "_loaded"), (OnnxEmbedder, "_loaded_session"),
                                (onnx_export, "_export_fp32"), (onnx_export, "_quantize")):
                patch.setattr(owner, name, _refusal(item, "model", "loads the real model"))
        if "process" not in marked:
            for owner, name in ((subprocess.Popen, "_execute_child"), (os, "fork"), (os, "forkpty"),
                                (os, "posix_spawn"), (os, "posix_spawnp"), (os, "system")):
                patch.setattr(owner, name, _refusal(item, "process", "starts a process"))
        return (yield)


def _refusal(item: pytest.Item, marker: str, does: str) -> Callable[..., Any]:
    def refuse(*args: object, **kwargs: object) -> Any:
        message = (f"{item.nodeid} {does} without the `{marker}` marker, which tests/tiers.py did not find in "
                   f"its code or fixtures: give the test (or its module's pytestmark) pytest.mark.{marker}")
        item.stash[_REFUSED].append(message)
        raise TierError(message)
    return refuse


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fail a test that was refused, even if the code under test caught the TierError."""
    report = yield
    refused = item.stash.get(_REFUSED, [])
    if refused and report.when == "call" and report.passed:
        report.outcome = "failed"
        report.longrepr = "\n".join(dict.fromkeys(refused))
    return report


def refused_in(item: pytest.Item) -> list[str]:
    """The refusals recorded for `item` so far (a test that provokes one on purpose clears this list)."""
    return item.stash[_REFUSED]
