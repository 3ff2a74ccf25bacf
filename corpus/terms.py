"""The informative words of a text, for lexical evidence: lower-cased, stop words dropped, plural
and -ing/-ed endings folded, so "killed" and "kill" or "vetoes" and "veto" meet."""

from __future__ import annotations

import re

_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+")  # numbers keep their separators: 5,400
_SUFFIXES = ("ing", "ed", "es", "s")
STOP_WORDS = frozenset("""
a an the of in on at to for from by with and or but nor is are was were be been being am do does did
done what which who whom whose when where why how that this these those it its as into than then there
their they them he she his her him i me my you your we our us not no yes can could would should will
shall may might must has have had having if about after before over under between during also so such
any some all each both many much more most very just only own same other s t
""".split())


def terms(text: str) -> set[str]:
    """The set of informative word stems of a text."""
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in STOP_WORDS}


def sentence_terms(title: str, sentence: str) -> set[str]:
    """A sentence's terms for lexical evidence: its own and its article title's."""
    return terms(f"{title} {sentence}")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word
