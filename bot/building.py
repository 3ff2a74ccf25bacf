"""Every index build the `newsbot` command and the bot run goes through the age limit first (corpus/retention.py),
so `newsbot index`, `/reindex`, `/add` and a feed poll keep the same articles; the bot then publishes each build
to the store it reads (`publish_build`), so every replica answers from it."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from newsbot.corpus.retention import remove_expired, too_old
from newsbot.index import BuildReport, build_index
from newsbot.index.embedder import Embedder
from newsbot.index.errors import IndexProblem
from newsbot.index.stores import Store, publish_to_store

log = logging.getLogger(__name__)

PUBLISH_FAILED = ("the new index was built but could not be stored in Milvus (NEWSBOT_STORE; the log says why); "
                  "send the command again once Milvus can be reached")


class PublishFailed(IndexProblem):
    """A build was written to the index folder but the store did not take it: the store's version serves on.
    The message is for the admin; the cause, which may be any client error, is in the log."""


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


def publish_build(store: Store, index_dir: Path) -> None:
    """`publish_to_store`, failing as PublishFailed whatever went wrong (Milvus down, a write refused)."""
    try:
        publish_to_store(store, index_dir)
    except Exception as error:
        log.warning("publishing the index in %s to %s failed (%s: %s); the store's version serves on",
                    index_dir, store, type(error).__name__, error)
        raise PublishFailed(PUBLISH_FAILED) from None
