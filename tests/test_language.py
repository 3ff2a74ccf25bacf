"""Telling English questions from others (retrieval.language) and small talk from questions (bot.small_talk):
English must essentially never be turned away, other languages mostly recognised."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.language import squad_questions
from newsbot.bot.small_talk import FOREIGN, GOODBYE, GREETING, OKAY, THANKS, small_talk
from newsbot.retrieval.language import is_foreign
from tests.non_english_questions import ENGLISH_CHAT, HELD_OUT, NON_ENGLISH
from tests.reliability import Record


def test_no_squad_dev_question_is_taken_for_another_language_or_for_small_talk(squad_dev: Path,
                                                                              reliability: Record) -> None:
    questions = squad_questions(squad_dev)
    assert len(questions) > 10_000
    assert [q for q in questions if small_talk(q) is not None] == []
    reliability("Bad input", "every SQuAD v1.1 dev question (English) through the small-talk and language check",
                len(questions), "none taken for a greeting, thanks or another language: all go on to be answered")


def test_english_as_typed_to_a_chat_bot_stays_english() -> None:
    assert [q for q in ENGLISH_CHAT if is_foreign(q)] == []


@pytest.mark.parametrize(("questions", "at_least"), [(HELD_OUT, 0.8), (NON_ENGLISH, 0.9)])
def test_questions_in_other_languages_are_mostly_recognised(questions: dict[str, list[str]], at_least: float) -> None:
    asked = [q for qs in questions.values() for q in qs]
    assert sum(map(is_foreign, asked)) >= at_least * len(asked)


@pytest.mark.parametrize("language", ["ar", "ru", "uk", "zh", "ja", "ko", "fa", "he", "hi", "el"])
def test_every_question_in_a_non_latin_script_is_recognised(language: str) -> None:
    assert all(is_foreign(q) for q in NON_ENGLISH[language] + HELD_OUT.get(language, []))


@pytest.mark.parametrize(("text", "kind"), [
    ("hi", GREETING), ("Hello!", GREETING), ("hey there :)", GREETING), ("Good morning", GREETING),
    ("Hello, newsbot!", GREETING), ("thanks", THANKS), ("Thank you!", THANKS), ("ok thanks", THANKS),
    ("thanks a lot", THANKS), ("Cheers!", THANKS), ("ok", OKAY), ("Got it.", OKAY), ("cool!", OKAY),
    ("bye!", GOODBYE), ("See you later", GOODBYE), ("¿Cuántos muertos hay?", FOREIGN), ("ok, who vetoed it?", None),
    ("hi, who vetoed the resolution?", None), ("Thanks to whom was the resolution vetoed?", None),
    ("hello world program", None), ("", None), ("?!", None)])
def test_only_a_whole_message_of_greeting_or_thanks_is_small_talk(text: str, kind: str | None) -> None:
    assert small_talk(text) == kind
