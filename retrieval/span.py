"""Point at the part of an answer sentence that answers the question, by answer-type rules.

The question's wording says what kind of answer it expects (how many → a number, when → a date,
who → a name, where → a place); the sentence is scanned for spans of that kind by regular
expressions, the spans that merely repeat the question are dropped, and the rest are ranked by
how close they sit to the words the question shares with the sentence. A span is returned only
when one candidate clearly wins: no highlight is better than a wrong one. Pure functions, no
model, well under a millisecond per sentence.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

NUMBER, QUANTITY, DATE, YEAR, PERSON, NAME, PLACE = "number", "quantity", "date", "year", "person", "name", "place"

_MONTHS = ("January|February|March|April|June|July|August|September|October|November|December|"
           "Jan\\.|Feb\\.|Aug\\.|Sept?\\.|Oct\\.|Nov\\.|Dec\\.")
_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 "hundreds|thousands|millions|billions|dozens|a dozen|a hundred|a thousand|a million|a billion|"
                 "half a million|half|a third|a quarter|several|a few")
_MODIFIER = ("(?:(?:more|fewer|less|greater|higher|lower) than|(?:just |well )?(?:over|under)|about|around|"
             "approximately|nearly|almost|roughly|some|at least|at most|up to|as many as|as much as|"
             "an estimated|estimated|only|just|close to|upwards of)\\s+")
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = r"(?:\s+(?:hundred|thousand|million|billion|trillion))?(?:\s*(?:%|percent|per cent))?"
_NUMBER = re.compile(
    rf"(?:{_MODIFIER})?(?P<value>(?:(?:US)?[$£€¥]\s?)?"
    rf"\b(?:{_DIGITS}|(?:{_NUMBER_WORDS})(?:[- ](?:{_NUMBER_WORDS}))?)\b{_SCALE})", re.IGNORECASE)
_MEASURES = (r"\s+(?:(?:square|cubic)\s+)?(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|"
             r"centuries|km|kilomet(?:re|er)s?|miles?|met(?:re|er)s?|m|cm|mm|feet|foot|ft|inch(?:es)?|yards?|acres?|"
             r"hectares?|kg|kilograms?|grams?|g|tons?|tonnes?|pounds?|lbs?|dollars?|euros?|degrees?|°[CF]|mph|km/h)\b")
_UNITS = re.compile(rf"{_MEASURES}(?:\s+(?:old|long|wide|high|tall|deep|away))?|\s+(?:people|persons?|times)\b",
                    re.IGNORECASE)
_DAY = r"\b\d{1,2}(?:st|nd|rd|th)?\b"
_EDGE = r"(?:(?:early|late|mid)[- ])?"
_DATE = re.compile("|".join((
    rf"{_EDGE}(?:{_DAY}\s+(?:{_MONTHS}|May)|(?:{_MONTHS})|May(?=\s+\d))(?:\s+{_DAY})?(?:,?\s+\d{{3,4}}\b)?",
    rf"\b(?:{_WEEKDAYS})\b",
    rf"{_EDGE}(?:the\s+)?\b\d{{1,2}}(?:st|nd|rd|th)[- ]century\b",
    rf"{_EDGE}(?:the\s+)?\b(?:1\d|20)\d{{2}}s\b",
    rf"{_EDGE}\b(?:1\d{{3}}|20\d{{2}})\b",
    r"\b(?:yesterday|today|last (?:week|month|year)|this (?:week|month|year))\b")))
_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2})\b")
_NAME_WORD = r"(?:[A-ZÀ-ÖØ-Þ][\w'’.&-]*)"
_NAME = re.compile(rf"{_NAME_WORD}(?:\s+(?:(?:of|de|del|da|di|van|von|der|den|la|le|al|bin|the)\s+)?"
                   rf"{_NAME_WORD})*")
_ADJECTIVE = re.compile(r"[A-Z]\w+(?:ish|ese|ian|ean|ic|ac)")
_PLACE_BEFORE = re.compile(r"\b(?:in|at|from|near|to|into|across|throughout|outside|inside|between|"
                           r"within|towards?|through)\s+(?:the\s+)?$", re.IGNORECASE)
# The span's own word rules, looser than the index's (`corpus.terms`): five-letter prefixes, so "countries"
# meets "country" and "elected" "election". The rules and MARGIN were tuned with these; corpus.terms' stop
# words, stemmer or tokeniser here would move 14-86 of SQuAD dev's 10,566 spans (measured one at a time).
_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being has have had do does did "
    "what which who whom whose when where why how many much that this these those it its his her their they he "
    "she we you i as into about than after before during not no name called there here can could would will "
    "shall should may might must so such also only one s".split())
_NOT_NAMES = frozenset(
    "the a an in on at of for from by with and but or if when while after before during however although "
    "this that these those it its his her their there here he she they we i you our my as according "
    "some many most all both each other another such one two three first last new former despite since "
    "though yet also meanwhile mr mrs ms dr behind around outside inside instead whilst under over among "
    "within without because unlike like following until upon through throughout today later then thus therefore "
    "hence moreover furthermore eventually initially finally".split())
_KINDS = (  # (question pattern, kind): the earliest match in the question decides
    (r"\bhow many\b|\bwhat (?:is the )?number of\b|\b(?:death|casualty) toll\b", NUMBER),
    ((r"\bhow much\b|\bwhat (?:percentage|percent|proportion|share)\b|\bhow (?:long|far|old|big|large|tall|high|"
      r"deep|wide|heavy|fast)\b"), QUANTITY),
    (r"\b(?:what|which|in what|in which) (?:year|decade|century)\b", YEAR),
    (r"\bwhen\b|\b(?:what|which) (?:date|day|month|time|period|era)\b|\bhow long ago\b", DATE),
    (r"\bwho(?:m|se)?\b", PERSON),
    ((r"\b(?:what|which) (?:\w+ )?(?:team|company|organi[sz]ation|person|player|group|party|band|university|"
      r"newspaper|president|king|emperor|scientist|man|woman)\b|\bwhat (?:is|was) (?:the|his|her|its) name\b"), NAME),
    ((r"\bwhere\b|\b(?:what|which|in what|in which) (?:country|city|state|town|region|province|county|continent|"
      r"island|village|area|location|place|river|nation|capital)\b"), PLACE),
)
_CURRENCY = r"[$£€¥]|\b(?:dollars?|euros?|pounds?)\b"
_QUANTITY_NEEDS = (  # (question pattern, what a candidate must contain): a percentage for "what percentage"...
    (r"\bwhat (?:percentage|percent|proportion|share)\b", r"%|\bper ?cent\b"),
    ((r"\bhow much\b.*\b(?:cost|costs|pay|paid|spen[dt]|worth|price|money|earn|raised?|fund|budget|sold|sell|"
      r"invest)"), _CURRENCY),
    (r"\bhow (?:long|far|big|large|tall|high|deep|wide|heavy|fast)\b", _MEASURES),
)
_NEXT_WORDS = re.compile(r"\s+([a-z][\w-]*)(?:\s+([a-z][\w-]*))?")
MARGIN = 4  # words by which the nearest candidate must beat the next; chosen on SQuAD dev 0-23 (docs/QUALITY.md)
# The kinds whose span is shown: those right (token F1 >= 0.5 against a gold answer, in the right sentence) at least
# 90% of the time on SQuAD dev articles 0-23 (docs/QUALITY.md). Names and places are not: a wrong highlight
# ("Who is Nikola Tesla?" -> "Serbian Cyrillic") is worse than none.
OFFERED_KINDS = frozenset({NUMBER, DATE, YEAR})


@dataclass(frozen=True)
class AnswerSpan:
    """Characters start:end of the sentence that answer the question; `kind` is the expected answer type."""

    start: int
    end: int
    text: str
    kind: str


@lru_cache(maxsize=1024)  # asked once per candidate sentence of the same question
def answer_kind(question: str) -> str | None:
    """The kind of answer the question asks for, or None when its wording does not say."""
    lowered = question.lower()
    found = [(match.start(), kind) for pattern, kind in _KINDS if (match := re.search(pattern, lowered))]
    return min(found)[1] if found else None


def find_answer_span(question: str, sentence: str, *, margin: int = MARGIN, kind: str | None = None) -> AnswerSpan | None:
    """The span of the sentence that answers the question, or None unless one candidate clearly wins:
    it is nearer the question's words than any other by at least `margin` words. `kind`: the kind of
    answer to look for, when the caller knows it better than the question's wording (default: `answer_kind`)."""
    kind = kind or answer_kind(question)
    if kind is None:
        return None
    asked = _asked_words(question)
    found = _candidates(kind, question, sentence)
    if kind == PERSON:  # a "which team" answer keeps its "Team", a place its "City"
        found = [_trim_name(sentence, span, asked) for span in found]
    candidates = [span for span in found if not _repeats(span, asked)]
    if not candidates:
        return None
    words = list(_WORD.finditer(sentence))
    starts = [word.start() for word in words]
    anchors = [number for number, word in enumerate(words) if _stem(word.group().lower()) in asked]
    ranked = sorted(((_distance(span, starts, anchors), span) for span in candidates), key=lambda pair: pair[0])
    if len(ranked) > 1 and ranked[1][0] - ranked[0][0] < margin:
        return None
    return ranked[0][1]


def offered_span(question: str, sentence: str) -> AnswerSpan | None:
    """The span to show users: `find_answer_span`'s, only for the kinds whose spans are right often
    enough to be worth highlighting (OFFERED_KINDS)."""
    span = find_answer_span(question, sentence)
    return span if span is not None and span.kind in OFFERED_KINDS else None


def offers_answer(question: str, sentence: str) -> bool:
    """Whether the sentence holds something of the kind the question asks for (a number for "how
    many", a date for "when"...) that the question does not already say: evidence for ranking that
    does not reward word overlap. False when the question names no kind."""
    kind = answer_kind(question)
    if kind is None:
        return False
    asked = _asked_words(question)
    return any(not _repeats(span, asked) for span in _candidates(kind, question, sentence))


def missing_answer(question: str, sentence: str) -> str | None:
    """What the question asks for that the sentence does not say, in the question's words ("how many
    children", "when"), or None when the sentence offers it or the question names no kind. Every
    number that counts something else ("5,400 people" for "how many children") is no answer either.
    Only for the kinds whose spans are found reliably (OFFERED_KINDS: numbers, dates, years)."""
    kind = answer_kind(question)
    if kind not in OFFERED_KINDS:  # names and places are found too unreliably to say one is missing
        return None
    lowered = question.lower()
    asked = min((match for pattern, _ in _KINDS if (match := re.search(pattern, lowered))), key=lambda m: m.start())
    counted = re.match(r"\s+(\w+)", lowered[asked.end():]) if kind == NUMBER else None
    if counted and counted.group(1) in _NOT_COUNTED:
        counted = None
    phrase = asked.group() + (f" {counted.group(1)}" if counted else "")
    if not offers_answer(question, sentence):
        return phrase
    if counted and _counts_other_things(sentence, _plural_stem(counted.group(1))):
        return phrase
    return None


_NOT_NOUNS = frozenset("since until over under across per each more less than died were".split())
_NOT_COUNTED = frozenset("different other more of the times total".split())  # "how many different..." names no noun


def _counts_other_things(sentence: str, noun: str) -> bool:
    """Whether the sentence never names the counted noun and each of its numbers counts another noun."""
    words = [_plural_stem(w) for w in _WORD.findall(sentence.lower())]
    if noun in words:
        return False
    counted = [_NEXT_WORDS.match(sentence, match.end()) for match in _NUMBER.finditer(sentence)
               if not _YEAR.fullmatch(match.group("value"))]
    return bool(counted) and all(following and _noun_like(following.group(1))
                                 and _plural_stem(following.group(1)) != noun for following in counted)


def _noun_like(word: str) -> bool:
    """Crudely, whether the word after a number is what it counts: no function word, no verb in -ed/-ing."""
    return word not in _STOPWORDS and word not in _NOT_NOUNS and not word.endswith(("ed", "ing"))


def _plural_stem(word: str) -> str:
    return _stem(word[:-1] if word.endswith("s") and len(word) > 3 else word)


@lru_cache(maxsize=1024)
def _asked_words(question: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _WORD.findall(question.lower()) if w not in _STOPWORDS)


def _candidates(kind: str, question: str, sentence: str) -> list[AnswerSpan]:
    """Every span of the sentence that is of the kind asked for."""
    if kind in (NUMBER, QUANTITY):
        return _numbers(kind, question, sentence)
    if kind in (DATE, YEAR):
        pattern = _YEAR if kind == YEAR and not re.search(r"centur|decade", question, re.IGNORECASE) else _DATE
        return [_span(sentence, m.start(), m.end(), kind) for m in pattern.finditer(sentence)]
    names = _names(sentence, kind)
    if kind == NAME:
        return names
    # A place follows "in", "at", "near"...; a person rarely does.
    return [span for span in names if (kind == PLACE) == bool(_PLACE_BEFORE.search(sentence[:span.start]))]


def _numbers(kind: str, question: str, sentence: str) -> list[AnswerSpan]:
    """Numbers with their modifier ("more than"), and their unit or, for how-many, the noun asked about.

    Bare years are not numbers; a how-many answer is no sum of money; a how-long answer needs a unit.
    """
    lowered = question.lower()
    counted = re.search(r"\bhow many (\w+)", lowered)
    noun = _stem(counted.group(1)) if counted else None
    needs = [need for pattern, need in _QUANTITY_NEEDS if re.search(pattern, lowered)] if kind == QUANTITY else []
    spans = []
    for match in _NUMBER.finditer(sentence):
        value = match.group("value")
        if _YEAR.fullmatch(value) or (kind == NUMBER and re.search(_CURRENCY, value)):
            continue
        end = match.end()
        unit = _UNITS.match(sentence, end)
        if unit:
            end = unit.end()
        elif noun:
            end = _counted_noun_end(sentence, end, noun)
        span = _span(sentence, match.start(), end, kind)
        if all(re.search(need, span.text, re.IGNORECASE) for need in needs):
            spans.append(span)
    return spans


def _counted_noun_end(sentence: str, end: int, noun: str) -> int:
    """Where the noun the question counts ends ("5,400 people", "three new stadiums"), else `end`."""
    following = _NEXT_WORDS.match(sentence, end)
    for group in (1, 2):
        word = following and following.group(group)
        if not word or word in _STOPWORDS:
            break
        if _stem(word) == noun:
            return following.end(group)
    return end


def _names(sentence: str, kind: str) -> list[AnswerSpan]:
    """Capitalised word sequences, trimmed of common words (a sentence-initial "The"), months and weekdays.

    A lone word that looks like an adjective of nationality ("British", "Cluniac") is no name.
    """
    spans = []
    for match in _NAME.finditer(sentence):
        words = list(re.finditer(r"\S+", match.group()))
        first, last = 0, len(words)
        while first < last and _not_name(words[first].group()):
            first += 1
        while last > first and _not_name(words[last - 1].group()):
            last -= 1
        if first < last and not (last - first == 1 and _ADJECTIVE.fullmatch(words[first].group())):
            spans.append(_span(sentence, match.start() + words[first].start(),
                               match.start() + words[last - 1].end(), kind))
    return spans


def _trim_name(sentence: str, span: AnswerSpan, asked: frozenset[str]) -> AnswerSpan:
    """The person's name less the titles the question already gives and a possessive 's: asked about
    the foreign minister, "Foreign Minister Sergei Lavrov's" points at "Sergei Lavrov"."""
    words = list(re.finditer(r"\S+", span.text))

    def given(word: str) -> bool:
        return word[0].islower() or _stem(_WORD.search(word).group().lower()) in asked

    first, last = 0, len(words)
    while first < last and given(words[first].group()):
        first += 1
    while last > first and given(words[last - 1].group()):
        last -= 1
    if first == last:
        return span
    start, end = span.start + words[first].start(), span.start + words[last - 1].end()
    if sentence[end - 2:end] in ("'s", "’s"):
        end -= 2
    return _span(sentence, start, end, span.kind)


def _not_name(word: str) -> bool:
    word = word.rstrip(".")
    return word.lower() in _NOT_NAMES or bool(re.fullmatch(rf"(?:{_MONTHS}|May|{_WEEKDAYS})", word))


def _span(sentence: str, start: int, end: int, kind: str) -> AnswerSpan:
    """sentence[start:end] without surrounding spaces and trailing punctuation, offsets kept true."""
    text = sentence[start:end]
    stripped = text.rstrip(" ,.;:")
    start += len(stripped) - len(stripped.lstrip())
    stripped = stripped.strip()
    return AnswerSpan(start, start + len(stripped), stripped, kind)


def _repeats(span: AnswerSpan, asked: frozenset[str]) -> bool:
    """Whether the span only says what the question already says (e.g. its own number or name)."""
    words = [_stem(w) for w in _WORD.findall(span.text.lower()) if w not in _STOPWORDS]
    return not span.text or all(w in asked for w in words)


def _distance(span: AnswerSpan, starts: list[int], anchors: list[int]) -> int:
    """Words between the span and the nearest question word in the sentence (0 when none appears).

    `starts` are the sentence's word offsets and `anchors` the (sorted) numbers of its question words.
    """
    if not anchors:
        return 0
    first, last = bisect_left(starts, span.start), bisect_left(starts, span.end) - 1
    after = bisect_left(anchors, first)
    gaps = [max(anchors[after] - last - 1, 0)] if after < len(anchors) else []
    if after:
        gaps.append(first - anchors[after - 1] - 1)
    return min(gaps)


def _stem(word: str) -> str:
    """A crude stem (the first five letters), so that "countries" meets "country" and "elected" "election"."""
    return word[:5]
