"""Plain-text rendering of answers and the interactive console chat (no token, no server)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from newsbot.bot.citation import cite
from newsbot.bot.history import History
from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval import Answer
from newsbot.retrieval.retriever import NOT_FOUND

PROMPT = "you> "
GOODBYES = {"quit", "exit", "bye", ":q"}
NEW_TOPIC = {"/new", "new"}


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
    lines += [f"{number}. {hit.text}\n   — {citation(hit.article)}  [score {hit.score:.2f}]"
              for number, hit in enumerate(answer.hits, start=1)]
    return "\n".join(lines)


def chat(ask: Callable[[str, tuple[str, ...]], Answer], *, stdin: TextIO = sys.stdin,
         stdout: TextIO = sys.stdout) -> None:
    """Read questions until end of input or a goodbye, answering each on the shared answer path after the
    session's earlier questions (`bot.history`; /new forgets them)."""
    print("Ask me about the news in my articles. Follow-up questions are read after your earlier ones; "
          "type /new for a new topic, 'quit' or Ctrl-D to leave.", file=stdout)
    history = History()
    while True:
        print(PROMPT, end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line or line.strip().lower() in GOODBYES:
            print("Bye.", file=stdout)
            return
        if line.strip().lower() in NEW_TOPIC:
            history.clear()
            print("New topic: I have forgotten your earlier questions.", file=stdout, flush=True)
        elif line.strip():
            print(render_answer(ask(line, history.earlier())), file=stdout, flush=True)
            history.add(line.strip())
