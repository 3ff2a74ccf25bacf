"""Plain-text rendering of answers and the interactive console chat (no token, no server)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from newsbot.bot.citation import cite
from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval import Answer
from newsbot.retrieval.retriever import NOT_FOUND

PROMPT = "you> "
GOODBYES = {"quit", "exit", "bye", ":q"}


def citation(article: ArticleInfo) -> str:
    """The article's `cite` on one line: "Title (Source, 25 Jan 2012) https://…"."""
    cited = cite(article)
    line = cited.title + (f" ({cited.details})" if cited.details else "")
    return f"{line} {cited.url}" if cited.url else line


def render_answer(answer: Answer) -> str:
    """The answer as a person reads it in a terminal: the answering words first when they were found."""
    if not answer.found:
        return answer.message or NOT_FOUND
    pointed = answer.hits[0].answer
    lines = [f"Answer: {pointed.text}"] if pointed else []
    if answer.message:  # not sure: the hedge comes first, no "Answer:"
        lines = [answer.message]
    lines += [f"{number}. {hit.text}\n   — {citation(hit.article)}  [score {hit.score:.2f}]"
              for number, hit in enumerate(answer.hits, start=1)]
    return "\n".join(lines)


def chat(ask: Callable[[str], Answer], *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Read questions until end of input or a goodbye, answering each on the shared answer path."""
    print("Ask me about the news in my articles. Type 'quit' or press Ctrl-D to leave.", file=stdout)
    while True:
        print(PROMPT, end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line or line.strip().lower() in GOODBYES:
            print("Bye.", file=stdout)
            return
        if line.strip():
            print(render_answer(ask(line)), file=stdout, flush=True)
