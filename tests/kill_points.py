"""A helper process for the fault tests: index builds that stop at a chosen point so a test can SIGKILL them.

Run as `python tests/kill_points.py` (from the project folder). It imports everything once, then reads
commands on stdin, one per line, and forks one build child per command, so each kill costs a fork
rather than a Python start:

    build KILL_AT CORPUS INDEX [FAULT]
                                 ->  "child PID", then "paused N EVENT" (the child waits to be killed)
                                     or "done EVENTS" (the build finished; KILL_AT 0 lists each
                                     event first as "event N EVENT") or "error MESSAGE"
    reap PID                     ->  "exit STATUS" (negative: the signal that ended it)

A kill point is the N-th *event* of the build: an embedding call or a change to the index folder
(a file opened for writing, a rename, a folder made or removed, SQLite opened), seen through
Python's audit hooks (sys.addaudithook), so the points follow whatever the build code does without
naming its functions. The child stops just *before* event N; KILL_AT 0 runs the build to the end
and reports how many events it had. With FAULT `enospc` the child does not stop at event N: the
operation fails there with "No space left on device", as on a full disk, and the build goes on to
report "error TYPE: MESSAGE" (or "done").

    disk-full CORPUS PRISTINE FOLDER...   (argv, not stdin; run inside `unshare -rm` with a small tmpfs
                                          mounted on each FOLDER): copy the PRISTINE index into each
                                          folder, run `newsbot index` there, print one JSON line per folder
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from newsbot.bot.cli import main as newsbot
from newsbot.index import build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.store import CURRENT_FILE, STAGING_PREFIX, VERSIONS_DIR
from newsbot.retrieval import Retriever

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_CHANGES = {"os.rename", "os.remove", "os.rmdir", "os.mkdir", "shutil.rmtree", "os.truncate", "sqlite3.connect"}


class _Events:
    """Counts the build's events and stops before the chosen one."""

    def __init__(self, index_dir: Path, stop_at: int, fault: str | None = None) -> None:
        self.inside = str(index_dir.resolve())
        self.stop_at = stop_at
        self.fault = fault
        self.count = 0

    def audit(self, event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wxa+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writing and self._ours(path):
                self.seen(f"open {Path(str(path)).name}")
        elif event in _CHANGES and args and self._ours(args[0]):
            self.seen(f"{event} {Path(str(args[0])).name}")

    def seen(self, what: str) -> None:
        self.count += 1
        if self.stop_at == 0:
            os.write(1, f"event {self.count} {what}\n".encode())
        if self.count == self.stop_at and self.fault == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), what.split()[-1])
        if self.count == self.stop_at:
            os.write(1, f"paused {self.count} {what}\n".encode())
            time.sleep(600)  # the test kills us here

    def _ours(self, path: object) -> bool:
        try:
            return os.path.abspath(os.fsdecode(path)).startswith(self.inside)  # type: ignore[arg-type]
        except TypeError:  # a file descriptor, not a path
            return False


class _CountingEmbedder(HashingEmbedder):
    def __init__(self, events: _Events) -> None:
        super().__init__()
        self.events = events

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.events.seen(f"encode {len(texts)} texts")
        return super().encode(texts)


def _child(stop_at: int, corpus: Path, index_dir: Path, fault: str | None) -> None:
    events = _Events(index_dir, stop_at, fault)
    sys.addaudithook(events.audit)
    build_index(corpus, index_dir, _CountingEmbedder(events))
    os.write(1, f"done {events.count}\n".encode())


def main() -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "build":
            stop_at, corpus, index_dir = int(args[0]), Path(args[1]), Path(args[2])
            fault = args[3] if len(args) > 3 else None
            pid = os.fork()
            if pid == 0:
                status = 0
                try:
                    _child(stop_at, corpus, index_dir, fault)
                except BaseException as error:  # noqa: BLE001 - reported to the test, which fails
                    os.write(1, f"error {type(error).__name__}: {error}\n".encode())
                    status = 1
                os._exit(status)
            os.write(1, f"child {pid}\n".encode())
        elif command == "reap":
            _reap(int(args[0]))


def disk_full(corpus: Path, pristine: Path, folders: list[Path]) -> None:
    """In each small folder: the pristine index, then `newsbot index` of the bigger corpus; what happened."""
    for folder in folders:
        index_dir = folder / "index"
        shutil.copytree(pristine, index_dir)
        old = (index_dir / CURRENT_FILE).read_text().strip()
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            status = newsbot(["index", "--corpus-dir", str(corpus), "--index-dir", str(index_dir), "--model", "hashing"])
        serving = Retriever.open(index_dir, embedder=HashingEmbedder())
        staging = [p.name for p in (index_dir / VERSIONS_DIR).iterdir() if p.name.startswith(STAGING_PREFIX)]
        partial = [p.name for p in index_dir.rglob("*.partial")]
        print(json.dumps({"folder": folder.name, "status": status, "stderr": stderr.getvalue().strip(),
                          "serving_old": serving.version_dir.name == old, "articles": serving.manifest.articles,
                          "hits": len(serving.search("Lavrov sanctions", k=3)), "staging": staging, "partial": partial,
                          "free": shutil.disk_usage(folder).free}), flush=True)


def _reap(pid: int) -> None:
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    os.write(1, f"exit {code}\n".encode())


if __name__ == "__main__":
    if sys.argv[1:2] == ["disk-full"]:
        disk_full(Path(sys.argv[2]), Path(sys.argv[3]), [Path(p) for p in sys.argv[4:]])
    else:
        main()
