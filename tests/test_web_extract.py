"""Web article extraction on hand-written pages (tests/data/web): metadata, body quality by the
benchmark's shingle measure, refusals of pages without an article, and the two output forms."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from benchmarks.research.extraction import f1, precision_recall
from newsbot.corpus.parse import parse_article
from newsbot.corpus.web.extract import NotAnArticleError, extract_article, to_dry_run, to_header_text
from tests.reliability import Record

FIXTURES = Path(__file__).parent / "data" / "web"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
ARTICLES = sorted(name for name, page in EXPECTED.items() if "body" in page)
REFUSED = sorted(name for name, page in EXPECTED.items() if "refused" in page)
BODY_F1_FLOOR = 0.95  # the goal on real pages; these pages are cleaner than most


def url_of(name: str) -> str:
    return f"https://fetched.example/{name}"


def extract(name: str):
    return extract_article((FIXTURES / f"{name}.html").read_text(encoding="utf-8"), url_of(name))


def test_fixtures_cover_articles_and_refusals() -> None:
    assert len(ARTICLES) >= 5 and len(REFUSED) >= 2


@pytest.mark.parametrize("name", ARTICLES)
def test_metadata(name: str) -> None:
    expected, got = EXPECTED[name], extract(name)
    assert got.title == expected["title"]
    assert got.published == date.fromisoformat(expected["published"])
    assert got.author == expected["author"]
    assert got.canonical_url == (expected["canonical_url"] or url_of(name))
    assert got.url == url_of(name)
    if expected["source"] is not None:
        assert got.source == expected["source"]
    else:
        assert got.source  # the page names no site: the host name stands in


@pytest.mark.parametrize("name", ARTICLES)
def test_body_f1_above_floor(name: str) -> None:
    got = extract(name)
    precision, recall = precision_recall("\n\n".join(EXPECTED[name]["body"]), "\n\n".join(got.paragraphs))
    assert f1(precision, recall) >= BODY_F1_FLOOR, (precision, recall, got.paragraphs)
    assert got.title not in got.paragraphs  # the headline is the title, not a body paragraph


def test_boilerplate_is_left_out() -> None:
    body = " ".join(extract("news_boilerplate").paragraphs)
    for boilerplate in ("Related stories", "Great reporting", "All rights reserved", "cookies", "Subscribe"):
        assert boilerplate not in body


@pytest.mark.parametrize("name", REFUSED)
def test_pages_without_an_article_are_refused_with_a_reason(name: str) -> None:
    with pytest.raises(NotAnArticleError, match=EXPECTED[name]["refused"]) as refused:
        extract(name)
    assert "\n" not in str(refused.value)


NO_ARTICLE = ["", "   \n", "<html><head></head><body></body></html>", "<html><body><p>Too short.</p></body></html>",
              "<html><body><p>unclosed <div><table><tr><td>broken", "\x00\x01 not html at all"]


def test_empty_and_broken_pages_are_refused(reliability: Record) -> None:
    for html in NO_ARTICLE:
        with pytest.raises(NotAnArticleError) as refused:
            extract_article(html, "https://fetched.example/empty")
        assert str(refused.value) and "\n" not in str(refused.value)
    reliability("Bad input", "web pages without an article: empty, blank, an empty body, one short line, "
                "broken HTML, binary bytes, an index of links, a login wall", len(NO_ARTICLE) + len(REFUSED),
                "refused with a one-line reason; nothing extracted")


def test_dry_run_json_shape() -> None:
    got = extract("jsonld_dates")
    record = json.loads(json.dumps(to_dry_run(got)))
    assert list(record) == ["url", "canonical_url", "title", "source", "published", "body"]
    assert record["published"] == "2023-11-02"
    assert record["canonical_url"] == "https://capitaltimes.example/economy/rates-hold"
    assert record["url"] == url_of("jsonld_dates")
    assert record["body"].split("\n\n") == list(got.paragraphs)


def test_dry_run_without_a_date_gives_null() -> None:
    html = (FIXTURES / "og_only.html").read_text(encoding="utf-8").replace(
        '<meta property="article:published_time" content="2022-06-21">', "")
    assert to_dry_run(extract_article(html, url_of("og_only")))["published"] is None


@pytest.mark.parametrize("name", ARTICLES)
def test_header_text_round_trips_through_the_corpus_parser(name: str) -> None:
    got = extract(name)
    article = parse_article(f"web/{name}.txt", to_header_text(got))
    assert article.title == got.title
    assert article.published == got.published
    assert article.url == got.canonical_url
    assert article.source == got.source
    assert article.paragraphs == got.paragraphs


@pytest.mark.parametrize(("url", "title"), [
    ("https://news.example/2024/05/floods-hit-the-north.html", "Floods hit the north"),
    ("https://news.example/a/12345", "Officials said on Wednesday that more than 5,400 people had died in …"),
])
def test_a_page_that_names_no_title_is_titled_from_its_address_else_its_first_words(url: str, title: str) -> None:
    prose = ("Officials said on Wednesday that more than 5,400 people had died in the floods that hit the north "
             "of the country last week, as rescue teams reached villages cut off by the water. ")
    page = f"<html><body><article><p>{prose * 2}</p><p>{prose}</p></article></body></html>"
    assert extract_article(page, url).title == title


def test_an_article_in_a_script_written_without_spaces_is_not_taken_for_a_stub() -> None:
    sentence = "東京都は水曜日、北部の洪水でこれまでに五千四百人以上が死亡したと発表し、救助隊が孤立した村に到着した。"
    page = (f"<html><head><title>北部の洪水</title></head><body><article><h1>北部の洪水</h1>"
            f"<p>{sentence * 2}</p><p>{sentence}</p></article></body></html>")
    extracted = extract_article(page, "https://news.example.jp/floods")
    assert extracted.title == "北部の洪水" and sentence in extracted.paragraphs[0]
