"""Faults injected into index builds and index files: SIGKILL at many points of a build, a full disk,
damaged or foreign index files, two writers at once. The hashing embedder stands in for the model."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

import index.cache
from bot.cli import main
from index import IndexBusy, IndexCorrupt, IndexIncompatible, IndexNotFound, IndexProblem, build_index
from index.embedder import HashingEmbedder
from index.manifest import MANIFEST_FILE
from index.store import CURRENT_FILE, STAGING_PREFIX, VERSIONS_DIR, current_version, writer_lock
from retrieval import Retriever
from tests.reliability import Record

ROOT = Path(__file__).resolve().parents[1]
NEW_ARTICLES = 40
KILL_POINTS = 24
OLD_QUESTION = "Russia against sanctions Lavrov"


def _add_articles(corpus: Path, count: int = NEW_ARTICLES, sentences: int = 8) -> None:
    for n in range(count):
        body = " ".join(f"Filler sentence {n} {m} about harbour topic {n * m}." for m in range(sentences))
        (corpus / f"bulk{n:02d}.txt").write_text(f"title: Bulk {n}\nsource: Wire\n\n{body}\n", encoding="utf-8")


class Builds:
    """Talks to tests/kill_points.py: builds in forked children that stop at a chosen event."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "kill_points.py")], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, stop_at: int, corpus: Path, index_dir: Path, *, fault: str = "") -> tuple[str, int, list[str]]:
        """Start a build that stops before event `stop_at` (0: never); SIGKILL it there. Returns what it
        was doing when killed (or "done N" / "error ..."), its exit status, and (stop_at 0) its events."""
        self._send(f"build {stop_at} {corpus} {index_dir} {fault}".strip())
        pid, outcome, events = None, None, []
        while pid is None or outcome is None:
            line = self.process.stdout.readline().strip()  # type: ignore[union-attr]
            assert line, "the build helper died"
            if line.startswith("child "):
                pid = int(line.split()[1])
            elif line.startswith("event "):
                events.append(line.split(" ", 2)[2])
            else:
                outcome = line
        if outcome.startswith("paused"):
            signal_kill(pid)
        self._send(f"reap {pid}")
        status = self.process.stdout.readline().strip()  # type: ignore[union-attr]
        return outcome, int(status.split()[1]), events

    def _send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=30)


def signal_kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def builds() -> Iterator[Builds]:
    runner = Builds()
    try:
        yield runner
    finally:
        runner.close()


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts, batch_size=batch_size)


def _stray(index_dir: Path) -> list[str]:
    """Leftovers of unfinished writes: staging folders, partial cache files, a pointer being written."""
    found = [p.name for p in (index_dir / VERSIONS_DIR).iterdir() if p.name.startswith(STAGING_PREFIX)]
    found += [p.name for p in index_dir.rglob("*.partial")]
    found += [p.name for p in index_dir.glob(f"{CURRENT_FILE}.*")]
    return found


def test_a_build_killed_at_any_of_many_points_never_breaks_the_served_index(
        builds: Builds, corpus_dir: Path, tmp_path: Path, reliability: Record) -> None:
    pristine = tmp_path / "pristine"
    old = build_index(corpus_dir, pristine, HashingEmbedder())
    _add_articles(corpus_dir)
    index_dir = tmp_path / "idx"

    shutil.copytree(pristine, index_dir)
    outcome, status, listed = builds.run(0, corpus_dir, index_dir)  # a clean run lists the build's events
    assert outcome.startswith("done") and status == 0, outcome
    events = len(listed)
    new_texts = NEW_ARTICLES * 9  # each bulk article: 8 sentences and 1 paragraph
    assert events >= KILL_POINTS
    # points spread evenly over the build, every step of the final write and swap, and each embedding call
    spread = {round(1 + i * (events - 1) / (KILL_POINTS - 1)) for i in range(KILL_POINTS // 2)}
    writing = next(n for n, what in enumerate(listed, 1) if STAGING_PREFIX in what)
    points = sorted(spread | set(range(writing, events + 1)) |
                    {n for n, what in enumerate(listed, 1) if what.startswith("encode")})
    assert len(points) >= 20

    killed_during, reembedded, swapped = [], [], 0
    for point in points:
        shutil.rmtree(index_dir)
        shutil.copytree(pristine, index_dir)
        outcome, status, _ = builds.run(point, corpus_dir, index_dir)
        assert outcome.startswith("paused") and status == -signal.SIGKILL, outcome
        killed_during.append(outcome.split(" ", 2)[2])

        serving = Retriever.open(index_dir, embedder=HashingEmbedder())  # whatever is current loads...
        assert serving.search(OLD_QUESTION, k=1)[0].article.id == "ahram-2012-01-25-russia-syria-lavrov.txt"
        if serving.version_dir.name == old.version.name:
            assert serving.manifest.articles == 1  # ...and is the old index,
        else:
            swapped += 1  # ...or, killed after the swap, the complete new one
            assert serving.manifest.articles == NEW_ARTICLES + 1
        assert len([p for p in _stray(index_dir) if p.startswith(STAGING_PREFIX)]) <= 1

        embedder = CountingEmbedder()
        resumed = build_index(corpus_dir, index_dir, embedder)  # the next build completes
        assert resumed.articles == NEW_ARTICLES + 1
        assert _stray(index_dir) == []  # and leaves nothing behind
        published = [p for p in (index_dir / VERSIONS_DIR).iterdir() if not p.name.startswith(".")]
        assert len(published) <= 2
        reembedded.append(embedder.texts)

    assert reembedded[0] == new_texts  # killed before any work: everything is embedded
    assert reembedded == sorted(reembedded, reverse=True)  # the later the kill, the more work is reused
    assert reembedded[-1] == 0 and 0 < reembedded[len(reembedded) // 2] < new_texts
    assert swapped < len(points)
    kinds = sorted({what.split()[0] for what in killed_during})
    assert {"encode", "open", "os.rename"} <= set(kinds)
    reliability("Index faults", f"SIGKILL of a build at {len(points)} points spread over its {events} events "
                f"({', '.join(kinds)})", len(points),
                f"the served index loaded and answered after every kill ({len(points) - swapped} times the old "
                f"one, {swapped} times the new one, killed after its swap); every next build completed, "
                f"re-embedding {reembedded[0]} to {reembedded[-1]} of {new_texts} texts as the kill came later; "
                "no staging folder, partial file or pointer left behind")


def _can_mount_tmpfs(folder: Path) -> bool:
    """A small tmpfs needs a user and mount namespace (`unshare -rm`); some machines forbid them."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {folder}"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def test_a_full_disk_fails_the_build_with_a_clear_message_and_the_old_index_serves(
        corpus_dir: Path, tmp_path: Path, reliability: Record) -> None:
    pristine = tmp_path / "pristine"
    build_index(corpus_dir, pristine, HashingEmbedder())
    _add_articles(corpus_dir)
    used = sum(p.stat().st_size for p in pristine.rglob("*") if p.is_file())
    # Headroom for 10%, 50% and 90% of what the new build writes: it fails in the cache, in the version, at the end.
    full = build_index(corpus_dir, tmp_path / "sizing", HashingEmbedder())
    needed = sum(p.stat().st_size for p in (tmp_path / "sizing").rglob("*") if p.is_file()) - used
    sizes = [used + 64_000 + int(needed * share) for share in (0.1, 0.5, 0.9)]
    folders = [tmp_path / f"disk{n}" for n in range(len(sizes))]
    for folder in folders:
        folder.mkdir()
    if not _can_mount_tmpfs(folders[0]):
        pytest.skip("this machine does not allow a tmpfs in a user namespace; "
                    "test_disk_full_at_every_write_point simulates ENOSPC instead")
    mounts = " && ".join(f"mount -t tmpfs -o size={size // 1024 + 1}k tmpfs {folder}"
                         for size, folder in zip(sizes, folders))
    done = subprocess.run(["unshare", "-rm", "sh", "-c",
                           f"{mounts} && exec {sys.executable} tests/kill_points.py disk-full {corpus_dir} {pristine} "
                           + " ".join(str(f) for f in folders)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(sizes)
    for result in results:
        assert result["status"] == 2, results  # refused with an IndexProblem, not a crash
        assert "disk holding" in result["stderr"] and "is full" in result["stderr"], result
        assert "Traceback" not in result["stderr"] and "unexpected" not in result["stderr"]
        assert result["serving_old"] and result["articles"] == 1 and result["hits"] > 0
        assert result["staging"] == []  # the failed build's staging folder was removed
    assert full.articles == NEW_ARTICLES + 1
    reliability("Index faults", "disk full during a build: a real tmpfs (size-limited, in a user namespace) "
                "with room for 10%, 50% and 90% of the new build", len(results),
                f"`newsbot index` exited 2 with \"{results[0]['stderr'].removeprefix('newsbot: ')[:60]}…\" "
                "every time; the old index kept loading and answering; no staging folder left")


def test_disk_full_at_every_write_point(builds: Builds, corpus_dir: Path, tmp_path: Path,
                                         reliability: Record) -> None:
    """ENOSPC simulated deterministically: raised by the N-th write operation of the build (any library)."""
    pristine = tmp_path / "pristine"
    old = build_index(corpus_dir, pristine, HashingEmbedder())
    _add_articles(corpus_dir, count=6)
    index_dir = tmp_path / "idx"
    shutil.copytree(pristine, index_dir)
    _, _, listed = builds.run(0, corpus_dir, index_dir)
    writes = [n for n, what in enumerate(listed, 1) if not what.startswith(("encode", "os.remove", "shutil.rmtree"))]
    messages, absorbed = set(), 0
    for point in writes:
        shutil.rmtree(index_dir)
        shutil.copytree(pristine, index_dir)
        outcome, status, _ = builds.run(point, corpus_dir, index_dir, fault="enospc")
        if outcome.startswith("done"):  # e.g. making a folder that already exists: the failure does not matter
            absorbed += 1
            assert status == 0 and Retriever.open(index_dir, embedder=HashingEmbedder()).manifest.articles == 7
            continue
        assert status == 1 and outcome.startswith("error IndexWriteFailed: the disk holding"), (point, outcome)
        messages.add(outcome.split(": ", 1)[1])
        assert current_version(index_dir).name == old.version.name
        assert Retriever.open(index_dir, embedder=HashingEmbedder()).search(OLD_QUESTION, k=1)
    assert len(writes) - absorbed >= 10 and len(messages) == 1
    reliability("Index faults", f"disk full (ENOSPC simulated) at each of the {len(writes)} write operations "
                "of a build: cache files, staging folder, SQLite, FAISS, manifest, the CURRENT swap", len(writes),
                f"{len(writes) - absorbed} times IndexWriteFailed \"the disk holding … is full …; free some space and "
                "run `newsbot index` again\" and the old index stayed current and answered; "
                f"{absorbed} times the failed call did not matter (a folder that already existed) and the build completed")
