"""Rendering: escaped HTML, splitting by UTF-16 length at paragraph/sentence/word boundaries before markup."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from newsbot.bot.render import Span, render, utf16_len
from newsbot.bot.texts import answer_blocks
from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval import Answer, Hit
from newsbot.retrieval.retriever import HEDGED, MISSING
from newsbot.retrieval.span import AnswerSpan
from tests.fake_bot_api import visible_text


def _hit(text: str, title: str = "T", url: str | None = None, answer: AnswerSpan | None = None) -> Hit:
    article = ArticleInfo("a.txt", title, "AFP", date(2012, 1, 25), url)
    return Hit(text=text, score=0.9, article=article, sentence_id=0, paragraph=0, start=0, end=len(text),
               answer=answer)


def test_every_dynamic_piece_is_escaped() -> None:
    answer = Answer("q", True, (_hit("5 < 6 & 7 > 2", title='<script>"x"</script>', url='https://e.com/?a=1&b="2"'),))
    [chunk] = render(answer_blocks(answer))
    assert "<script>" not in chunk.html and "&lt;script&gt;" in chunk.html
    assert 'href="https://e.com/?a=1&amp;b=&quot;2&quot;"' in chunk.html
    shown = visible_text(chunk.html)  # parses as Telegram would, raising on bad markup
    assert '1. 5 < 6 & 7 > 2\n📰 <script>"x"</script> — AFP, 25 Jan 2012 · link' == shown
    assert chunk.plain.endswith("· https://e.com/?a=1&b=\"2\"")


def test_the_answering_words_lead_the_reply_and_are_bold_in_the_sentence_escaped() -> None:
    sentence = "Officials said <5 & more than 5,400 people died since March."
    start = sentence.index("more than")
    span = AnswerSpan(start, start + 22, "more than 5,400 people", "number")
    answer = Answer("q", True, (_hit(sentence, answer=span), _hit("Another sentence.")))
    [chunk] = render(answer_blocks(answer))
    assert chunk.html.startswith("Answer: <b>more than 5,400 people</b> (AFP, 25 Jan 2012)\n\n<b>1. </b>Officials said &lt;5 &amp; "
                                 "<b>more than 5,400 people</b> died since March.")
    assert chunk.html.count("<b>more than 5,400 people</b>") == 2  # the lead and the top sentence, once each
    assert chunk.plain.startswith(f"Answer: more than 5,400 people (AFP, 25 Jan 2012)\n\n1. {sentence}\n")
    assert visible_text(chunk.html) == chunk.plain  # valid markup, the same visible text


def test_more_results_carry_no_answer_line() -> None:
    blocks = answer_blocks(Answer("q", True, (_hit("Later sentence."),)), first_number=4)
    assert [s.text for s in blocks[0]][:2] == ["4. ", "Later sentence."]


def test_a_long_sentence_with_a_marked_answer_still_splits_within_the_limit() -> None:
    sentence = "Word " * 1000 + "more than 5,400 people died. " + "Word " * 1000
    start = sentence.index("more than")
    answer = Answer("q", True, (_hit(sentence, answer=AnswerSpan(start, start + 22, "more than 5,400 people",
                                                                 "number")),))
    chunks = render(answer_blocks(answer), limit=4096)
    assert len(chunks) >= 2 and all(utf16_len(c.plain) <= 4096 for c in chunks)
    assert sum(c.html.count("<b>more than 5,400 people</b>") for c in chunks) == 2


def test_a_link_that_is_not_http_is_not_made_a_link() -> None:
    [chunk] = render(answer_blocks(Answer("q", True, (_hit("x", url="javascript:alert(1)"),))))
    assert "<a " not in chunk.html and "javascript" not in chunk.plain


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_len("a🦭é") == 4


def test_paragraphs_are_packed_whole_when_they_fit() -> None:
    blocks = [(Span("x" * 2000),), (Span("y" * 2000),), (Span("z" * 2000),)]
    chunks = render(blocks)
    assert [c.plain for c in chunks] == ["x" * 2000 + "\n\n" + "y" * 2000, "z" * 2000]


def test_a_long_paragraph_is_split_at_sentence_ends_with_its_style() -> None:
    sentence = "Word " * 150 + "end. "  # 755 characters
    [block] = [(Span(sentence * 12, "b"),)]
    chunks = render([block], limit=4096)
    assert len(chunks) == 3
    for chunk in chunks:
        assert chunk.plain.endswith("end.") and chunk.html.startswith("<b>") and chunk.html.endswith("</b>")
        assert utf16_len(visible_text(chunk.html)) <= 4096


def test_a_sentence_longer_than_a_message_is_cut_between_words_then_code_points() -> None:
    chunks = render([(Span("🦭" * 5000),)], limit=4096)
    assert [utf16_len(c.plain) for c in chunks] == [4096, 4096, 1808]  # never half a surrogate pair
    words = render([(Span("ab " * 3000),)], limit=4096)
    assert all(c.plain.endswith("ab") for c in words)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=0, max_size=3000), st.sampled_from(["", "b", "i"])), min_size=1,
                max_size=6), st.integers(min_value=50, max_value=4096))
def test_any_text_renders_to_valid_html_within_the_limit_and_loses_nothing(
        spans: list[tuple[str, str]], limit: int) -> None:
    blocks = [(Span(text, style),) for text, style in spans]
    chunks = render(blocks, limit=limit)
    for chunk in chunks:
        assert utf16_len(chunk.plain) <= limit
        assert visible_text(chunk.html).strip() == chunk.plain  # Telegram trims the visible text
        assert chunk.plain
    squeeze = "".join("".join(text.split()) for text, _ in spans)
    assert "".join("".join(c.plain.split()) for c in chunks) == squeeze


def test_a_hedged_answer_leads_with_the_hedge_in_its_own_block_and_no_answer_line() -> None:
    sentence = "The UN says more than 5,400 people died."
    start = sentence.index("more than")
    span = AnswerSpan(start, start + 22, "more than 5,400 people", "number")
    answer = Answer("q", True, (_hit(sentence, answer=span),), message=HEDGED, confidence=0.4, sure=False)
    blocks = answer_blocks(answer)
    assert blocks[0] == (Span(HEDGED, "i"),)
    [chunk] = render(blocks)
    assert chunk.plain.startswith(f"{HEDGED}\n\n1. {sentence}") and "Answer:" not in chunk.plain
    assert visible_text(chunk.html) == chunk.plain
    missing = MISSING.format("how many children")
    blocks = answer_blocks(Answer("q", True, (_hit(sentence),), message=missing, confidence=0.8, sure=False))
    assert blocks[0] == (Span(missing, "i"),) and [s.text for s in blocks[1]][:2] == ["1. ", sentence]


def _from(text: str, article_id: str, title: str, day: date | None = date(2012, 1, 25)) -> Hit:
    article = ArticleInfo(article_id, title, "AFP", day, f"https://e.com/{article_id}")
    return Hit(text=text, score=0.9, article=article, sentence_id=0, paragraph=0, start=0, end=len(text))


def test_sentences_of_one_article_are_cited_once_under_them() -> None:
    answer = Answer("q", True, (_from("First.", "a", "Syria"), _from("Second.", "a", "Syria"),
                                _from("Third.", "a", "Syria")))
    [chunk] = render(answer_blocks(answer))
    assert chunk.plain == "1. First.\n2. Second.\n3. Third.\n📰 Syria — AFP, 25 Jan 2012 · https://e.com/a"
    assert visible_text(chunk.html) == chunk.plain.replace("https://e.com/a", "link")


def test_sentences_of_several_articles_are_grouped_in_the_order_of_each_articles_best_sentence() -> None:
    answer = Answer("q", True, (_from("Syria best.", "s", "Syria", date(2012, 1, 25)),
                                _from("Plague best.", "p", "Plague", date(2013, 3, 1)),
                                _from("Syria second.", "s", "Syria", date(2012, 1, 25)),
                                _from("Zoo only.", "z", "Zoo", None)))
    [chunk] = render(answer_blocks(answer, first_number=4))
    assert chunk.plain.split("\n\n") == [
        "4. Syria best.\n5. Syria second.\n📰 Syria — AFP, 25 Jan 2012 · https://e.com/s",
        "6. Plague best.\n📰 Plague — AFP, 1 Mar 2013 · https://e.com/p",
        "7. Zoo only.\n📰 Zoo — AFP · https://e.com/z"]
    assert chunk.plain.count("📰") == 3


def test_the_answer_line_stays_a_block_of_its_own_before_the_articles() -> None:
    sentence = "More than 5,400 people died."
    top = replace(_from(sentence, "s", "Syria"), answer=AnswerSpan(0, 22, sentence[:22], "number"))
    blocks = answer_blocks(Answer("q", True, (top, _from("Other.", "p", "Plague"))))
    assert [len(blocks), "".join(s.text for s in blocks[0])] == [3, "Answer: More than 5,400 people (AFP, 25 Jan 2012)"]


def test_an_article_too_long_for_one_message_is_cut_between_its_numbered_sentences() -> None:
    long = "Walruses argued about herring quotas until dawn. " * 30
    answer = Answer("q", True, tuple(_from(f"{long}{n}", "w", "Walrus") for n in range(3)))
    chunks = render(answer_blocks(answer), limit=2000)
    assert [c.plain[:3] for c in chunks] == ["1. ", "2. ", "3. "]  # each number stays with its sentence
    assert chunks[-1].plain.endswith("https://e.com/w") and all(utf16_len(c.plain) <= 2000 for c in chunks)
