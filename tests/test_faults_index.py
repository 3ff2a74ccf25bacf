"""Faults injected into index builds and index files: SIGKILL at many points of a build, a full disk,
damaged or foreign index files, two writers at once. The hashing embedder stands in for the model."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from newsbot.bot.cli import main
from newsbot.index import IndexBusy, IndexCorrupt, IndexIncompatible, IndexNotFound, IndexProblem, build_index
from newsbot.index.cache import EMBEDDING_KEYS_FILE
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.manifest import MANIFEST_FILE, READER_FILES
from newsbot.index.store import (
    CHECKSUMS_FILE,
    CURRENT_FILE,
    LOCK_FILE,
    STAGING_PREFIX,
    VERSION_NAME,
    VERSIONS_DIR,
    current_version,
    write_checksums,
)
from newsbot.retrieval import Retriever
from tests.conftest import add_filler_articles
from tests.reliability import Record

ROOT = Path(__file__).resolve().parents[1]
NEW_ARTICLES = 40
SPREAD_POINTS = 16  # kill points spread evenly over a build, besides every step of its final write
OLD_QUESTION = "Russia against sanctions Lavrov"


class Builds:
    """Talks to tests/kill_points.py: builds in forked children that stop at a chosen event."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "kill_points.py")], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, stop_at: int, corpus: Path, index_dir: Path, *, fault: str = "") -> tuple[str, int, list[str]]:
        """A build that stops before event `stop_at` (0: never), SIGKILLed there. Returns what it was doing
        when killed (or "done N" / "error ..."), its exit status, and (stop_at 0) the build's events."""
        pid, outcome, events = self.start(stop_at, corpus, index_dir, fault=fault)
        status = self.kill(pid) if outcome.startswith("paused") else self.reap(pid)
        return outcome, status, events

    def start(self, stop_at: int, corpus: Path, index_dir: Path, *, fault: str = "") -> tuple[int, str, list[str]]:
        """Start a build; returns its pid once it has paused (or finished), what it said, and its events."""
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
        return pid, outcome, events

    def kill(self, pid: int) -> int:
        os.kill(pid, signal.SIGKILL)
        return self.reap(pid)

    def reap(self, pid: int) -> int:
        """Wait for the child to end; its exit status (negative: the signal that ended it)."""
        self._send(f"reap {pid}")
        return int(self.process.stdout.readline().split()[1])  # type: ignore[union-attr]

    def _send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=30)


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

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts)


def _stray(index_dir: Path) -> list[str]:
    """Leftovers of unfinished writes: staging folders, partial cache files, a pointer being written."""
    found = [p.name for p in (index_dir / VERSIONS_DIR).iterdir() if p.name.startswith(STAGING_PREFIX)]
    found += [p.name for p in index_dir.rglob("*.partial")]
    found += [p.name for p in index_dir.glob(f"{CURRENT_FILE}.*")]
    return found


# The limit is set by a wrapper that then execs newsbot, not by a preexec_fn: that forks this test process, whose
# gRPC threads (left by the Milvus Lite tests) restart in the child and can abort it before it execs.
_WITH_FILE_SIZE_LIMIT = ("import os, resource, sys; hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]; "
                         "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), hard)); "
                         "os.execv(sys.argv[2], sys.argv[2:])")


def _newsbot(*args: str, timeout: float = 60,
             file_size_limit: int | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """`newsbot ARGS --model hashing` in its own process, which must end within `timeout` seconds."""
    command = [sys.executable, "-m", "newsbot.bot", *args, "--model", "hashing"]
    if file_size_limit is not None:
        command = [sys.executable, "-c", _WITH_FILE_SIZE_LIMIT, str(file_size_limit), *command]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done, time.monotonic() - started


def test_a_build_killed_at_any_of_many_points_never_breaks_the_served_index(
        builds: Builds, corpus_dir: Path, tmp_path: Path, reliability: Record) -> None:
    pristine = tmp_path / "pristine"
    old = build_index(corpus_dir, pristine, HashingEmbedder())
    add_filler_articles(corpus_dir, NEW_ARTICLES)
    index_dir = tmp_path / "idx"

    shutil.copytree(pristine, index_dir)
    outcome, status, listed = builds.run(0, corpus_dir, index_dir)  # a clean run lists the build's events
    assert outcome.startswith("done") and status == 0, outcome
    events = len(listed)
    new_texts = NEW_ARTICLES * 9  # each bulk article: 8 sentences and 1 paragraph
    assert events >= 2 * SPREAD_POINTS
    # points spread evenly over the build, every step of the final write and swap, and each embedding call
    spread = {round(1 + i * (events - 1) / (SPREAD_POINTS - 1)) for i in range(SPREAD_POINTS)}
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
    kinds = sorted({what.split()[0] for what in killed_during})
    assert {"encode", "open", "os.rename"} <= set(kinds)
    reliability("Index faults", f"SIGKILL of a build at {len(points)} points spread over its {events} events "
                f"({', '.join(kinds)})", len(points),
                "the served index loaded and answered after every kill (the old one"
                + (f", or the new one {swapped} times, killed after its swap" if swapped else "") + "); every next "
                "build completed, "
                f"re-embedding {reembedded[0]} to {reembedded[-1]} of {new_texts} texts as the kill came later; "
                "no staging folder, partial file or pointer left behind")


def _shown(message: str, tmp_path: Path) -> str:
    """A message as the report shows it: without the test's temporary folder or the name of a version."""
    return VERSION_NAME.sub("<version>", message.removeprefix("newsbot: ").replace(str(tmp_path), "…"))


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
    add_filler_articles(corpus_dir, NEW_ARTICLES)
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
        assert result["staging"] == [] and result["partial"] == []  # the failed build's files were removed
    assert full.articles == NEW_ARTICLES + 1
    reliability("Index faults", "disk full during a build: a real tmpfs (size-limited, in a user namespace) "
                "with room for 10%, 50% and 90% of the new build", len(results),
                f"`newsbot index` exited 2 with \"{_shown(results[0]['stderr'], tmp_path)}\" "
                "every time; the old index kept loading and answering; no staging folder or partial file left")


def test_disk_full_at_every_write_point(builds: Builds, corpus_dir: Path, tmp_path: Path,
                                         reliability: Record) -> None:
    """ENOSPC simulated deterministically: raised by the N-th write operation of the build (any library)."""
    pristine = tmp_path / "pristine"
    old = build_index(corpus_dir, pristine, HashingEmbedder())
    add_filler_articles(corpus_dir, 6)
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
        assert _stray(index_dir) == [], (point, outcome)  # no partial cache file, staging folder or pointer left
        assert Retriever.open(index_dir, embedder=HashingEmbedder()).search(OLD_QUESTION, k=1)
    assert len(writes) - absorbed >= 10 and len(messages) == 1
    reliability("Index faults", f"disk full (ENOSPC simulated) at each of the {len(writes)} write operations "
                "of a build: cache files, staging folder, SQLite, FAISS, manifest, the CURRENT swap", len(writes),
                f"{len(writes) - absorbed} times IndexWriteFailed \"the disk holding … is full …; free some space and "
                "run `newsbot index` again\" and the old index stayed current and answered, nothing half-written left; "
                f"{absorbed} times the failed call did not matter (a folder that already existed) and the build completed")


def test_a_file_size_limit_fails_the_build_naming_the_limit_and_the_old_index_serves(
        corpus_dir: Path, tmp_path: Path, reliability: Record) -> None:
    """`ulimit -f`: Python ignores SIGXFSZ, so a write past the limit fails (EFBIG, a short write, SQLite's
    "disk I/O error") instead of killing the build."""
    pristine = tmp_path / "pristine"
    build_index(corpus_dir, pristine, HashingEmbedder())
    add_filler_articles(corpus_dir, NEW_ARTICLES)
    build_index(corpus_dir, tmp_path / "sizing", HashingEmbedder())
    largest = max(p.stat().st_size for p in (tmp_path / "sizing").rglob("*") if p.is_file())
    limits = [max(1024, int(largest * share)) for share in (0.02, 0.2, 0.9)]  # SQLite, then the vector files
    shown = set()
    for n, limit in enumerate(limits):
        index_dir = tmp_path / f"idx{n}"
        shutil.copytree(pristine, index_dir)
        old = current_version(index_dir).name
        built, _ = _newsbot("index", "--corpus-dir", str(corpus_dir), "--index-dir", str(index_dir),
                            file_size_limit=limit)
        assert built.returncode == 2 and len(built.stderr.strip().splitlines()) == 1, built.stderr
        assert f"file-size limit of {limit:,} bytes (`ulimit -f`)" in built.stderr and "newsbot index" in built.stderr
        assert current_version(index_dir).name == old and _stray(index_dir) == []
        assert Retriever.open(index_dir, embedder=HashingEmbedder()).search(OLD_QUESTION, k=1)
        shown.add(_shown(built.stderr.strip(), index_dir).replace(f"{limit:,}", "N"))
    assert len(shown) == 1
    reliability("Index faults", "a file-size limit (`ulimit -f`, RLIMIT_FSIZE) of "
                f"{', '.join(f'{n:,}' for n in limits)} bytes during a build (the largest file of the new index "
                f"has {largest:,})", len(limits),
                f"`newsbot index` exited 2 with \"{shown.pop()}\" (N the limit) every time; the old index stayed "
                "current and answered; no staging folder or partial file left")


def test_a_file_where_the_index_needs_a_folder_is_named_with_exit_2(
        corpus_dir: Path, tmp_path: Path, reliability: Record, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    with_cache_file = tmp_path / "cache-is-a-file"
    with_cache_file.mkdir()
    (with_cache_file / "cache").write_text("not a folder\n")
    cases = {"--index-dir /dev/null/index": (Path("/dev/null/index"), Path("/dev/null")),
             "--index-dir a file": (a_file, a_file), "--index-dir inside a file": (a_file / "index", a_file),
             "cache/ a file": (with_cache_file, with_cache_file / "cache")}
    shown = set()
    for label, (index_dir, blocker) in cases.items():
        for command in (["index"], ["ask", OLD_QUESTION]):
            status = main([*command, "--corpus-dir", str(corpus_dir), "--index-dir", str(index_dir),
                           "--model", "hashing"])
            error = capsys.readouterr().err.strip().splitlines()[-1]  # `ask` says first that it builds the index
            assert status == 2 and error.startswith("newsbot: "), (label, command, error)
            assert f"{blocker} is not a folder" in error and "newsbot index" in error, (label, command, error)
            shown.add(_shown(error, tmp_path))
    assert not a_file.with_name("index").exists() and (with_cache_file / "cache").is_file()
    reliability("Index faults", f"a file where the index needs a folder: {', '.join(cases)}; with `newsbot index` "
                "and with `newsbot ask` (which builds a missing index first)", 2 * len(cases),
                "exit 2 every time with one line naming the file in the way, e.g. "
                + " / ".join(f'"{message}"' for message in sorted(shown)[:2]))


def _damage(path: Path, how: str) -> None:
    """Damage a file in place, keeping its modification time (a check remembered by file times would miss it)."""
    data = path.read_bytes()
    times = path.stat()
    if how == "deleted":
        path.unlink()
        return
    if how == "emptied":
        data = b""
    elif how == "truncated":
        data = data[:len(data) // 2]
    elif how == "bytes flipped":  # the middle of the file: the payload, not the header
        middle = len(data) // 2
        data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 8]) + data[middle + 8:]
    elif how == "header garbled":
        data = b"\xff" * 16 + data[16:]
    elif how == "overwritten with same-size garbage":
        data = random.Random(len(data)).randbytes(len(data))
    path.write_bytes(data)
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


def _lose_checksums(version: Path, name: str, how: str) -> None:
    path = version / CHECKSUMS_FILE
    if how == "deleted":
        path.unlink()
    elif how == "emptied to {}":
        path.write_text("{}")
    elif how == "without that file's entry":
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != name}))


def _foreign(index_dir: Path, how: str) -> None:
    version = current_version(index_dir)
    if how == "CURRENT names a missing version":
        (index_dir / CURRENT_FILE).write_text("20200101T000000000000-abcdef\n")
    elif how == "CURRENT emptied":
        (index_dir / CURRENT_FILE).write_text("")
    elif how == "CURRENT holds a path":
        (index_dir / CURRENT_FILE).write_text("../../etc\n")
    elif how == "all versions deleted":
        shutil.rmtree(index_dir / VERSIONS_DIR)
    else:
        manifest = json.loads((version / MANIFEST_FILE).read_text())
        changed = {"format version 99": {"format_version": 99}, "another model": {"model": "some/other-model"},
                   "not a newsbot index": {"format": "other"}}[how]
        (version / MANIFEST_FILE).write_text(json.dumps({**manifest, **changed}))
        write_checksums(version)  # consistent files, as another newsbot or another model would have written


DAMAGE = ("emptied", "truncated", "bytes flipped", "header garbled", "overwritten with same-size garbage", "deleted")
CHECKSUMS_LOST = ("deleted", "emptied to {}", "without that file's entry")
FOREIGN = ("format version 99", "another model", "not a newsbot index",
           "CURRENT names a missing version", "CURRENT emptied", "CURRENT holds a path", "all versions deleted")


def test_damaged_or_foreign_index_files_are_refused_with_what_to_run_and_the_next_build_repairs_them(
        corpus_dir: Path, tmp_path: Path, reliability: Record) -> None:
    """Each case is first opened intact in this process, so a check remembered between opens would let it through."""
    pristine = tmp_path / "pristine"
    # the embedding keys are not the answer path's: only a copy into Milvus reads them (index/cache.py), and does
    # without them (test_milvus_live.py)
    files = sorted(p.name for p in build_index(corpus_dir, pristine, HashingEmbedder()).version.iterdir()
                   if p.name != EMBEDDING_KEYS_FILE)
    data_files = [name for name in files if name != CHECKSUMS_FILE]
    assert sorted(READER_FILES) == data_files  # every file a reader loads is damaged below
    # every file damaged every way; the checksums lost every way, alone and with each damage of a data file
    pairs = [(lost, how) for lost in CHECKSUMS_LOST for how in (None, *DAMAGE)]
    cases = ([(f"{name} {how}", name, how, None) for name in files for how in DAMAGE]
             + [(f"checksums.json {lost}" + (f", {name} {how}" if how else f" ({name})"), name, how, lost)
                for n, (lost, how) in enumerate(pairs) for name in [data_files[n % len(data_files)]]]
             + [(how, None, how, None) for how in FOREIGN])
    kinds: dict[str, int] = {}
    for label, name, how, lost in cases:
        index_dir = tmp_path / "idx"
        shutil.rmtree(index_dir, ignore_errors=True)
        shutil.copytree(pristine, index_dir)
        damaged = Retriever.open(index_dir, embedder=HashingEmbedder()).version_dir  # checked intact first
        if name is None:
            _foreign(index_dir, how)
        else:
            if how:
                _damage(damaged / name, how)
            if lost:
                _lose_checksums(damaged, name, lost)
        with pytest.raises(IndexProblem) as refused:
            Retriever.open(index_dir, embedder=HashingEmbedder())
        assert "newsbot index" in str(refused.value), label
        assert isinstance(refused.value, (IndexCorrupt, IndexIncompatible, IndexNotFound)), label
        kinds[type(refused.value).__name__] = kinds.get(type(refused.value).__name__, 0) + 1
        assert main(["index", "--corpus-dir", str(corpus_dir), "--index-dir", str(index_dir), "--model", "hashing"]) == 0
        repaired = Retriever.open(index_dir, embedder=HashingEmbedder())
        assert repaired.version_dir.name != damaged.name and repaired.search(OLD_QUESTION, k=1), label  # rebuilt
    damaged_cases = len(files) * len(DAMAGE)
    reliability("Index faults", f"index files damaged: each of the {len(files)} files of a version ({', '.join(files)}) "
                f"{', '.join(DAMAGE)}, each time after the intact version was opened once in the same process (the "
                "damage kept the file's modification time)", damaged_cases,
                "refused at load every time, with a message saying to run `newsbot index`; running it rebuilt a "
                "working index (from the embedding cache) every time")
    reliability("Index faults", f"checksums.json {', '.join(CHECKSUMS_LOST)}, alone and together with each damage "
                f"of a data file ({', '.join(DAMAGE)}), over the {len(data_files)} data files in turn",
                len(cases) - damaged_cases - len(FOREIGN),
                "refused at load every time (a version without checksums covering every file a reader loads is "
                "damaged), naming `newsbot index`; running it rebuilt a working index every time, never \"up to date\"")
    reliability("Index faults", f"index from elsewhere: {', '.join(FOREIGN)}", len(FOREIGN),
                f"refused at load every time ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))} over all "
                "damage and foreign cases), naming `newsbot index`; running it repaired the index every time")


SECRET = "hunter2-never-to-be-shown"
# A thing put where the index folder holds something of newsbot's, and whether a reader opens that entry.
HOSTILE = {
    "CURRENT": ("a named pipe", "a link to /dev/zero", "a link to /etc/passwd", "a link to a secret file outside",
                "a folder", "a secret line instead of a version name", "a sparse file of 1 GiB"),
    "versions/<current>": ("a link to an intact copy outside",),
    "versions": ("a link to an intact copy outside, beside other folders",),
    "vectors.faiss": ("a named pipe",),
    "checksums.json": ("a link to /dev/zero",),
    "manifest.json": ("a link to an identical copy outside",),
    ".lock": ("a named pipe", "a link to /dev/zero", "a link to a missing file outside", "a folder"),
    "CURRENT.tmp": ("a link to a file outside", "a named pipe"),
}
READERS_SKIP = (".lock", "CURRENT.tmp")  # used by builds only (so the test forces one that writes a version)


def _put_hostile(index_dir: Path, outside: Path, entry: str, how: str) -> None:
    """Replace `entry` of the index folder (or create it) with `how`; `outside` is a folder beside the index."""
    version = current_version(index_dir)
    path = {"CURRENT": index_dir / CURRENT_FILE, "CURRENT.tmp": index_dir / f"{CURRENT_FILE}.tmp",
            "versions": index_dir / VERSIONS_DIR, "versions/<current>": version,
            ".lock": index_dir / LOCK_FILE}.get(entry, version / entry)
    target = {"a link to /dev/zero": Path("/dev/zero"), "a link to /etc/passwd": Path("/etc/passwd"),
              "a link to a secret file outside": outside / "secret.txt",
              "a link to a missing file outside": outside / "made-by-the-lock",
              "a link to a file outside": outside / "secret.txt"}.get(how)
    if "copy outside" in how:
        copy = outside / path.name
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, copy)
        for n in range(3) if entry == "versions" else ():
            (copy / f"keep-me-{n}").mkdir()
        target = copy
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if target is not None:
        path.symlink_to(target)
    elif how == "a named pipe":
        os.mkfifo(path)
    elif how == "a folder":
        path.mkdir()
        (path / "inside").write_text(SECRET)
    elif how == "a secret line instead of a version name":
        path.write_text(SECRET + "\n")
    elif how == "a sparse file of 1 GiB":
        with open(path, "wb") as handle:
            handle.truncate(2 ** 30)


def _tree(folder: Path) -> dict[str, object]:
    """What is under `folder`: each file's content, each link's target, each folder (links not followed)."""
    def what(path: Path) -> object:
        return f"link to {os.readlink(path)}" if path.is_symlink() else "folder" if path.is_dir() else path.read_bytes()

    return {str(path.relative_to(folder)): what(path) for path in folder.rglob("*")}


def test_hostile_entries_in_the_index_folder_are_never_followed_or_echoed_and_index_repairs_them(
        corpus_dir: Path, tmp_path: Path, reliability: Record) -> None:
    """Pipes, links out of the folder, folders and huge files where newsbot keeps its own entries: readers refuse
    them at once without showing what they hold, `newsbot index` replaces them, and nothing outside is touched."""
    pristine = tmp_path / "pristine"
    build_index(corpus_dir, pristine, HashingEmbedder())
    passwd = Path("/etc/passwd").read_text(errors="replace").splitlines()[:1] if Path("/etc/passwd").is_file() else []
    refusals: dict[str, set[str]] = {}
    slowest = 0.0
    for entry, ways in HOSTILE.items():
        for how in ways:
            label = f"{entry} {how}"
            index_dir, outside = tmp_path / "idx", tmp_path / "outside"
            for folder in (index_dir, outside):
                shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(pristine, index_dir)
            outside.mkdir()
            (outside / "secret.txt").write_text(SECRET + "\n")
            _put_hostile(index_dir, outside, entry, how)
            before = _tree(outside)
            dirs = ["--corpus-dir", str(corpus_dir), "--index-dir", str(index_dir)]

            asked, seconds = _newsbot("ask", OLD_QUESTION, *dirs)
            shown = asked.stdout + asked.stderr
            assert SECRET not in shown and not any(line in shown for line in passwd), label
            assert "Traceback" not in shown, label
            if entry in READERS_SKIP:
                assert asked.returncode == 0 and asked.stdout.strip(), (label, shown)
            else:
                assert asked.returncode == 2 and "newsbot index" in asked.stderr, (label, shown)
                assert len(asked.stderr.strip().splitlines()) == 1, (label, shown)
                refusals.setdefault(entry, set()).add(_shown(asked.stderr.strip(), tmp_path))

            built, build_seconds = _newsbot("index", *dirs, *(["--force"] if entry in READERS_SKIP else []))
            assert built.returncode == 0, (label, built.stderr)
            slowest = max(slowest, seconds, build_seconds)
            repaired = Retriever.open(index_dir, embedder=HashingEmbedder())
            assert repaired.search(OLD_QUESTION, k=1), label
            assert _tree(outside) == before, label  # nothing outside written, created or deleted
            for own, kind in ((CURRENT_FILE, stat.S_ISREG), (VERSIONS_DIR, stat.S_ISDIR), (LOCK_FILE, stat.S_ISREG)):
                assert kind(os.lstat(index_dir / own).st_mode), (label, own)
            assert not any(p.is_symlink() for p in (index_dir / VERSIONS_DIR).iterdir()), label
    for entry, ways in HOSTILE.items():
        readers, build = (("`newsbot ask` went on answering (readers never open it)", "`newsbot index --force`")
                          if entry in READERS_SKIP else
                          (f"`newsbot ask` exited 2 with \"{' / '.join(sorted(refusals[entry]))}\"", "`newsbot index`"))
        reliability("Index faults", f"{entry} replaced by {', '.join(ways)}", len(ways),
                    f"{readers}; then {build} replaced it and rebuilt, exit 0; no command took more than "
                    f"{slowest:.1f} s (none blocked or read without end); nothing outside the index folder was "
                    "written, created or deleted, and no file's content was shown")


def test_a_damaged_embedding_cache_is_re_embedded_not_fatal(corpus_dir: Path, tmp_path: Path,
                                                             reliability: Record) -> None:
    index_dir = tmp_path / "idx"
    first = build_index(corpus_dir, index_dir, HashingEmbedder())
    cached = sorted((index_dir / "cache").rglob("*.npy"))
    assert cached
    for how in ("emptied", "truncated", "header garbled", "deleted"):
        for path in cached:
            if path.exists():
                _damage(path, how)
        embedder = CountingEmbedder()
        report = build_index(corpus_dir, index_dir, embedder, force=True)
        assert report.articles == first.articles and embedder.texts > 0  # re-embedded, not crashed
        cached = sorted((index_dir / "cache").rglob("*.npy"))
    reliability("Index faults", "embedding cache files emptied, truncated, header garbled, deleted", 4,
                "the next build re-embedded those articles and completed")


def test_two_builds_at_once_never_write_together(corpus_dir: Path, tmp_path: Path, reliability: Record) -> None:
    """Four builds started together in threads (each flock is its own open file, as in separate processes)."""
    index_dir = tmp_path / "idx"
    build_index(corpus_dir, index_dir, HashingEmbedder())
    add_filler_articles(corpus_dir, 5)
    writing, most, release = [0], [0], threading.Event()
    guard = threading.Lock()

    class Gated(HashingEmbedder):
        def encode(self, texts: Sequence[str]) -> np.ndarray:
            with guard:
                writing[0] += 1
                most[0] = max(most[0], writing[0])
            release.wait(timeout=30)
            with guard:
                writing[0] -= 1
            return super().encode(texts)

    outcomes: list[str] = []

    def build() -> None:
        try:
            outcomes.append(f"built {build_index(corpus_dir, index_dir, Gated(), force=True).articles}")
        except IndexBusy as busy:
            outcomes.append(str(busy))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    while len(outcomes) < 3:  # three are refused at once while the first waits in its embedding call
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["another index build is running; try again when it has finished"] * 3 + ["built 6"]
    assert most[0] == 1
    reliability("Index faults", "four builds started at once (threads, separate lock handles)", 4,
                "one built; three were refused at once with \"another index build is running\"; never two writers")


def test_the_cli_and_a_build_in_another_process_do_not_write_together(
        builds: Builds, corpus_dir: Path, tmp_path: Path, reliability: Record,
        capsys: pytest.CaptureFixture[str]) -> None:
    index_dir = tmp_path / "idx"
    old = build_index(corpus_dir, index_dir, HashingEmbedder())
    add_filler_articles(corpus_dir, 5)
    pid, outcome, _ = builds.start(3, corpus_dir, index_dir)  # a build in another process, paused holding the lock
    assert outcome.startswith("paused")
    dirs = ["--corpus-dir", str(corpus_dir), "--index-dir", str(index_dir), "--model", "hashing"]
    assert main(["index", *dirs]) == 2
    assert "another index build is running" in capsys.readouterr().err
    assert builds.kill(pid) == -signal.SIGKILL
    assert current_version(index_dir).name == old.version.name
    assert main(["index", *dirs]) == 0  # the lock died with its holder
    reliability("Index faults", "`newsbot index` while another process builds (then that process SIGKILLed)", 1,
                "refused with exit 2 and \"another index build is running\"; after the kill the lock was free "
                "and the next `newsbot index` built")
