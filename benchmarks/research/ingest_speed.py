"""Articles per minute from a URL to an answerable article: fetch, extract, store and index, end to end.

A web site on 127.0.0.1 (tests/web_server.py) serves N news pages (default 50) made of real prose: six
consecutive paragraphs of a SQuAD v1.1 dev article each, in a page shaped like a news site's (navigation,
related links, an inline script and style of about 60 kB, a footer), so the extractor has boilerplate to
drop and the HTML weighs what a news page weighs. Two runs, each on a fresh copy of the bundled corpus
already indexed (so the batch's build is incremental, as in use):

- the command: `newsbot add URL x N` in a new process, wall time, model load and process start included;
- the phases, in process with the model loaded: `fetch_all` (fetch and extract, one page after another),
  `store_batch` (the duplicate checks and the files), the incremental build (only the new articles embedded).

Usage (from the project root): `.venv/bin/python -m benchmarks.research.ingest_speed [--pages 50] [--write-docs]`
"""

from __future__ import annotations

import argparse
import html
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import provenance, table, write_block
from benchmarks.squad import squad_records
from benchmarks.stats import machine
from newsbot.bot.building import build_with_retention
from newsbot.corpus import BUNDLED_CORPUS_DIR
from newsbot.corpus.web import fetch
from newsbot.corpus.known import KnownArticles
from newsbot.corpus.web.ingest import changed, fetch_all, store_batch
from newsbot.index import build_index
from newsbot.index.embedder import default_model, load_embedder
from newsbot.retrieval.threads import answer_on_one_thread
from tests.web_server import local_site, send

ROOT = Path(__file__).resolve().parents[2]
WORK_DIR = Path("/tmp/newsbot-ingest-speed")
PARAGRAPHS_PER_PAGE = 6
SCRIPT_BYTES = 60_000  # the inline script and style of a news page, which the extractor must skip
LARGE_CORPUS = 5_000  # articles, for the cost of the duplicate checks' one read of the corpus per batch


def pages(count: int) -> dict[str, bytes]:
    """`count` news pages of SQuAD dev prose, by path."""
    records = squad_records()
    if records is None:
        raise SystemExit(1)
    made: dict[str, bytes] = {}
    for record in records:
        contexts = [p["context"] for p in record["paragraphs"]]
        for part, start in enumerate(range(0, len(contexts) - PARAGRAPHS_PER_PAGE + 1, PARAGRAPHS_PER_PAGE)):
            if len(made) == count:
                return made
            title = f"{record['title'].replace('_', ' ')}, part {part + 1}"
            day = 1 + len(made) % 28
            made[f"/news/{len(made):03}"] = _page(title, contexts[start:start + PARAGRAPHS_PER_PAGE], f"2026-02-{day:02}")
    return made


def _page(title: str, paragraphs: list[str], published: str) -> bytes:
    script = "var tracking = {" + ", ".join(f"'k{n}': {n}" for n in range(SCRIPT_BYTES // 12)) + "};"
    related = "".join(f"<li><a href='/news/related-{n}'>Related story number {n}</a></li>" for n in range(20))
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)} | Local News</title>"
            f"<meta property='og:site_name' content='Local News'>"
            f"<meta property='article:published_time' content='{published}T09:00:00Z'>"
            f"<style>body {{ font-family: serif; }} .nav a {{ margin: 0 1em; }}</style><script>{script}</script>"
            "</head><body><nav class='nav'><a href='/'>Home</a><a href='/world'>World</a><a href='/sport'>Sport</a>"
            f"</nav><article><h1>{html.escape(title)}</h1><p class='byline'>By a staff reporter</p>{body}</article>"
            f"<aside><h2>Related</h2><ul>{related}</ul></aside>"
            "<footer><p>Copyright Local News. All rights reserved.</p></footer></body></html>").encode("utf-8")


def known_read_seconds(folder: Path, articles: int) -> float:
    """How long `KnownArticles.read` takes on a corpus of `articles` files of one SQuAD paragraph each."""
    records = squad_records() or []
    contexts = [p["context"] for record in records for p in record["paragraphs"]]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for n in range(articles):
        (folder / f"{n:05}.txt").write_text(f"title: Article {n}\ndate: 2026-02-01\n\n{contexts[n % len(contexts)]} "
                                            f"Number {n}.\n", encoding="utf-8")
    clock = time.perf_counter()
    KnownArticles.read(folder)
    return time.perf_counter() - clock


def fresh_corpus(folder: Path) -> tuple[Path, Path]:
    """A copy of the bundled corpus and an empty index folder beside it."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(BUNDLED_CORPUS_DIR, folder / "corpus")
    return folder / "corpus", folder / "index"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/PERFORMANCE.md")
    args = parser.parse_args()
    started = machine()
    answer_on_one_thread()  # as the `newsbot` command does
    os.environ[fetch.ALLOW_PRIVATE_ENV] = "1"
    served = pages(args.pages)
    embedder = load_embedder(default_model())
    with local_site({path: send(200, body) for path, body in served.items()}) as site:
        urls = [f"{site.url}{path}" for path in served]

        corpus, index = fresh_corpus(WORK_DIR / "command")
        build_index(corpus, index, embedder)
        clock = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("newsbot")), "add", "--corpus-dir", str(corpus),
                        "--index-dir", str(index), *urls], check=True, stdout=subprocess.DEVNULL)
        command_seconds = time.perf_counter() - clock

        corpus, index = fresh_corpus(WORK_DIR / "phases")
        build_index(corpus, index, embedder)
        clock = time.perf_counter()
        fetched = fetch_all(urls)
        fetch_seconds = time.perf_counter() - clock
        clock = time.perf_counter()
        stored = changed(store_batch(corpus, fetched))
        store_seconds = time.perf_counter() - clock
        clock = time.perf_counter()
        report, _ = build_with_retention(corpus, index, embedder, None)
        build_seconds = time.perf_counter() - clock
    read_seconds = known_read_seconds(WORK_DIR / "large", LARGE_CORPUS)
    if len(stored) != len(urls):
        raise SystemExit(f"only {len(stored)} of {len(urls)} pages were stored")
    page_kb = sum(map(len, served.values())) / len(served) / 1000
    phases = fetch_seconds + store_seconds + build_seconds
    rows = [
        ("`newsbot add` (one process, one batch)", command_seconds,
         "process start, model load, fetch, extract, store, one incremental build"),
        ("in process: all phases", phases, "the model already loaded, as in the bot's `/add URL`"),
        ("fetch and extract", fetch_seconds, "`fetch_all`: one page after another, trafilatura on each"),
        ("store", store_seconds, "`store_batch`: reading the corpus for duplicates, writing the files"),
        ("index", build_seconds, f"the incremental build: {report.embedded:,} new sentences embedded"),
    ]
    text = (f"{len(urls)} pages of {page_kb:.0f} kB on average (six SQuAD dev paragraphs each), from 127.0.0.1, "
            f"added to the bundled corpus (already indexed) with {embedder.name}.\n\n"
            + table(("run", "seconds", "articles / minute", "what it includes"),
                    [(name, f"{seconds:.1f}", f"{60 * len(urls) / seconds:,.0f}", what) for name, seconds, what in rows],
                    "lrrl")
            + f"\n\nThe duplicate checks read the corpus folder once per batch: {read_seconds:.1f} s for a corpus of "
              f"{LARGE_CORPUS:,} articles (one SQuAD paragraph each), growing with the corpus.")
    print(text)
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.ingest_speed", "--pages", str(args.pages),
                              "--write-docs"])
        line = provenance(command, started, [round(x, 2) for x in os.getloadavg()])
        write_block(ROOT / "docs" / "PERFORMANCE.md", "speed-ingest", f"{line}\n\n{text}")


if __name__ == "__main__":
    main()
