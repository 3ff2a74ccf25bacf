"""Plain-text rendering of answers and the interactive console chat (no token, no server): the bot's
conversation in a terminal, with the same replies to small talk and the same `more`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from newsbot.bot.asked import ANSWERS_PER_REPLY, MAX_RESULTS
from newsbot.bot.citation import by_article, cite
from newsbot.bot.history import History
from newsbot.bot.small_talk import small_talk
from newsbot.bot.texts import ASK_FIRST, NEW_CONVERSATION, NO_MORE, SMALL_TALK, answering_words, lead_details, period_note, report_details
from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval import Answer
from newsbot.retrieval.retriever import NOT_FOUND

PROMPT = "you> "
WELCOME = ("Ask me about the news in my articles; a follow-up is read after your earlier questions. "
           "Type 'more' for further answers, 'new' for a new topic, 'quit' or Ctrl-D to leave.")
GOODBYES = {"quit", "exit", "bye", ":q"}
MORE = {"more", "/more"}
NEW_TOPIC = {"new", "/new"}


def citation(article: ArticleInfo) -> str:
    """The article's `cite` on one line: "Title (Source, 25 Jan 2012) https://…"."""
    cited = cite(article)
    line = cited.title + (f" ({cited.details})" if cited.details else "")
    return f"{line} {cited.url}" if cited.url else line


def render_answer(answer: Answer, first_number: int = 1) -> str:
    """The answer as a person reads it in a terminal: the answering words first when they were found, with
    who reported them and when, then the sentences grouped by article, each article cited once under its
    sentences, then a changing figure's earlier reports, dated (as the bot's `answer_blocks`)."""
    period = period_note(answer) if first_number == 1 else None
    noted = [period] if period else []
    if not answer.found:
        return "\n".join([*noted, answer.message or NOT_FOUND])
    pointed = answering_words(answer)
    details = lead_details(answer)
    lines = [f"Answer: {pointed}" + (f" ({details})" if details else "")] if pointed and first_number == 1 else []
    if answer.message:  # not sure: the hedge comes first, no "Answer:"
        lines = [answer.message] if first_number == 1 else []
    lines = noted + lines
    number = first_number
    for article, hits in by_article(answer.hits):
        for hit in hits:
            lines.append(f"{number}. {hit.text}  [score {hit.score:.2f}]")
            number += 1
        lines.append(f"   — {citation(article)}")
    earlier = answer.timeline[1:] if first_number == 1 else ()
    if earlier:
        lines.append("Earlier reports:")
        lines += [f" • {report.hit.text} ({report_details(report)})" for report in earlier]
    return "\n".join(lines)


def chat(ask: Callable[[str, int, tuple[str, ...]], Answer], *, stdin: TextIO = sys.stdin,
         stdout: TextIO = sys.stdout) -> None:
    """Read questions until end of input or a goodbye, answering each on the shared answer path (`ask`:
    question, how many sentences, the session's earlier questions: bot.history). `more` shows the next
    sentences for the last question, `new` starts a new topic; greetings, thanks and other languages get
    the bot's replies to them (bot.small_talk)."""
    read = _line_reader(stdin, stdout)
    print(WELCOME, file=stdout)
    history = History()
    last: tuple[str, tuple[str, ...]] | None = None  # the last question and the history it was asked after
    shown = 0
    while True:
        line = read()
        if line is None or line.strip().lower() in GOODBYES:
            print("Bye.", file=stdout)
            return
        text = line.strip()
        if not text:
            continue
        if text.lower() in MORE:
            if last is None:
                reply = ASK_FIRST
            else:
                answer = ask(last[0], min(shown + ANSWERS_PER_REPLY, MAX_RESULTS), last[1])
                new = answer.hits[shown:]
                reply = render_answer(replace(answer, hits=new), shown + 1) if new else NO_MORE
                shown += len(new)
        elif text.lower() in NEW_TOPIC:
            history.clear()
            reply = NEW_CONVERSATION
        elif (chatter := small_talk(text)) is not None:
            reply = SMALL_TALK[chatter]
        else:
            last = (text, history.earlier())
            history.add(text)
            answer = ask(text, ANSWERS_PER_REPLY, last[1])
            shown = len(answer.hits)
            reply = render_answer(answer)
        print(reply, file=stdout, flush=True)


def _line_reader(stdin: TextIO, stdout: TextIO) -> Callable[[], str | None]:
    """A function reading the next line (None at end of input). At a terminal it is input() with the
    standard library's readline, where there is one: the arrow keys edit the line and recall earlier
    questions instead of sending their escape codes (^[[A) as text."""
    if stdin is sys.stdin and stdout is sys.stdout and stdin.isatty():
        try:
            import readline  # noqa: F401 - importing it gives input() line editing and history
        except ImportError:  # Windows, or a Python built without it
            pass

        def read_input() -> str | None:
            try:
                return input(PROMPT)
            except EOFError:
                print(file=stdout)
                return None

        return read_input

    def read_stream() -> str | None:
        print(PROMPT, end="", file=stdout, flush=True)
        return stdin.readline() or None

    return read_stream
