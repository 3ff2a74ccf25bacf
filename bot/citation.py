"""How a reply cites an article, the same in the console chat and in Telegram: its title, then the
sources that carried its story and its date, then its link when that is a web address (the only kind
Telegram can link).
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
    details: str | None  # "AFP, Reuters, 25 Jan 2012": the story's sources and its date, those it has
    url: str | None  # an http(s) link, else None


# Sources named in a citation; past them "and N more" (a wire story can be carried by dozens of sites)
SOURCES_NAMED = 4


def cite(article: ArticleInfo) -> Citation:
    details = [d for d in (named_sources(article), format_date(article.published) if article.published else None)
               if d]
    links = (a.url for a in (article, *article.copies) if a.url and a.url.startswith(("http://", "https://")))
    return Citation(article.title, ", ".join(details) or None, next(links, None))


def named_sources(article: ArticleInfo) -> str | None:
    """The sources that carried the story (`ArticleInfo.sources`: its own, then its copies'), the first
    SOURCES_NAMED by name: "AFP, Reuters, Al-Ahram and 2 more"."""
    sources = article.sources
    if len(sources) <= SOURCES_NAMED:
        return ", ".join(sources) or None
    return f"{', '.join(sources[:SOURCES_NAMED])} and {len(sources) - SOURCES_NAMED} more"


def by_article(hits: Sequence[Hit]) -> list[tuple[ArticleInfo, list[Hit]]]:
    """The hits grouped by their article, so that each article is cited once: the articles in the order
    of their best (first) hit, each with its hits in their own order."""
    groups: dict[str, tuple[ArticleInfo, list[Hit]]] = {}
    for hit in hits:
        groups.setdefault(hit.article.id, (hit.article, []))[1].append(hit)
    return list(groups.values())


def format_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"
