"""Scale figures: a streamed build of a million-sentence corpus (wall time, peak memory, kill and
resume), search latency, recall@10 and memory by FAISS index type and size, and a process serving
the built index.

Benchmarks, not tests: nothing here asserts a time. Usage (from the project root):

    .venv/bin/python -m benchmarks.scale search [--sizes 10000,100000,1000000] [--json]
    .venv/bin/python -m benchmarks.scale build [--sentences 1000000] [--work-dir DIR] [--json]

`search` uses real all-MiniLM-L6-v2 vectors (default backend) of the SQuAD v1.1 dev sentences as the
index stores them ("Title: sentence") and 200 real SQuAD questions as queries; 10k is 10,000 real
sentences, larger sizes are those 10,250 vectors repeated with Gaussian noise (each copy at cosine
about 0.8 to its source; see `noisy_copies`). `build` writes a synthetic news corpus (JSON Lines,
20 sentences an article) and indexes it through `newsbot`'s own build with the deterministic
hashing embedder at 384 dimensions (MiniLM's width), in child processes so peak memory is theirs.

For the suite (benchmarks/suite.py): `measure_search(sizes)` and `measure_build(sentences, work_dir)`
return plain dicts (lists of dicts) of figures; `search_table(rows)` renders the search rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.report import table
from benchmarks.stats import machine
from newsbot.retrieval.evaluation.percentile import percentile
from newsbot.index.rowfile import RowFile
from newsbot.index.vectors import EXACT, IndexPlan, build_vectors, load_vectors, plan_index, save_vectors
from newsbot.retrieval.threads import answer_on_one_thread

CACHE_DIR = Path(tempfile.gettempdir()) / "newsbot-scale"
QUERIES = 200
CANDIDATES = 100  # what retrieval.candidates asks FAISS for (SENTENCE_CANDIDATES)
NOISE = 0.75  # norm of the noise added to a unit vector: cosine ≈ 1 / sqrt(1 + 0.75²) ≈ 0.8 to its source
DIMENSION = 384
SENTENCES_PER_ARTICLE = 20
ARTICLES_PER_FILE = 2000


# ---------------------------------------------------------------- search: latency, recall, memory

def measure_search(sizes: Sequence[int], *, queries: int = QUERIES, cache_dir: Path = CACHE_DIR) -> list[dict]:
    """For each size and each index type newsbot ships (exact Flat, and the IVF,SQ8 that
    `plan_index` picks for that size), one question at a time on one thread in a fresh process:
    p50/p99 search ms (k=100, as the ranking asks), recall@10 against exact search, the serving
    process's RSS and the index file's size."""
    sentences, questions = real_vectors(cache_dir)
    asked = questions[np.random.default_rng(7).choice(len(questions), queries, replace=False)]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        np.save(folder / "queries.npy", asked)
        for size in sizes:
            vectors = RowFile(folder / "vectors.npy", size, sentences.shape[1])
            for start in range(0, size, 100_000):
                block = noisy_copies(sentences, start, min(size, start + 100_000), seed=size)
                vectors.write(start, block)
            truth = _exact_top(vectors, asked, 10)
            for plan in (IndexPlan(EXACT), plan_index(size, exact_up_to=0)):
                started = time.perf_counter()
                index = build_vectors(plan, vectors)
                build_seconds = time.perf_counter() - started
                save_vectors(index, folder / "index.faiss")
                del index
                served = _child("serve-search", str(folder / "index.faiss"), str(folder / "queries.npy"),
                                json.dumps(dict(plan.search)), str(size))
                found = np.load(folder / "found.npy")
                recall = float(np.mean([len(set(f[:10]) & set(t)) / 10 for f, t in zip(found, truth)]))
                rows.append({"sentences": size, "index": plan.factory, "search": dict(plan.search),
                             "training_sample": plan.training_sample, "build_s": round(build_seconds, 1),
                             "p50_ms": served["p50_ms"], "p99_ms": served["p99_ms"], "recall_at_10": round(recall, 3),
                             "rss_mb": served["rss_mb"], "index_file_mb": round((folder / "index.faiss").stat().st_size / 2**20)})
            vectors.close(sync=False)
    return rows


def real_vectors(cache_dir: Path = CACHE_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the SQuAD dev sentences as the index embeds them ("Title: sentence") and of its
    unique questions, with the default model and backend; computed once (a few minutes) and cached."""
    from newsbot.index.embedder import load_embedder

    embedder = load_embedder()
    path = cache_dir / f"{embedder.name.replace('/', '_')}-squad-dev.npz"
    if not path.is_file():
        from newsbot.index.build import embedding_texts
        from benchmarks.squad import SQUAD
        from newsbot.retrieval.evaluation.reqa import load_squad, reqa_task

        if not SQUAD.is_file():
            raise SystemExit(f"{SQUAD} is needed for real vectors")
        documents, queries = reqa_task(load_squad(SQUAD), "dataset")
        titled = [text for article, sentences in documents for text in embedding_texts(article, sentences)[:len(sentences)]]
        unique = list(dict.fromkeys(q.question for q in queries))
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(path, titled=embedder.encode(titled), questions=embedder.encode(unique))
    saved = np.load(path)
    return saved["titled"].astype(np.float32), saved["questions"].astype(np.float32)


def noisy_copies(sentences: np.ndarray, start: int, stop: int, *, seed: int) -> np.ndarray:
    """Rows start..stop of a corpus of `sentences` repeated: the first copy exact, later ones with
    isotropic Gaussian noise of norm NOISE, renormalised."""
    rng = np.random.default_rng([seed, start])
    rows = np.arange(start, stop)
    block = sentences[rows % len(sentences)].copy()
    noisy = rows >= len(sentences)
    noise = rng.standard_normal((int(noisy.sum()), sentences.shape[1]), dtype=np.float32)
    block[noisy] += noise * (NOISE / np.sqrt(sentences.shape[1]))
    return block / np.linalg.norm(block, axis=1, keepdims=True)


def _exact_top(vectors: RowFile, queries: np.ndarray, k: int) -> np.ndarray:
    scores, ids = np.full((len(queries), k), -np.inf, np.float32), np.zeros((len(queries), k), np.int64)
    for number, block in enumerate(vectors.chunks(100_000)):
        both = np.concatenate([scores, queries @ block.T], axis=1)
        both_ids = np.concatenate([ids, np.arange(len(block)) + number * 100_000 + np.zeros((len(queries), 1), np.int64)], axis=1)
        order = np.argsort(-both, axis=1)[:, :k]
        scores, ids = np.take_along_axis(both, order, 1), np.take_along_axis(both_ids, order, 1)
    return ids


def _serve_search(index_path: str, queries_path: str, search: str, size: str) -> dict:
    """In a fresh process: load the index as newsbot does, search each query alone, report."""
    index = load_vectors(Path(index_path), dimension=DIMENSION, count=int(size), search=json.loads(search))
    queries = np.load(queries_path)
    for query in queries[:20]:
        index.search(query[None], CANDIDATES)
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        _, ids = index.search(query[None], CANDIDATES)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids[0])
    np.save(Path(queries_path).parent / "found.npy", np.array(found))
    return {"p50_ms": round(percentile(times, 50), 3), "p99_ms": round(percentile(times, 99), 3),
            "rss_mb": _rss_mb()}


# ---------------------------------------------------------------- build: a million sentences

def measure_build(sentences: int, work_dir: Path, *, kill_at: float = 0.5, full: bool = True) -> dict:
    """Write a synthetic corpus of `sentences`, then in child processes: one uninterrupted build
    (wall time, peak RSS), and one killed with SIGKILL once `kill_at` of its embedding is done and
    resumed (what the resumed run re-embedded, its wall time). Then open the built index and answer
    questions (RSS of the serving process)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    corpus = work_dir / "corpus"
    started = time.perf_counter()
    written = write_synthetic_corpus(corpus, sentences)
    figures: dict[str, object] = {"corpus": {**written, "write_s": round(time.perf_counter() - started, 1)}}
    if full:
        figures["full_build"] = _timed_child("build-index", str(corpus), str(work_dir / "index-full"))
    index_dir = work_dir / "index-resumed"
    progress = work_dir / "progress"
    killed = _killed_build(corpus, index_dir, progress, kill_at)
    resumed = _timed_child("build-index", str(corpus), str(index_dir))
    figures["kill_and_resume"] = {"killed_after_s": killed["seconds"], "killed_at_texts": killed["texts"],
                                  "killed_peak_rss_mb": killed["peak_rss_mb"], "resumed": resumed}
    served = work_dir / "index-full" if full else index_dir
    figures["serving"] = _child("serve-index", str(served), str(corpus))
    return figures


def write_synthetic_corpus(folder: Path, sentences: int, *, seed: int = 0) -> dict:
    """News-like articles in JSON Lines: a title, 20 sentences of 8-30 words drawn from a Zipfian
    vocabulary of made-up words and numbers, in paragraphs of 1-5 sentences."""
    rng = np.random.default_rng(seed)
    syllables = np.array(["ka", "lo", "mi", "ra", "ten", "vo", "shi", "par", "en", "ul", "dor", "bre", "ti", "an", "sel"])
    vocabulary = np.array(["".join(rng.choice(syllables, rng.integers(1, 5))) for _ in range(60_000)])
    zipf = np.cumsum(1 / np.arange(1, len(vocabulary) + 1) ** 1.05)
    folder.mkdir(parents=True, exist_ok=True)
    articles = -(-sentences // SENTENCES_PER_ARTICLE)
    paragraphs = 0
    for first in range(0, articles, ARTICLES_PER_FILE):
        count = min(articles, first + ARTICLES_PER_FILE) - first
        lengths = rng.integers(8, 31, (count, SENTENCES_PER_ARTICLE))
        words = vocabulary[np.searchsorted(zipf, rng.random(int(lengths.sum())) * zipf[-1])].tolist()
        numbers = rng.integers(2, 99_999, lengths.shape)
        lines, position = [], 0
        for row in range(count):
            texts = []
            for length, number in zip(lengths[row].tolist(), numbers[row].tolist()):
                text = " ".join(words[position:position + length]).capitalize()
                texts.append(f"{text} {number}." if length % 3 == 0 else f"{text}.")
                position += length
            cuts = np.cumsum(rng.integers(1, 6, SENTENCES_PER_ARTICLE))
            cuts = [0, *cuts[cuts < SENTENCES_PER_ARTICLE].tolist(), SENTENCES_PER_ARTICLE]
            body = [" ".join(texts[a:b]) for a, b in zip(cuts, cuts[1:])]
            paragraphs += len(body)
            number = first + row
            lines.append(json.dumps({"id": number, "title": " ".join(texts[0].split()[:4]).title(), "paragraphs": body,
                                     "source": "Synthetic Wire", "date": f"20{10 + number % 15}-0{1 + number % 9}-1{number % 10}"}))
        (folder / f"articles-{first // ARTICLES_PER_FILE:04d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"articles": articles, "sentences": articles * SENTENCES_PER_ARTICLE, "paragraphs": paragraphs}


def _build_index(corpus: str, index_dir: str, progress_file: str | None = None) -> dict:
    """In a child: build with newsbot's own build and progress bars, as `newsbot index` does."""
    from newsbot.bot.cli import ProgressBars
    from newsbot.index import build_index
    from newsbot.index.build import EMBEDDING
    from newsbot.index.hashing_embedder import HashingEmbedder

    with ProgressBars() as bars:
        def progress(stage: str, done: int, total: int | None) -> None:
            bars(stage, done, total)
            if progress_file and stage == EMBEDDING:
                Path(progress_file).write_text(f"{done} {total}")

        report = build_index(Path(corpus), Path(index_dir), HashingEmbedder(DIMENSION), progress=progress)
    manifest = json.loads((report.version / "manifest.json").read_text())
    return {"articles": report.articles, "sentences": report.sentences, "embedded": report.embedded,
            "index": manifest["faiss_factory"], "search": manifest["faiss_search"]}


def _killed_build(corpus: Path, index_dir: Path, progress: Path, kill_at: float) -> dict:
    progress.unlink(missing_ok=True)
    started = time.perf_counter()
    child = subprocess.Popen([*CHILD, "build-index", str(corpus), str(index_dir), str(progress)],
                             stdout=subprocess.DEVNULL)
    texts = 0
    while child.poll() is None:
        try:
            done, total = map(int, progress.read_text().split())
        except (OSError, ValueError):
            done, total = 0, 1
        if total and done >= kill_at * total:
            texts = done
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.2)
    _, status, usage = os.wait4(child.pid, 0)
    if not os.WIFSIGNALED(status):
        raise SystemExit("the build finished before it could be killed")
    return {"seconds": round(time.perf_counter() - started, 1), "texts": texts, "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def _serve_index(index_dir: str, corpus: str) -> dict:
    """In a child: open the index with `Retriever` and answer 100 questions (sentences of the corpus)."""
    from newsbot.index.hashing_embedder import HashingEmbedder
    from newsbot.retrieval import Retriever

    started = time.perf_counter()
    retriever = Retriever.open(Path(index_dir), embedder=HashingEmbedder(DIMENSION))
    open_seconds = time.perf_counter() - started
    rss_open = _rss_mb()
    first = json.loads(next(iter(sorted(Path(corpus).glob("*.jsonl")))).open().readline())
    questions = [sentence for paragraph in first["paragraphs"] for sentence in paragraph.split(". ")] * 5
    times = []
    for question in questions:
        started = time.perf_counter()
        retriever.answer(question)
        times.append((time.perf_counter() - started) * 1000)
    return {"sentences": retriever.manifest.sentences, "paragraphs": retriever.manifest.paragraphs,
            "index": retriever.manifest.faiss_factory, "open_s": round(open_seconds, 2), "rss_after_open_mb": rss_open,
            "answer_p50_ms": round(percentile(times, 50), 1), "answer_p99_ms": round(percentile(times, 99), 1),
            "rss_mb": _rss_mb(), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


# ---------------------------------------------------------------- processes, machine, output

CHILD = [sys.executable, "-m", "benchmarks.scale", "_child"]  # run from the project root, like the parent
CHILD_TASKS = {"serve-search": _serve_search, "build-index": _build_index, "serve-index": _serve_index}


def _child(task: str, *args: str) -> dict:
    out = subprocess.run([*CHILD, task, *args], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _timed_child(task: str, *args: str) -> dict:
    started = time.perf_counter()
    child = subprocess.Popen([*CHILD, task, *args], stdout=subprocess.PIPE, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{task} failed")
    return {**json.loads(output.strip().splitlines()[-1]), "wall_s": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def _rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def search_table(rows: list[dict]) -> str:
    """The rows of `measure_search` as a Markdown table."""
    return table(("sentences", "index", "p50 ms", "p99 ms", "recall@10", "RSS MB", "file MB", "build s"),
                 [(f"{r['sentences']:,}", r["index"] + "".join(f" {k}={v}" for k, v in r["search"].items()),
                   r["p50_ms"], r["p99_ms"], r["recall_at_10"], r["rss_mb"], r["index_file_mb"], r["build_s"])
                  for r in rows], "rlrrrrrr")


def main() -> None:
    answer_on_one_thread()  # as the `newsbot` command does, in this process and in each child
    if sys.argv[1:2] == ["_child"]:
        print(json.dumps(CHILD_TASKS[sys.argv[2]](*sys.argv[3:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="latency, recall and memory by index type and size")
    search.add_argument("--sizes", default="10000,100000,1000000")
    build = commands.add_parser("build", help="a streamed, killed and resumed build of a synthetic corpus")
    build.add_argument("--sentences", type=int, default=1_000_000)
    build.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "newsbot-scale-build")
    build.add_argument("--kill-at", type=float, default=0.5)
    build.add_argument("--no-full", action="store_true", help="skip the uninterrupted build")
    for command in (search, build):
        command.add_argument("--json", action="store_true")
    args = parser.parse_args()
    before = machine()
    if args.command == "search":
        figures: object = measure_search([int(size) for size in args.sizes.split(",")])
        text = search_table(figures)  # type: ignore[arg-type]
    else:
        figures = measure_build(args.sentences, args.work_dir, kill_at=args.kill_at, full=not args.no_full)
        text = json.dumps(figures, indent=2)
    result = {"machine": before, "load_average_after": [round(x, 2) for x in os.getloadavg()], "figures": figures}
    print(json.dumps(result, indent=2) if args.json else f"{json.dumps(before)}\n{text}\nload after: {result['load_average_after']}")


if __name__ == "__main__":
    main()
