"""Every index build the `newsbot` command and the bot run goes through the age limit first (corpus/retention.py),
so `newsbot index`, `/reindex`, `/add` and a feed poll keep the same articles."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from newsbot.corpus.retention import remove_expired, too_old
from newsbot.index import BuildReport, build_index
from newsbot.index.embedder import Embedder

log = logging.getLogger(__name__)


def build_with_retention(corpus_dir: Path, index_dir: Path, embedder: Embedder, max_age_days: int | None,
                         **options: Any) -> tuple[BuildReport, list[str]]:
    """`build_index` under the age limit (None: no limit): the expired articles the bot wrote are deleted
    first, and expired files placed by hand are left out of the index (among the report's problems).
    Returns the report and the ids of the articles deleted."""
    today = date.today()
    removed = remove_expired(corpus_dir, max_age_days, today)
    if removed:
        log.info("removed %d articles published more than %s days ago: %s", len(removed), max_age_days,
                 ", ".join(removed))
    return build_index(corpus_dir, index_dir, embedder, leave_out=too_old(max_age_days, today), **options), removed
