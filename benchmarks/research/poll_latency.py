"""Answer latency while a feed poll fetches and indexes new articles, against the same service idle.

The running service (bot/service.py, the real model with the default int8 backend) holds the bundled article
and SQuAD dev articles 0-23 (the many-story corpus); a feed served from 127.0.0.1 by a separate process
(`python -m http.server`, so the server's work does not share this process) lists `--pages` new article pages
written from SQuAD dev articles 24-47. One asker puts questions (SQuAD's, about articles 0-23) to the service
back to back, as a busy bot's users would: first idle, then during `Service.poll_feeds` (fetching and
extracting the pages, then storing and indexing them on the build thread), then idle again. Each question's
latency is `Service.answer`'s, the path the bot's handlers await; the questions are tagged with the poll's
phase when they started (fetching, or building). It is measured twice, with the pages fetched and extracted
on a worker thread of the service's process and in a worker process (`bot.service.HARVEST_IN_PROCESS`), each
with its own feed of new pages and its worker warmed up by a poll of an empty feed first.

Usage (from the project root; SQuAD dev must be at ../shared/eval; the corpus's embeddings are kept in
--work-dir between runs):

    .venv/bin/python -m benchmarks.research.poll_latency [--pages 30] [--json] [--write-docs]

`--write-docs` writes the table into docs/PERFORMANCE.md (block speed-feed-poll).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

from benchmarks.quality import ROOT
from benchmarks.report import provenance, table, write_block
from benchmarks.squad import squad_records
from benchmarks.stats import machine, summary_ms
from benchmarks.stories import write_many_story_corpus
import newsbot.bot.service as service_module
from newsbot.bot.service import Service
from newsbot.corpus.web.feed_state import FeedState
from newsbot.corpus.web.feeds import MAX_NEW_ENTRIES
from newsbot.corpus.web.fetch import ALLOW_PRIVATE_ENV
from newsbot.index import load_embedder
from newsbot.index.store import CACHE_DIR
from newsbot.retrieval.threads import answer_on_one_thread
from tests.feeds import Item, rss20
from tests.web_pages import article_page

WORK_DIR = Path("/tmp/newsbot-poll-latency")
PARAGRAPHS_PER_PAGE = 4  # about 20 sentences: a news article's length
PAGE_KB = 150  # a news page's HTML is typically 50-500 kB, most of it menus, links and scripts around the article
IDLE_QUESTIONS = 150
MODES = ("thread", "process")
INTERVAL = timedelta(minutes=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30, help="new articles the poll fetches and indexes")
    parser.add_argument("--page-kb", type=int, default=PAGE_KB, help="each page's HTML size, padded with site menus")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/PERFORMANCE.md")
    args = parser.parse_args()
    answer_on_one_thread()  # as the `newsbot` command does
    records = squad_records()
    if records is None:
        return
    started = machine()
    run = args.work_dir / "run"
    shutil.rmtree(run, ignore_errors=True)
    corpus = write_many_story_corpus(records[:24], run / "corpus")
    kept = args.work_dir / "embeddings"
    if kept.is_dir():
        shutil.copytree(kept, run / "index" / CACHE_DIR)
    questions = [qa["question"] for record in records[:24] for paragraph in record["paragraphs"]
                 for qa in paragraph["qas"]][::3]
    site = _write_site(records[24:48], args.pages, args.page_kb, run / "site")
    os.environ[ALLOW_PRIVATE_ENV] = "1"  # the feed is on 127.0.0.1
    embedder = load_embedder(None)
    results = {}
    with _static_server(site) as base:
        for mode in MODES:
            with patch.object(service_module, "HARVEST_IN_PROCESS", mode == "process"):
                service = Service.open(corpus, run / "index", embedder=embedder)
                shutil.copytree(run / "index" / CACHE_DIR, kept, dirs_exist_ok=True)
                try:
                    results[mode] = asyncio.run(_measure(service, questions, base, mode, args.pages))
                finally:
                    service.close()
    result = {"pages": args.pages, "page_kb": args.page_kb, **results}
    if args.json:
        print(json.dumps(result, indent=2))
    text = _report(result)
    print(text)
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.poll_latency", "--pages", str(args.pages),
                              "--page-kb", str(args.page_kb), "--write-docs"])
        write_block(ROOT / "docs" / "PERFORMANCE.md", "speed-feed-poll",
                    f"{provenance(command, started, os.getloadavg())}\n\n{text}")


def _feeds(pages: int) -> int:
    return -(-pages // MAX_NEW_ENTRIES)


async def _measure(service: Service, questions: list[str], base: str, mode: str, pages: int) -> dict[str, object]:
    """Idle, then during the poll (tagged by phase), then idle again; one question at a time."""
    asked = iter(questions * 10)
    state = FeedState(service.index_dir)
    state.add(f"{base}/empty.xml", "Empty", datetime.now(UTC))
    await service.poll_feeds(INTERVAL)  # starts the worker (a process imports the fetching stack)
    state.remove(f"{base}/empty.xml")
    for feed in range(_feeds(pages)):
        state.add(f"{base}/{mode}-{feed}.xml", mode, datetime.now(UTC))

    async def ask() -> float:
        began = time.perf_counter()
        await service.answer(next(asked), 3)
        return (time.perf_counter() - began) * 1000

    for _ in range(10):  # warm up
        await ask()
    idle = [await ask() for _ in range(IDLE_QUESTIONS)]
    poll_started = time.perf_counter()
    poll = asyncio.create_task(service.poll_feeds(INTERVAL))
    fetching: list[float] = []
    building: list[float] = []
    build_started: float | None = None
    while not poll.done():
        phase = building if service.building else fetching
        if service.building and build_started is None:
            build_started = time.perf_counter()
        phase.append(await ask())
    harvests = await poll
    poll_seconds = time.perf_counter() - poll_started
    for _ in range(10):  # the new index version's first questions warm its caches, as after any build
        await ask()
    idle += [await ask() for _ in range(IDLE_QUESTIONS)]
    added = sum(result.added for result in harvests)
    return {"idle": summary_ms(idle), "during_fetch": summary_ms(fetching), "during_build": summary_ms(building),
            "during_poll": summary_ms(fetching + building), "poll_seconds": round(poll_seconds, 1),
            "fetch_seconds": round((build_started or time.perf_counter()) - poll_started, 1), "articles_added": added,
            "errors": [result.error for result in harvests if result.error]}


def _report(result: dict) -> str:
    rows = []
    for mode in MODES:
        figures = result[mode]
        rows += [(f"{mode}: {label}", figures[key]["samples"], f"{figures[key]['p50_ms']:.1f}",
                  f"{figures[key]['p99_ms']:.1f}")
                 for label, key in (("idle, before and after the poll", "idle"),
                                    ("during the poll: fetching and extracting", "during_fetch"),
                                    ("during the poll: storing and indexing", "during_build"),
                                    ("during the whole poll", "during_poll"))]
    polls = "; ".join(f"{mode}: {result[mode]['articles_added']} articles added in {result[mode]['poll_seconds']} s "
                      f"({result[mode]['fetch_seconds']} s fetching and extracting)" for mode in MODES)
    return (f"A poll of {_feeds(result['pages'])} feeds with {result['pages']} new article pages of "
            f"{result['page_kb']} kB from a local server, its pages fetched and "
            f"extracted on a thread of the bot's process or in a worker process ({polls}), while one asker put "
            "questions back to back:\n\n"
            + table(("pages fetched in: questions asked", "answers", "p50 ms", "p99 ms"), rows, "lrrr"))


def _write_site(records: list[dict], pages: int, page_kb: int, folder: Path) -> Path:
    """`pages` article pages per mode from the records' paragraphs, padded to `page_kb` with a menu of links
    before the article; feeds per mode listing its pages (thread-0.xml, ..., at most MAX_NEW_ENTRIES each,
    the most a poll takes from one feed), and an empty feed."""
    (folder / "pages").mkdir(parents=True)
    chunks = [(record["title"].replace("_", " "), [p["context"] for p in record["paragraphs"][start:start + PARAGRAPHS_PER_PAGE]])
              for start in range(0, 4 * PARAGRAPHS_PER_PAGE, PARAGRAPHS_PER_PAGE) for record in records]
    for offset, mode in enumerate(MODES):
        items = []
        for number in range(offset * pages, (offset + 1) * pages):
            title, paragraphs = chunks[number]
            page = article_page(f"{title} ({number})", paragraphs)
            menu = b"".join(b"<li><a href='/section/%d'>Section %d: more stories from the desk</a></li>" % (n, n)
                            for n in range(max(0, page_kb * 1024 - len(page)) // 70))
            (folder / "pages" / f"{number}.html").write_bytes(page.replace(b"<nav>", b"<nav><ul>" + menu + b"</ul>", 1))
            items.append(Item(f"{title} ({number})", f"pages/{number}.html"))  # relative to the feed's URL
        for feed in range(_feeds(pages)):
            (folder / f"{mode}-{feed}.xml").write_bytes(rss20(items[feed::_feeds(pages)], title=f"{mode} {feed}"))
    (folder / "empty.xml").write_bytes(rss20([], title="Empty"))
    return folder


class _static_server:
    """`python -m http.server` serving `folder` on 127.0.0.1 in its own process; yields its base URL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                         "--directory", str(self.folder)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


if __name__ == "__main__":
    main()
