from datetime import date

import pytest

from newsbot.corpus import BUNDLED_CORPUS_DIR, ArticleFormatError, article_sentences, parse_article
from newsbot.corpus.parse import article_from_record, parse_date, split_paragraphs

SEED = BUNDLED_CORPUS_DIR / "ahram-2012-01-25-russia-syria-lavrov.txt"


def test_seed_layout_keeps_metadata_and_drops_dateline_caption_and_boilerplate() -> None:
    article = parse_article("seed", SEED.read_text(encoding="utf-8"))
    assert article.title == "Russia against sanctions, open to dialogue on Syria: Lavrov"
    assert article.source == "AFP"
    assert article.published == date(2012, 1, 25)
    body = article.body
    assert "Wednesday 25 Jan 2012" not in body
    assert "(Photo:" not in body
    assert "Short link" not in body
    assert article.paragraphs[0].startswith("The Russian Foreign Minister Sergei Lavrov prefers")
    assert article.paragraphs[-1].startswith("Russia and China vetoed")


def test_seed_sentences_point_back_into_the_body() -> None:
    article = parse_article("seed", SEED.read_text(encoding="utf-8"))
    sentences = article_sentences(article)
    assert len(sentences) >= len(article.paragraphs)
    for sentence in sentences:
        assert article.body[sentence.start:sentence.end] == sentence.text
        assert sentence.text in article.paragraphs[sentence.paragraph]
    died = [s.text for s in sentences if "5,400" in s.text]
    assert len(died) == 1 and died[0].startswith("Muallem said") and died[0].endswith("foreign intervention.")


def test_header_format_with_wrapped_paragraphs() -> None:
    text = ("Title: Floods hit the valley\nSource: Reuters\nDate: 2024-03-01\nURL: https://example.org/a\n\n"
            "Heavy rain flooded\nthe valley on Friday.\n\nTwo bridges collapsed.\n")
    article = parse_article("a.txt", text)
    assert article.title == "Floods hit the valley"
    assert (article.source, article.published, article.url) == ("Reuters", date(2024, 3, 1), "https://example.org/a")
    assert article.paragraphs == ("Heavy rain flooded the valley on Friday.", "Two bridges collapsed.")


def test_a_title_with_a_colon_is_not_mistaken_for_a_header() -> None:
    article = parse_article("b.txt", "Update: talks resume\n\nThe talks resumed on Monday.")
    assert article.title == "Update: talks resume"
    assert article.paragraphs == ("The talks resumed on Monday.",)


def test_unknown_layout_degrades_to_title_and_body() -> None:
    article = parse_article("c.txt", "Some headline\nFirst line of text.\nSecond line of text.")
    assert article.title == "Some headline"
    assert article.paragraphs == ("First line of text.", "Second line of text.")
    assert article.source is None and article.published is None


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"),
    ("  \n\n \t", "empty"),
    ("Only a title", "no body"),
    ("abc\x00def\n\nmore", "binary"),
    ("title: \nsource: x\n\nbody", "no title"),
])
def test_unreadable_articles_say_why(text: str, reason: str) -> None:
    with pytest.raises(ArticleFormatError, match=reason):
        parse_article("bad.txt", text)


def test_bad_header_date_is_reported() -> None:
    with pytest.raises(ArticleFormatError, match="YYYY-MM-DD"):
        parse_article("d.txt", "title: T\ndate: someday\n\nBody text.")


def test_records_from_json_lines() -> None:
    article = article_from_record("bulk.jsonl#1", {"title": "T", "body": "One.\n\nTwo.", "date": "2020-05-06",
                                                   "source": "AP", "url": "https://x"})
    assert article.paragraphs == ("One.", "Two.")
    assert article.published == date(2020, 5, 6)
    listed = article_from_record("bulk.jsonl#2", {"title": "T", "paragraphs": ["A.", "B."]})
    assert listed.paragraphs == ("A.", "B.")
    for bad in (["not", "an", "object"], {"body": "no title"}, {"title": "T"}, {"title": "T", "paragraphs": [1]},
                {"title": "T", "body": "x", "source": 5}):
        with pytest.raises(ArticleFormatError):
            article_from_record("bulk.jsonl#3", bad)


def test_dates_in_several_spellings() -> None:
    assert parse_date("2012-01-25") == date(2012, 1, 25)
    assert parse_date("2012-01-25T10:00:00Z") == date(2012, 1, 25)
    assert parse_date("Wednesday, 25 Jan 2012") == date(2012, 1, 25)
    assert parse_date("25 September 2012") == date(2012, 9, 25)
    with pytest.raises(ArticleFormatError):
        parse_date("31 Feb 2012")


def test_split_paragraphs_handles_windows_newlines() -> None:
    assert split_paragraphs("a\r\nb\r\n\r\nc") == ["a b", "c"]


def test_fingerprint_changes_with_content_only() -> None:
    one = parse_article("a.txt", "Title\n\nBody one.")
    assert one.fingerprint == parse_article("a.txt", "Title\n\nBody one.").fingerprint
    assert one.fingerprint != parse_article("a.txt", "Title\n\nBody two.").fingerprint
