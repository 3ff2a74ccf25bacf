"""How a reply cites an article, the same in the console chat and in Telegram: its title, then the
source and date it has, then its link when that is a web address (the only kind Telegram can link)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from newsbot.index.metadata import ArticleInfo


@dataclass(frozen=True)
class Citation:
    title: str
    details: str | None  # "AFP, 25 Jan 2012": the source and date, those the article has
    url: str | None  # an http(s) link, else None


def cite(article: ArticleInfo) -> Citation:
    details = [d for d in (article.source, format_date(article.published) if article.published else None) if d]
    url = article.url if article.url and article.url.startswith(("http://", "https://")) else None
    return Citation(article.title, ", ".join(details) or None, url)


def format_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"
