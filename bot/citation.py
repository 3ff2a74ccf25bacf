"""How a reply cites an article, the same in the console chat and in Telegram: its title, then the
source and date it has, then its link when that is a web address (the only kind Telegram can link).
An answer's sentences are grouped by article, so an article is cited once however many of them it gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval import Hit


@dataclass(frozen=True)
class Citation:
    title: str
    details: str | None  # "AFP, 25 Jan 2012": the source and date, those the article has
    url: str | None  # an http(s) link, else None


def cite(article: ArticleInfo) -> Citation:
    details = [d for d in (article.source, format_date(article.published) if article.published else None) if d]
    url = article.url if article.url and article.url.startswith(("http://", "https://")) else None
    return Citation(article.title, ", ".join(details) or None, url)


def by_article(hits: Sequence[Hit]) -> list[tuple[ArticleInfo, list[Hit]]]:
    """The hits grouped by their article, so that each article is cited once: the articles in the order
    of their best (first) hit, each with its hits in their own order."""
    groups: dict[str, tuple[ArticleInfo, list[Hit]]] = {}
    for hit in hits:
        groups.setdefault(hit.article.id, (hit.article, []))[1].append(hit)
    return list(groups.values())


def format_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"
