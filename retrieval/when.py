"""The period a question names ("in January 2012", "last week", "yesterday", "by 30 January 2012"), taken
against the current date, so that it can be answered from the articles published then.

dateparser reads the phrase (relative dates, day-month orders, month and year granularity); what is ours
is only the cheap check for time words that lets a question without one skip it (a parse costs about a
millisecond, the first one in a process 0.1 s) and drops what dateparser reads as a date that is none
("may" the verb, a score "2-1"), and the reading of the preposition before it ("by", "since"). Whether a
period filters the answer is the retriever's decision: only when some candidate was published in it, so
a year that is the question's content ("Who was president in 1905?") changes nothing in a corpus of news.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

_MONTH = (r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
          r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b\.?")
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
# Where a question names a time: a date around a month's name, a relative day, week, month or year, a weekday,
# a year, a numeric date. Only where it is: what the words mean is dateparser's to read.
_PHRASE = re.compile("|".join((
    rf"(?:(?:the\s+)?{_ORDINAL}\s+(?:of\s+)?)?{_MONTH}(?:\s+{_ORDINAL}\b)?(?:,?\s+\d{{4}}\b)?",
    rf"\b(?:yesterday|today|tonight|(?:last|this|past|previous)\s+(?:week|weekend|month|year|{_WEEKDAY})|"
    rf"(?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:days?|weeks?|months?|years?)\s+ago)\b",
    rf"\b{_WEEKDAY}\b",
    r"\b(?:1[89]|20)\d{2}\b(?!\s*-\s*\d)",
    r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")), re.IGNORECASE)
_ALONE = re.compile(rf"{_MONTH}|\d{{4}}", re.IGNORECASE)  # a month's name or a year without a day
_PREPOSITION = re.compile(r"\b(?:in|on|by|since|until|till|before|after|during|from|of|early|late|mid|"
                          r"as of|up to)[\s-]+$", re.IGNORECASE)
_UNTIL = re.compile(r"\b(?:by|until|till|up to|as of|before)\s+$", re.IGNORECASE)
_SINCE = re.compile(r"\b(?:since|after|from)\s+$", re.IGNORECASE)
_EXCLUSIVE = re.compile(r"\b(?:before|after)\s+$", re.IGNORECASE)
# A date between "the" and a name is the name's ("the March 14 alliance", "the January 25 revolution"), unless
# a preposition comes before "the" ("at the 25 January meeting") or a function word after the date ("on the
# 25th of January about Syria")
_THE = re.compile(r"(?<!\bin |\bon |\bat |\bby )\bthe\s+$", re.IGNORECASE)
# A weekday after a capitalised word is a name's ("Super Tuesday", "Good Friday", "Bloody Sunday")
_NAME_BEFORE = re.compile(r"\b[A-Z][\w'-]*\s+$")
_WEEKDAY_ALONE = re.compile(_WEEKDAY, re.IGNORECASE)
_NAMED = re.compile(r"\s+(?!(?:about|after|and|as|at|before|but|by|for|from|in|into|of|on|or|than|that|to|"
                    r"until|when|where|which|while|with)\b)[a-z]", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """The days from `start` to `end`, both included; None is open (since ever, until now). `phrase` is
    the question's words that name it."""

    start: date | None
    end: date | None
    phrase: str

    def __contains__(self, day: object) -> bool:
        return (isinstance(day, date) and (self.start is None or day >= self.start)
                and (self.end is None or day <= self.end))

    def describe(self) -> str:
        """The period in words for a reply: "in 2011", "in January 2012", "13 Feb 2012 to 19 Feb 2012",
        "up to 30 Jan 2012"."""
        if self.start and self.end:
            if (self.start.month, self.start.day, self.end.month, self.end.day) == (1, 1, 12, 31) \
                    and self.start.year == self.end.year:
                return f"in {self.start.year}"
            if self.start.day == 1 and self.end == _span(self.start, "month")[1]:
                return f"in {self.start:%B %Y}"
            return _day(self.start) if self.start == self.end else f"{_day(self.start)} to {_day(self.end)}"
        return f"since {_day(self.start)}" if self.start else f"up to {_day(self.end)}" if self.end else "at any time"


def time_phrases(question: str) -> list[re.Match[str]]:
    """Where the question names a time, in order: the cheap check before the parser is asked (a question
    without one costs a regular expression's search, about a microsecond a word). A month's name or a
    year alone names a time only after a preposition ("in May", "since 2011"): "May I ask" and "the 2011
    uprising" name none; nor does a date in a name ("the March 14 alliance")."""
    return [m for m in _PHRASE.finditer(question)
            if (not _ALONE.fullmatch(m.group()) or _PREPOSITION.search(question[:m.start()]))
            and not _names_a_thing(question, m)]


def _names_a_thing(question: str, match: re.Match[str]) -> bool:
    """Whether the date is part of a name ("the March 14 alliance", "Good Friday"), not a time the question
    asks about."""
    named = _NAME_BEFORE.search(question[:match.start()]) if _WEEKDAY_ALONE.fullmatch(match.group()) else None
    if named and named.start() > 0:  # not the question's first word, capitalised as every first word is
        return True
    before = question[:match.start()] + ("the " if match.group().lower().startswith("the ") else "")
    return bool(_THE.search(before) and _NAMED.match(question, match.end()))


def asked_period(question: str, today: date) -> Period | None:
    """The period the question names, relative dates taken against `today`; None when it names none."""
    if not time_phrases(question):
        return None
    return _parsed_period(question, today)


@lru_cache(maxsize=4096)  # the chat's `more` asks the same question again
def _parsed_period(question: str, today: date) -> Period | None:
    """The first time phrase dateparser reads, as a period; the preposition before it may open it
    ("by 30 January 2012": up to that day; "since March": from March on)."""
    parser = _parser(today)
    for match in time_phrases(question):
        parsed = parser.get_date_data(match.group())
        if parsed.date_obj is None:
            continue
        start, end = _span(parsed.date_obj.date(), parsed.period or "day")
        before = question[:match.start()]
        phrase = match.group()
        if _UNTIL.search(before):
            return Period(None, start - timedelta(days=1) if _EXCLUSIVE.search(before) else end, phrase)
        if _SINCE.search(before):
            return Period(end + timedelta(days=1) if _EXCLUSIVE.search(before) else start, None, phrase)
        return Period(start, end, phrase)
    return None


@lru_cache(maxsize=8)
def _parser(today: date):  # noqa: ANN202 - dateparser's DateDataParser, imported here only
    from dateparser.date import DateDataParser  # 0.1 s to import and load: only for questions with time words

    return DateDataParser(languages=["en"], settings={
        "RELATIVE_BASE": datetime(today.year, today.month, today.day), "PREFER_DATES_FROM": "past",
        "RETURN_TIME_AS_PERIOD": True})


def _span(day: date, period: str) -> tuple[date, date]:
    """The days of the period dateparser read ("day", "week", "month", "year"; "time" is a day) around `day`."""
    if period == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if period == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    return day, day


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"
