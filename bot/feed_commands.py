"""`newsbot feeds add|list|remove|poll`: follow news feeds from the command line (and from cron, for `poll`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from newsbot.bot.config import feed_interval, max_article_age_days
from newsbot.bot.texts import entries_counted, feed_health, indexed_line
from newsbot.corpus import default_corpus_dir
from newsbot.corpus.web.feed_poll import (
    FeedRefused,
    entry_lines,
    harvest,
    read_feed,
    record,
    store_and_build,
    summary,
)
from newsbot.corpus.web.feed_state import FeedState, FeedStateUnavailable, PollRunning, poll_lock
from newsbot.index import BuildReport, default_index_dir


def run_feeds(args: argparse.Namespace, build: Callable[[], BuildReport]) -> int:
    """Run `newsbot feeds ACTION` (args.feeds_action); `build` indexes the corpus folder. A state file that
    cannot be used is one line and exit status 2."""
    actions: dict[str, Callable[[argparse.Namespace], int]] = {
        "add": _add, "list": _list, "remove": _remove, "poll": lambda a: _poll(a, build)}
    try:
        return actions[args.feeds_action](args)
    except FeedStateUnavailable as problem:
        print(f"newsbot: {problem}", file=sys.stderr)
        return 2


def _state(args: argparse.Namespace) -> FeedState:
    return FeedState(args.index_dir or default_index_dir())


def _add(args: argparse.Namespace) -> int:
    try:
        read = read_feed(args.url)
    except FeedRefused as refused:
        print(f"newsbot: {refused}", file=sys.stderr)
        return 2
    parsed, _ = read  # no validators were sent: never NotModified
    if not _state(args).add(args.url, parsed.title, datetime.now(UTC)):
        print(f"Already following {args.url}.")
        return 0
    print(f"Following {parsed.title} ({args.url}): {entries_counted(len(parsed.entries))} now; "
          "`newsbot feeds poll` (or the running bot) fetches their articles.")
    return 0


def _list(args: argparse.Namespace) -> int:
    feeds = _state(args).feeds()
    if args.json:
        print(json.dumps([feed.to_dict() for feed in feeds], ensure_ascii=False, indent=2))
    elif not feeds:
        print("No feeds yet; add one with `newsbot feeds add URL`.")
    else:
        print("\n\n".join("\n  ".join([feed.title, feed.url, *feed_health(feed)]) for feed in feeds))
    return 0


def _remove(args: argparse.Namespace) -> int:
    if not _state(args).remove(args.url):
        print(f"newsbot: {args.url}: not followed (see `newsbot feeds list`)", file=sys.stderr)
        return 2
    print(f"No longer following {args.url}; its articles stay in the corpus.")
    return 0


def _poll(args: argparse.Namespace, build: Callable[[], BuildReport]) -> int:
    """One pass; exit status 1 when a feed could not be read (cron and systemd timers report a failing job),
    even though the other feeds' articles were stored and indexed."""
    interval, max_age = feed_interval(os.environ), max_article_age_days(os.environ)  # bad ones stop it before a fetch
    state = _state(args)
    now = datetime.now(UTC)
    try:
        with poll_lock(state.index_dir):
            harvests = harvest(state, now)
            report = store_and_build(Path(args.corpus_dir or default_corpus_dir()), harvests, build, max_age)
            record(state, harvests, now, interval)
    except PollRunning as running:
        print(f"newsbot: {running}; this pass is skipped", file=sys.stderr)
        return 0
    for result in harvests:
        print("\n".join([summary(result), *entry_lines(result)]))
    if not harvests:
        print("No feed is due (see `newsbot feeds list`).")
    if report is not None and not report.up_to_date:
        print(indexed_line(report))
    return 1 if any(result.error is not None for result in harvests) else 0

