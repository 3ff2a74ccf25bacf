"""News pages the tests of adding URLs serve from tests/web_server.py: an article page written from its
title, date and paragraphs, with enough prose for the extractor to take it as an article."""

from __future__ import annotations

import html


def article_page(title: str, paragraphs: list[str], *, published: str | None = "2026-01-25",
                 canonical: str | None = None, site: str = "Example News") -> bytes:
    """An HTML news page: site navigation, the article (headline, date, paragraphs), a footer."""
    head = [f"<title>{html.escape(title)} | {html.escape(site)}</title>",
            f'<meta property="og:site_name" content="{html.escape(site)}">']
    if published:
        head.append(f'<meta property="article:published_time" content="{published}T08:00:00Z">')
    if canonical:
        head.append(f'<link rel="canonical" href="{html.escape(canonical)}">')
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{''.join(head)}</head><body>"
            "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/sport'>Sport</a></nav>"
            f"<article><h1>{html.escape(title)}</h1><p class='byline'>By Staff Reporter</p>{body}</article>"
            "<footer><p>Copyright Example News. All rights reserved.</p></footer></body></html>")
    return page.encode("utf-8")


def story(topic: str, figure: str = "5,400") -> list[str]:
    """Three paragraphs of prose about `topic`, holding `figure` in its first sentence."""
    return [
        f"More than {figure} people have died in the {topic} since the start of the month, officials said on "
        "Wednesday, as rescue teams reached villages cut off by the water.",
        f"The government of the region said the {topic} had destroyed roads, bridges and thousands of homes, "
        "and that the army had been sent to help the families who lost everything.",
        f"Aid agencies warned that the number of victims of the {topic} could rise further in the coming days, "
        "because many remote areas have not yet been reached by the rescuers.",
    ]
