"""Shared measuring helpers for the benchmarks: timing a call per item, the machine (percentiles: retrieval.evaluation.percentile)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TypeVar

from newsbot.retrieval.evaluation.percentile import percentile

T = TypeVar("T")
LIBRARIES = ("numpy", "faiss-cpu", "onnxruntime", "tokenizers", "torch", "transformers", "sentence-transformers",
             "python-telegram-bot", "httpx", "txtai")


def latencies_ms(call: Callable[[T], object], items: Sequence[T]) -> list[float]:
    """Milliseconds taken by `call(item)` for each item, in order."""
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary_ms(times: Sequence[float]) -> dict[str, float]:
    """p50 and p99 of a latency sample, rounded for a report."""
    return {"samples": len(times), "p50_ms": round(percentile(times, 50), 2), "p99_ms": round(percentile(times, 99), 2)}


def median_of(rounds: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over repeated rounds of the same measurement."""
    return {key: round(statistics.median(r[key] for r in rounds), 2) for key in rounds[0]}


def machine() -> dict[str, object]:
    """CPU, cores, SIMD flags, load average and the versions of the libraries that set the speed."""
    info = {key.strip(): value.strip() for key, _, value in
            (line.partition(":") for line in Path("/proc/cpuinfo").read_text().splitlines())}
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"cpu": info.get("model name") or platform.processor(), "cores": os.cpu_count(),
            "simd": [f for f in info.get("flags", "").split() if f.startswith(("avx", "amx")) or "vnni" in f],
            "load_average": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
            "libraries": versions}
