"""Milvus Lite beside FAISS as newsbot configures it, at 10k, 100k and 1M sentences: build (insert and
index) time, search p50/p99 for one question, recall@10 against exact search, memory.

The corpus and the questions are `benchmarks.scale`'s (`measure_search`): real all-MiniLM-L6-v2 vectors
of the SQuAD dev sentences, larger sizes those 10,250 repeated with Gaussian noise; 200 real SQuAD
questions, one at a time, k = 100 (what the ranking asks for), inner product on unit vectors. The FAISS
rows are `benchmarks.scale.measure_search`'s own (exact Flat and the IVF,SQ8 `plan_index` picks).

Milvus Lite (the milvus-lite package behind pymilvus' `MilvusClient("file.db")`) is, from version 3,
pure Python: its engine runs inside the client's process (a gRPC server on a thread, the client talking
to it over 127.0.0.1), stores rows in Parquet segments of at most 100,000 rows and builds one FAISS
index per segment, so a search asks every segment and merges. It accepts FLAT, IVF_FLAT, IVF_SQ8,
HNSW and HNSW_SQ (`milvus_lite/index/factory.py`). Each Milvus row runs in a fresh process that
inserts in batches, flushes, builds and loads the index, then searches; its RSS is the engine's and
the client's together, since they are one process.

Usage (from the project root; 10k and 100k take a few minutes, 1M much longer):

    .venv/bin/python -m benchmarks.research.milvus_scale [--sizes 10000,100000,1000000]
        [--types FLAT,IVF_SQ8,HNSW] [--json] [--write-docs]

`--write-docs` writes the table into docs/SCALING.md (block scale-milvus, or the one `--block` names: the
1M run has its own, `scale-milvus-1m`, since it runs alone with fewer index types).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.report import provenance, table, write_block
from benchmarks.scale import CANDIDATES, QUERIES, _rss_mb, measure_search, noisy_copies, real_vectors
from benchmarks.stats import machine
from newsbot.index.vectors import MIN_PROBES, plan_index
from newsbot.retrieval.evaluation.percentile import percentile

ROOT = Path(__file__).resolve().parents[2]
INSERT_BATCH = 5_000  # rows per insert call: about 8 MB of vectors, well under gRPC's 64 MB message cap
SEGMENT_ROWS = 100_000  # milvus_lite.constants.MAX_SEGMENT_ROWS: each segment has its own index
HNSW_BUILD = {"M": 16, "efConstruction": 200}  # Milvus' documented defaults
HNSW_EF = 128  # candidates explored per search: at least the k = 100 the ranking asks for
CORPUS_BLOCK = 100_000  # the noise depends on the block's start: the blocks of measure_search, the same corpus
CHILD = [sys.executable, "-m", "benchmarks.research.milvus_scale", "_child"]


def milvus_index(kind: str, size: int) -> tuple[dict, dict]:
    """Build and search parameters for a Milvus index `kind` over `size` rows, chosen like the product's
    FAISS index: IVF lists as `plan_index` would give one segment (at most SEGMENT_ROWS rows), the same
    nprobe; HNSW with ef at least k."""
    segment = min(size, SEGMENT_ROWS)
    if kind.startswith("IVF"):
        lists = int(plan_index(segment, exact_up_to=0).factory.split(",")[0].removeprefix("IVF"))
        return {"nlist": lists}, {"nprobe": min(lists, MIN_PROBES)}
    if kind.startswith("HNSW"):
        return dict(HNSW_BUILD), {"ef": HNSW_EF}
    return {}, {}


def measure_milvus(size: int, kind: str, queries: np.ndarray, work: Path) -> dict:
    """In a fresh process: insert `size` rows into a Milvus Lite collection with index `kind`, search."""
    np.save(work / "queries.npy", queries)
    out = subprocess.run([*CHILD, str(size), kind, str(work)], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _serve_milvus(size: str, kind: str, work: str) -> dict:
    from pymilvus import DataType, MilvusClient

    rows, folder = int(size), Path(work)
    build, search = milvus_index(kind, rows)
    sentences, _ = real_vectors()
    db = folder / f"milvus-{rows}-{kind}.db"
    client = MilvusClient(str(db))
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=sentences.shape[1])
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type=kind, metric_type="IP", params=build)
    started = time.perf_counter()
    client.create_collection("sentences", schema=schema)
    for start in range(0, rows, CORPUS_BLOCK):
        block = noisy_copies(sentences, start, min(rows, start + CORPUS_BLOCK), seed=rows)
        for first in range(0, len(block), INSERT_BATCH):
            client.insert("sentences", [{"id": start + first + i, "vector": v}
                                        for i, v in enumerate(block[first:first + INSERT_BATCH])])
    insert_seconds = time.perf_counter() - started
    client.flush("sentences")
    client.create_index("sentences", index)
    client.load_collection("sentences")
    build_seconds = time.perf_counter() - started
    queries = np.load(folder / "queries.npy")
    for query in queries[:20]:
        client.search("sentences", data=[query.tolist()], limit=CANDIDATES, search_params={"params": search})
    times, found = [], []
    for query in queries:
        begun = time.perf_counter()
        hits = client.search("sentences", data=[query.tolist()], limit=CANDIDATES, search_params={"params": search})
        times.append((time.perf_counter() - begun) * 1000)
        found.append([hit["id"] for hit in hits[0][:10]])
    disk = sum(f.stat().st_size for f in db.rglob("*") if f.is_file()) if db.is_dir() else db.stat().st_size
    figures = {"sentences": rows, "engine": "Milvus Lite", "index": kind, "build": build, "search": search,
               "insert_s": round(insert_seconds, 1), "build_s": round(build_seconds, 1),
               "p50_ms": round(percentile(times, 50), 3), "p99_ms": round(percentile(times, 99), 3),
               "rss_mb": _rss_mb(), "peak_rss_mb": _peak_rss_mb(),
               "disk_mb": round(disk / 2**20), "found": found}
    client.close()
    return figures


def _peak_rss_mb() -> int:
    """This process's peak RSS since its exec (VmHWM; ru_maxrss would carry the parent's peak over exec)."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return round(int(status["VmHWM"].split()[0]) / 1024)


def exact_top(size: int, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The exact top `k` of each query over the corpus of `size` rows, a block at a time."""
    import faiss

    sentences, _ = real_vectors()
    index = faiss.IndexFlatIP(sentences.shape[1])
    for start in range(0, size, CORPUS_BLOCK):
        index.add(noisy_copies(sentences, start, min(size, start + CORPUS_BLOCK), seed=size))
    return index.search(queries, k)[1]


def measure(sizes: Sequence[int], kinds: Sequence[str]) -> list[dict]:
    """FAISS as the product configures it, then Milvus Lite with each index kind, at each size."""
    _, questions = real_vectors()
    asked = questions[np.random.default_rng(7).choice(len(questions), QUERIES, replace=False)]  # as measure_search
    rows = [{**row, "engine": "FAISS"} for row in measure_search(sizes)]
    with tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            truth = exact_top(size, asked)
            for kind in kinds:
                row = measure_milvus(size, kind, asked, Path(scratch))
                found = row.pop("found")
                row["recall_at_10"] = round(float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])), 3)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    return sorted(rows, key=lambda r: r["sentences"])


def scale_table(rows: list[dict]) -> str:
    """The rows of `measure` as a Markdown table."""
    def index(row: dict) -> str:
        parameters = {**row.get("build", {}), **row["search"]}
        return row["index"] + "".join(f" {k}={v}" for k, v in parameters.items())

    return table(("sentences", "engine", "index", "build s", "p50 ms", "p99 ms", "recall@10", "RSS MB", "on disk MB"),
                 [(f"{r['sentences']:,}", r["engine"], index(r), r["build_s"], r["p50_ms"], r["p99_ms"],
                   r["recall_at_10"], r["rss_mb"], r.get("disk_mb", r.get("index_file_mb")))
                  for r in rows], "rllrrrrrr")


# ---------------------------------------------------------------- the plan past this machine, from the figures

TARGET_SENTENCES = 100_000_000
TARGET_MESSAGES = 1_000  # per second
SENTENCES_PER_PARAGRAPH = 5  # SQuAD dev: 10,250 sentences in 2,067 paragraphs; each message searches both
SEGMENT_SENTENCES = 1_000_000  # rows per sealed Milvus segment (dataCoord.segment.maxSize about 1.5 GB of raw vectors)
INDEX_REPLICAS = 2  # Milvus in-memory replicas: a query node lost, the other copy serves
NODE_MEMORY_GB, NODE_CORES = 64, 16  # one query node
USABLE = 0.6  # share of a node's memory or cores planned for, the rest headroom for peaks, compaction, reloads
SCALAR_BYTES = 250  # per sentence in scalar fields: text (~150 B in SQuAD dev), offsets, ids, article keys
HNSW_BYTES = 4 * 384 + 2 * 16 * 4 + 64  # float32 vector, level-0 links at M=16, upper levels: FAISS's layout
# Redis calls per message (each a command or a short Lua script): the update journal's received, claim and done
# mark (bot.shared_journal), the rate limit (one script), the user's turn taken and released (bot.locks)
REDIS_COMMANDS = 6
REDIS_OPS_PER_CORE = 100_000  # simple commands a second one Redis core serves (redis-benchmark order of magnitude)
# how long an answered update is remembered, and what its done mark holds in Redis: 161 B measured by
# `python -m benchmarks.research.shared_journal_cost`
SEEN_TTL_S, SEEN_KEY_BYTES = 3_600, 161
BOT_UTILISATION = 0.6  # share of a replica's measured capacity planned for
REPLICA_CORES = 2  # a bot replica's machine, as this one


def plan(rows: list[dict], bot_capacity: float, replica_cpu_ms: float) -> list[tuple[str, str, str]]:
    """What 100M sentences and 1,000 messages/s take, from the largest FAISS IVF row measured (bytes per
    vector, one search's time), the bot's measured capacity (messages/s of one process, files store) and
    a replica's measured CPU per message when it reads a Milvus server (`replica_cpu_ms`)."""
    ivf = max((r for r in rows if r["engine"] == "FAISS" and r["index"].startswith("IVF")), key=lambda r: r["sentences"])
    per_vector = ivf["index_file_mb"] * 2**20 / ivf["sentences"]
    vectors = TARGET_SENTENCES * (1 + 1 / SENTENCES_PER_PARAGRAPH)
    index_gb = vectors * per_vector / 1e9
    scalar_gb = TARGET_SENTENCES * SCALAR_BYTES / 1e9
    segment_ms = ivf["p50_ms"] * math.sqrt(SEGMENT_SENTENCES / ivf["sentences"])  # IVF: nlist ∝ √n, cost ∝ √n
    search_ms = vectors / SEGMENT_SENTENCES * segment_ms
    cores = search_ms * TARGET_MESSAGES / 1000
    memory_nodes = math.ceil(INDEX_REPLICAS * (index_gb + scalar_gb) / (NODE_MEMORY_GB * USABLE))
    core_nodes = math.ceil(cores / (NODE_CORES * USABLE))
    replicas = math.ceil(TARGET_MESSAGES / (bot_capacity * BOT_UTILISATION)) + 1
    milvus_replicas = math.ceil(TARGET_MESSAGES * replica_cpu_ms / 1000 / (REPLICA_CORES * BOT_UTILISATION)) + 1
    redis_ops = REDIS_COMMANDS * TARGET_MESSAGES
    seen_gb = TARGET_MESSAGES * SEEN_TTL_S * SEEN_KEY_BYTES / 1e9
    return [
        ("IVF_SQ8 bytes per vector", f"{per_vector:.0f}", f"FAISS {ivf['index']} file at {ivf['sentences']:,} sentences"),
        ("vectors at 100M sentences", f"{vectors / 1e6:.0f}M", f"sentences + paragraphs (1 per {SENTENCES_PER_PARAGRAPH} sentences)"),
        ("index memory, one copy", f"{index_gb:.0f} GB", f"IVF_SQ8; HNSW (M=16) would take {vectors * HNSW_BYTES / 1e9:.0f} GB"),
        ("scalar fields, one copy", f"{scalar_gb:.0f} GB", f"{SCALAR_BYTES} B a sentence (text, offsets, keys)"),
        ("search CPU per message", f"{search_ms:.0f} ms",
         f"{vectors / SEGMENT_SENTENCES:.0f} segments of {SEGMENT_SENTENCES:,} rows, {segment_ms:.2f} ms each "
         f"(measured {ivf['p50_ms']} ms at {ivf['sentences']:,}, scaled by √n)"),
        ("search cores at 1,000 msg/s", f"{cores:.0f}", "one core per search, as measured"),
        ("Milvus query nodes", f"{max(memory_nodes, core_nodes)}",
         f"{NODE_CORES} cores / {NODE_MEMORY_GB} GB each, {USABLE:.0%} used: {memory_nodes} for memory "
         f"({INDEX_REPLICAS} in-memory replicas), {core_nodes} for CPU"),
        ("bot replicas, index in the process", f"{replicas}",
         f"{bot_capacity:.0f} msg/s measured per process (docs/BOT.md, 20 chats), {BOT_UTILISATION:.0%} of it "
         "planned, one spare"),
        ("bot replicas reading Milvus", f"{milvus_replicas}",
         f"{replica_cpu_ms:g} ms of replica CPU a message measured against a Milvus server (replicas table above), "
         f"machines of {REPLICA_CORES} cores at {BOT_UTILISATION:.0%}, one spare"),
        ("Redis commands/s", f"{redis_ops:,}", f"{REDIS_COMMANDS} a message; {redis_ops / REDIS_OPS_PER_CORE:.0%} of one core"),
        ("Redis memory for seen updates", f"{seen_gb:.2f} GB", f"{SEEN_TTL_S // 60} min of update ids, {SEEN_KEY_BYTES} B each"),
    ]


def replica_cpu_ms(page: Path = ROOT / "docs" / "SCALING.md") -> float:
    """A bot replica's CPU per message when it reads a Milvus server (one replica), from the generated
    replicas table (benchmarks/research/replicas.py)."""
    found = re.search(r"^\| Milvus server \| 1 \|(?:[^|]*\|){6} ([0-9.]+) \|", page.read_text(encoding="utf-8"),
                      re.MULTILINE)
    if not found:
        raise SystemExit(f"{page} has no 'Milvus server | 1' row in its replicas table")
    return float(found.group(1))


def bot_capacity(page: Path = ROOT / "docs" / "BOT.md") -> float:
    """Answered messages/s of one bot process at 20 saturated chats, from docs/BOT.md's generated table."""
    found = re.search(r"^\| 20, saturated \| ([0-9.]+) \|", page.read_text(encoding="utf-8"), re.MULTILINE)
    if not found:
        raise SystemExit(f"{page} has no '20, saturated' row in its bot-throughput table")
    return float(found.group(1))


def main() -> None:
    if sys.argv[1:2] == ["_child"]:
        print(json.dumps(_serve_milvus(*sys.argv[2:5])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--types", default="FLAT,IVF_SQ8,HNSW", help="Milvus Lite index types")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/SCALING.md")
    parser.add_argument("--block", default="scale-milvus", help="the docs/SCALING.md block to write")
    args = parser.parse_args()
    from newsbot.retrieval.threads import answer_on_one_thread

    answer_on_one_thread()  # FAISS's searches on one thread, as the `newsbot` command does
    started = machine()
    rows = measure([int(size) for size in args.sizes.split(",")], args.types.split(","))
    if args.json:
        print(json.dumps(rows, indent=2))
    text = scale_table(rows)
    print(text)
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.milvus_scale", "--sizes", args.sizes,
                              "--types", args.types, "--block", args.block, "--write-docs"])
        stamp = provenance(command, started, os.getloadavg())
        write_block(ROOT / "docs" / "SCALING.md", args.block, f"{stamp}\n\n{text}")
        write_block(ROOT / "docs" / "SCALING.md", "scale-plan",
                    f"{stamp}\n\n{table(('quantity', 'estimate', 'from'), plan(rows, bot_capacity(), replica_cpu_ms()), 'lrl')}")


if __name__ == "__main__":
    main()
