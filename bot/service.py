"""What the bot handlers call: answers, article lists, rebuilds and figures, never blocking the event loop.

The service holds the current Retriever, opened from the store (`index.stores`: the index folder, or
Milvus). Questions are batched onto a small thread pool; builds run on a separate single thread, so a
rebuild never queues questions behind it. A finished build is published to the store, and the store's
current version is opened (sharing the loaded model) and swapped in with one assignment: the replica that
built answers from what every replica reads. `follow_store` swaps in a version another process published
the same way. Questions already running finish on the old retriever, which is freed when the last of them
drops it (it is not closed explicitly for that reason).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from newsbot.bot.building import build_with_retention, publish_build
from newsbot.bot.opening import open_or_build
from newsbot.corpus import Article, ArticleFormatError, article_sentences, parse_article
from newsbot.corpus.bot_files import ADDED_FOLDER, write_atomically
from newsbot.corpus.known import KnownArticles, Stored
from newsbot.corpus.retention import too_old
from newsbot.corpus.web.feed_state import FeedState, poll_lock
from newsbot.index import BuildReport, load_embedder
from newsbot.index.embedder import Embedder
from newsbot.index.metadata import ArticleInfo
from newsbot.index.stores import FilesStore, MilvusLiteStore, Store, current_revision
from newsbot.retrieval import Answer, Retriever
from newsbot.retrieval.evaluation.percentile import percentile

if TYPE_CHECKING:  # the page fetching stack (trafilatura, 0.2 s to import) is loaded when a URL is first added
    from newsbot.corpus.web.extract import Extracted
    from newsbot.corpus.web.feed_poll import FeedHarvest
    from newsbot.corpus.web.ingest import PageRefused

log = logging.getLogger(__name__)

MAX_ARTICLE_CHARS = 1_000_000
LATENCY_SAMPLES = 10_000
MAX_BATCH = 64  # questions per model call
QUERY_THREADS = 2  # one batch of questions at a time, plus an article listing beside it
# A feed poll and an admin's /add URL fetch and extract their pages in a worker process: extraction (trafilatura,
# lxml) is Python work that holds the GIL, and on a thread of this process it slowed the answers given meanwhile
# (p99 in docs/PERFORMANCE.md#answers-during-a-feed-poll). The process is started at the first use and kept.
HARVEST_IN_PROCESS = True
T = TypeVar("T")


class BuildRunning(Exception):
    """A rebuild or an /add is already running in this bot."""


class ArticleRejected(ValueError):
    """An article sent with /add cannot be used; the message says why, for the admin."""


FETCHING = "fetching"  # the stage of Progress while the pages of /add URL are fetched


@dataclass
class Progress:
    """How far the running build is; written by the build thread, read by the progress reporter."""

    stage: str = ""
    done: int = 0
    total: int | None = None

    def update(self, stage: str, done: int, total: int | None) -> None:
        self.stage, self.done, self.total = stage, done, total


@dataclass(frozen=True)
class Catalogue:
    """The indexed articles, newest first, and the dates of the oldest and newest (None if none is dated)."""

    articles: Sequence[ArticleInfo]
    first: date | None
    last: date | None


@dataclass(frozen=True)
class Stats:
    """The figures /stats shows; `copies`: the articles grouped as republished copies of another's story."""

    articles: int
    copies: int
    sentences: int
    model: str
    built_at: str
    build_seconds: float
    questions: int
    latency_p50: float | None
    latency_p90: float | None
    latency_p99: float | None


class Service:
    """The retrieval core as the bot sees it."""

    def __init__(self, retriever: Retriever, corpus_dir: Path, index_dir: Path, *,
                 max_age_days: int | None = None, store: Store | None = None) -> None:
        self._retriever = retriever
        self.corpus_dir = Path(corpus_dir)
        self.index_dir = Path(index_dir)
        self.store = _serving_store(store)
        self.read_from = store_label(self.store, self.index_dir)  # for the log
        self.max_age_days = max_age_days  # NEWSBOT_MAX_ARTICLE_AGE_DAYS, applied by every build
        self._queries = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="newsbot-query")
        self._builds = ThreadPoolExecutor(1, thread_name_prefix="newsbot-build")
        # Its own thread: a slow check (a Milvus server loading a new version) must not hold up a /reindex.
        self._store_checks = ThreadPoolExecutor(1, thread_name_prefix="newsbot-store-check")
        self._harvester: Executor | None = None  # where feed polls and /add URL fetch (HARVEST_IN_PROCESS)
        self._building = False
        self._pending: list[tuple[str, int, tuple[str, ...], asyncio.Future[Answer]]] = []
        self._batcher: asyncio.Task[None] | None = None
        self._catalogue: asyncio.Future[Catalogue] | None = None  # of the current retriever; reset by a swap
        self._questions = 0
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)

    @classmethod
    def open(cls, corpus_dir: Path, index_dir: Path, *, model: str | None = None,
             embedder: Embedder | None = None, min_confidence: float | None = None,
             max_age_days: int | None = None, store: Store | None = None) -> Service:
        """Load the model and open the store's current version, building it in `index_dir` and publishing it
        first when the store holds none (blocking).

        `min_confidence` fixes the answer threshold; None lets it follow the index's size, also
        after a rebuild (`retrieval.confidence.default_min_confidence`). `max_age_days`: the age limit
        every build applies (corpus/retention.py); None keeps every article. `store`: where the index is
        read (`index.stores`; a files store is always `index_dir`, where builds write).
        """
        loaded = embedder or load_embedder(model)
        store = _serving_store(store)

        def build() -> None:
            log.warning("no index in %s yet; building one from %s", store_label(store, index_dir), corpus_dir)
            build_with_retention(corpus_dir, index_dir, loaded, max_age_days)
            publish_build(store, index_dir)

        retriever = open_or_build(index_dir, loaded, build, min_confidence=min_confidence, store=store)
        loaded.encode(["warm up"])  # the first encode is slow; pay it before the first question
        return cls(retriever, corpus_dir, index_dir, max_age_days=max_age_days, store=store)

    @property
    def retriever(self) -> Retriever:
        return self._retriever

    @property
    def building(self) -> bool:
        return self._building

    async def answer(self, question: str, k: int, history: Sequence[str] = ()) -> Answer:
        """The best (at most k) answer sentences above the confidence threshold; `history`: the asker's
        earlier questions, oldest first, for a follow-up's context (`Retriever.answer`).

        Questions that arrive while the model is busy are answered together in one batch when it
        is free: no waiting when idle, and one model call instead of many under load.
        """
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending.append((question, k, tuple(history), waiter))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._answer_pending())
        return await waiter

    async def catalogue(self) -> Catalogue:
        """The indexed articles, listed on a worker thread once per index version and shared: listing
        10,000 articles is work that a flood of /sources or /help must neither repeat nor put on the loop."""
        if self._catalogue is None:
            self._catalogue = asyncio.get_running_loop().run_in_executor(self._queries, _list_articles,
                                                                         self._retriever)
        listing = self._catalogue
        try:
            return await asyncio.shield(listing)  # one asker giving up must not cancel it for the others
        except Exception:
            if self._catalogue is listing:
                self._catalogue = None  # try again next time
            raise

    async def _answer_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                answers = await loop.run_in_executor(self._queries, self._retriever.answer_many,
                                                     [question for question, _, _, _ in batch],
                                                     [k for _, k, _, _ in batch], [h for _, _, h, _ in batch])
            except Exception as error:  # each asker gets the failure (and its error handler logs it)
                for *_, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(error)
                continue
            for (*_, waiter), answer in zip(batch, answers):
                if not waiter.done():  # an asker may have been cancelled meanwhile
                    waiter.set_result(answer)

    def record_answer(self, seconds: float) -> None:
        """Count one answered question and how long it took from receipt to reply."""
        self._questions += 1
        self._latencies.append(seconds)

    async def reindex(self, progress: Progress, *, force: bool = False) -> BuildReport:
        """Rebuild from the corpus folder and swap the new version in; the old one serves meanwhile."""
        return await self._exclusive(lambda: self._build_and_open(progress, force))

    async def add_article(self, text: str, name: str | None, progress: Progress) -> tuple[Article, BuildReport]:
        """Store an article in the corpus folder and index it incrementally; answerable on return.

        Raises ArticleRejected (nothing stored) for unusable text, for an article already held (the same
        text, or the same URL, under any name) and for one older than the age limit; a failed build removes
        the file again.
        """
        return await self._exclusive(lambda: self._add_and_build(progress, text, name))

    async def add_urls(self, urls: Sequence[str], progress: Progress
                       ) -> tuple[list[Stored | PageRefused], BuildReport | None]:
        """Fetch the pages (in the harvest worker, as a feed poll does: extraction holds the GIL), store their
        articles once each, and index the batch with one incremental build; each URL's outcome in order, and
        the build's report (None when nothing changed). A failed build puts the corpus back as it was."""
        if self._building:
            raise BuildRunning
        fetched: list[Extracted | PageRefused] = []
        for url in urls:
            fetched.append(await self._harvest(_fetch_page, url))
            progress.update(FETCHING, len(fetched), len(urls))
        return await self._exclusive(lambda: self._store_and_build(progress, fetched))

    async def poll_feeds(self, interval: timedelta, progress: Progress | None = None) -> list[FeedHarvest]:
        """One pass over the feeds that are due (corpus/web/feed_poll.py): the feeds and their articles are
        fetched on a worker thread, beside questions and builds; the articles are stored and indexed (one
        build) on the build thread; the feeds' state is written after. BuildRunning (nothing fetched) when a
        build is running, PollRunning when another poll is (`newsbot feeds poll` from cron): the pass is
        skipped, and its entries are fetched by the next one."""
        if self._building:
            raise BuildRunning
        now = datetime.now(UTC)
        with poll_lock(self.index_dir):
            harvests = await self._harvest(_harvest_feeds, self.index_dir, now)
            await self._exclusive(lambda: self._store_feed_articles(progress or Progress(), harvests))
            await asyncio.to_thread(_record_feeds, self.index_dir, harvests, now, interval)
        return harvests

    async def _harvest(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in the harvest worker. BrokenProcessPool when the worker died (killed, out of memory):
        the next call starts another."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._harvest_executor(), work, *args)
        except BrokenProcessPool:
            self._harvester = None
            raise

    def _harvest_executor(self) -> Executor:
        if self._harvester is None:
            # spawned, not forked: a fork of a process running threads (the event loop's, onnxruntime's) can
            # inherit a lock some thread held
            self._harvester = (ProcessPoolExecutor(1, mp_context=get_context("spawn")) if HARVEST_IN_PROCESS
                               else ThreadPoolExecutor(1, thread_name_prefix="newsbot-harvest"))
        return self._harvester

    @staticmethod
    def _stop_harvest(harvester: Executor) -> None:
        """Stop a poll's fetching at once rather than wait for it (up to 10 s a page): it has written nothing,
        so its entries are fetched by the next poll after the restart."""
        if isinstance(harvester, ProcessPoolExecutor):
            for process in list(harvester._processes.values()):  # type: ignore[attr-defined]  # public in 3.14
                process.terminate()
        harvester.shutdown(wait=True, cancel_futures=True)

    def stats(self) -> Stats:
        manifest = self._retriever.manifest
        latencies = list(self._latencies)
        return Stats(articles=manifest.articles, copies=manifest.copies, sentences=manifest.sentences,
                     model=manifest.model, built_at=manifest.built_at, build_seconds=manifest.build_seconds,
                     questions=self._questions,
                     latency_p50=_latency(latencies, 50), latency_p90=_latency(latencies, 90),
                     latency_p99=_latency(latencies, 99))

    def answer_times(self) -> list[float]:
        """The recent answers' latencies in seconds, oldest first: what /stats summarises, and what a replica
        shares with the others for theirs (bot.replica_stats)."""
        return list(self._latencies)

    def close(self) -> None:
        self._queries.shutdown(wait=True, cancel_futures=True)
        self._builds.shutdown(wait=True, cancel_futures=True)
        self._store_checks.shutdown(wait=True, cancel_futures=True)
        if self._harvester is not None:
            self._stop_harvest(self._harvester)
        self._retriever.close()

    async def follow_store(self) -> bool:
        """Swap in the store's current version when another process (a replica's build, `newsbot index`)
        published one since this service opened its own; True if it did. Skipped while a build runs (the build
        swaps in what the store holds once it is done). Raises what reading the store raises (Milvus cannot be
        reached): the version in hand serves on."""
        if self._building:
            return False
        current = self._retriever
        opened = await asyncio.get_running_loop().run_in_executor(self._store_checks, self._open_if_newer, current)
        if opened is None:
            return False
        if self._retriever is not current:  # a build swapped in the store's version meanwhile
            opened.close()
            return False
        self._swap(opened)
        log.info("index %s, published by another process, swapped in", opened.version_dir.name)
        return True

    async def _exclusive(self, work: Callable[[], tuple[T, Retriever | None]]) -> T:
        """Run one build at a time on the build thread, then swap in the retriever it opened (None: none)."""
        if self._building:
            raise BuildRunning
        self._building = True
        try:
            result, retriever = await asyncio.get_running_loop().run_in_executor(self._builds, work)
        finally:
            self._building = False
        if retriever is not None:
            self._swap(retriever)
        return result

    def _swap(self, retriever: Retriever) -> None:
        """Questions asked from now on are answered from `retriever`; those running finish on the old one."""
        self._retriever, self._catalogue = retriever, None

    def _add_and_build(self, progress: Progress, text: str, name: str | None
                       ) -> tuple[tuple[Article, BuildReport], Retriever | None]:
        article = _checked_article(self.corpus_dir, text, name)
        known = KnownArticles.read(self.corpus_dir)
        held = known.held(article)
        if held is not None:
            raise ArticleRejected(f"it is already stored as “{known.titles[held]}” ({held})")
        expired = too_old(self.max_age_days, date.today())
        if expired and (reason := expired(article)):
            raise ArticleRejected(reason)  # the build would delete it at once
        path = self.corpus_dir / article.id
        write_atomically(path, text)
        try:
            report, retriever = self._build_and_open(progress, False)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return (article, report), retriever

    def _store_and_build(self, progress: Progress, fetched: Sequence[Extracted | PageRefused]
                         ) -> tuple[tuple[list[Stored | PageRefused], BuildReport | None], Retriever | None]:
        from newsbot.corpus.web.ingest import store_then_build

        outcomes, built = store_then_build(self.corpus_dir, fetched, lambda: self._build_and_open(progress, False),
                                           too_old(self.max_age_days, date.today()))
        report, retriever = built or (None, None)
        return (outcomes, report), retriever

    def _store_feed_articles(self, progress: Progress, harvests: Sequence[FeedHarvest]
                             ) -> tuple[None, Retriever | None]:
        from newsbot.corpus.web.feed_poll import store_and_build

        built = store_and_build(self.corpus_dir, harvests, lambda: self._build_and_open(progress, False),
                                self.max_age_days)
        return None, built[1] if built else None

    def _build_and_open(self, progress: Progress, force: bool) -> tuple[BuildReport, Retriever | None]:
        """Build in the index folder, publish to the store (PublishFailed: the old version serves on) and open
        the store's version if it is not the one in hand (None when nothing changed)."""
        current = self._retriever
        started = time.perf_counter()
        report, _ = build_with_retention(self.corpus_dir, self.index_dir, current.embedder, self.max_age_days,
                                         progress=progress.update, force=force)
        publish_build(self.store, self.index_dir)
        retriever = self._open_if_newer(current)
        if retriever is not None:
            log.info("index %s swapped in after %.1f s (%d articles, %d sentences)", retriever.version_dir.name,
                     time.perf_counter() - started, report.articles, report.sentences)
        return report, retriever

    def _open_if_newer(self, current: Retriever) -> Retriever | None:
        """The store's current version opened as `current` was (its model; its threshold, or None: the new
        size's default), or None when `current` holds it already. Blocking: on the store check thread."""
        revision = current_revision(self.store, self.index_dir)
        if revision is None or revision == current.version_dir.name:
            return None
        return Retriever.open(self.index_dir, embedder=current.embedder, store=self.store,
                              min_confidence=current.min_confidence_override)


def store_label(store: Store, index_dir: Path) -> str:
    """Where a service reads its index, for a log line: its index folder (a files store is always that:
    `_serving_store`), the Milvus Lite file or the server's address (never its token)."""
    if isinstance(store, FilesStore):
        return str(index_dir)
    return f"Milvus Lite {store.path}" if isinstance(store, MilvusLiteStore) else f"Milvus at {store.uri}"


def _serving_store(store: Store | None) -> Store:
    """The store a service reads: Milvus as given; files always in the service's own index folder, where its
    builds write (a folder named by NEWSBOT_STORE is the index folder already: `bot.config`)."""
    return FilesStore() if store is None or isinstance(store, FilesStore) else store


def _harvest_feeds(index_dir: Path, now: datetime) -> list[FeedHarvest]:
    """A poll's fetching, in the harvest worker: the fetching stack (trafilatura, 0.2 s) is imported there,
    never on the event loop."""
    from newsbot.corpus.web.feed_poll import harvest

    return harvest(FeedState(index_dir), now)


def _fetch_page(url: str) -> Extracted | PageRefused:
    """An admin's link fetched and extracted, in the harvest worker; a refusal is returned, not raised."""
    from newsbot.corpus.web.ingest import PageRefused, fetch_article

    try:
        return fetch_article(url)
    except PageRefused as refused:
        return refused


def _record_feeds(index_dir: Path, harvests: Sequence[FeedHarvest], now: datetime, interval: timedelta) -> None:
    from newsbot.corpus.web.feed_poll import record

    record(FeedState(index_dir), harvests, now, interval)


def _list_articles(retriever: Retriever) -> Catalogue:
    articles = retriever.articles()
    dates = [a.published for a in articles if a.published]
    return Catalogue(articles, min(dates, default=None), max(dates, default=None))


def _latency(samples: list[float], percent: int) -> float | None:
    """A latency percentile, None before the first answer."""
    return percentile(samples, percent) if samples else None


def _checked_article(corpus_dir: Path, text: str, name: str | None) -> Article:
    """The article as it will be indexed, with its id (a free file name); ArticleRejected if unusable."""
    if len(text) > MAX_ARTICLE_CHARS:
        raise ArticleRejected(f"the article is longer than {MAX_ARTICLE_CHARS:,} characters")
    try:
        article = parse_article("new", text)
        if not article_sentences(article):
            raise ArticleRejected("the article has no sentences I could index")
        return parse_article(_free_path(corpus_dir, article, name).relative_to(corpus_dir).as_posix(), text)
    except ArticleFormatError as error:
        raise ArticleRejected(str(error)) from None


def _free_path(corpus_dir: Path, article: Article, name: str | None) -> Path:
    """A new file name in the corpus folder: the upload's name, else date and title; never overwrites."""
    stem = Path(name).stem if name else f"{article.published or date.today()}-{article.title}"
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:80] or "article"
    folder = Path(corpus_dir) / ADDED_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path, number = folder / f"{slug}.txt", 1
    while path.exists():
        number += 1
        path = folder / f"{slug}-{number}.txt"
    return path

