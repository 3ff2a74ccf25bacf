"""Rendering: escaped HTML, splitting by UTF-16 length at paragraph/sentence/word boundaries before markup."""

from __future__ import annotations

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
    assert chunk.html.startswith("Answer: <b>more than 5,400 people</b>\n\n<b>1. </b>Officials said &lt;5 &amp; "
                                 "<b>more than 5,400 people</b> died since March.")
    assert chunk.html.count("<b>more than 5,400 people</b>") == 2  # the lead and the top sentence, once each
    assert chunk.plain.startswith(f"Answer: more than 5,400 people\n\n1. {sentence}\n")
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
