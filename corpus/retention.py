"""Keeping only recent news: articles published more than `NEWSBOT_MAX_ARTICLE_AGE_DAYS` days ago go.

What goes where: an expired article the bot wrote itself (under `web/` or `added/`) is deleted from the
corpus folder, since the bot can fetch or be sent it again; an expired file an admin placed by hand stays
on disk (the bot deletes nothing it did not write) but is left out of the index, and the build names it
among the skipped files. An article without a date is kept: its age is unknown. Removing a file and
rebuilding takes it out of the index, as any removed file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from newsbot.corpus.article import Article
from newsbot.corpus.load import read_corpus
from newsbot.corpus.bot_files import bot_written, remove_empty_folders

MAX_AGE_SETTING = "NEWSBOT_MAX_ARTICLE_AGE_DAYS"


def oldest_kept(max_age_days: int, today: date) -> date:
    """The earliest publication date kept: an article exactly `max_age_days` old is kept, one day more is not."""
    return today - timedelta(days=max_age_days)


def is_expired(article: Article, max_age_days: int, today: date) -> bool:
    return article.published is not None and article.published < oldest_kept(max_age_days, today)


def too_old(max_age_days: int | None, today: date) -> Callable[[Article], str | None] | None:
    """The build's filter for the age limit (None: no limit): an expired article's reason for leaving it out."""
    if max_age_days is None:
        return None

    def reason(article: Article) -> str | None:
        if not is_expired(article, max_age_days, today):
            return None
        return (f"left out: published {article.published}, more than {max_age_days} days ago "
                f"({MAX_AGE_SETTING})")

    return reason


def remove_expired(corpus_dir: Path, max_age_days: int | None, today: date) -> list[str]:
    """Delete the expired articles the bot wrote from the corpus folder; the ids removed, in corpus order."""
    if max_age_days is None:
        return []
    corpus_dir = Path(corpus_dir)
    removed = []
    for item in read_corpus(corpus_dir):
        if isinstance(item, Article) and bot_written(item.id) and is_expired(item, max_age_days, today):
            path = corpus_dir / item.id
            path.unlink(missing_ok=True)
            remove_empty_folders(path.parent, corpus_dir)
            removed.append(item.id)
    return removed
