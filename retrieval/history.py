"""Follow-up questions: whether a question leans on the conversation before it, and the text embedded if so.

"Who does the government blame for it?" after "How many people have died in Syria?" means nothing
alone. A question leans on its history when it points back (it, they, his, "did that"...) or says too
little to stand alone ("For how long?", "Who was the spokeswoman?": at most one informative word and
no name). Such a question is embedded together with the earlier questions it leans on: the newest
ones back to (and with) the first that stands on its own, at most `CONTEXT_QUESTIONS`. Its lexical
evidence (shared words, the kind of answer asked for) stays its own (`Retriever.search_many`): the
earlier question's words would pull the answer towards the earlier question's sentence. A question
that stands on its own is answered exactly as without history, so a change of topic costs nothing.

Measured on a follow-up benchmark built from SQuAD dev, against joining the lexical evidence too,
mixing the questions' vectors, and other tests of leaning (benchmarks/research/followups.py,
docs/QUALITY.md#follow-up-questions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from newsbot.corpus.terms import terms

CONTEXT_QUESTIONS = 2  # a chain "A? / And B? / When?" reaches A; further back is another topic in practice
_POINTING = re.compile(
    r"\b(?:it|its|itself|they|them|their|theirs|themselves|he|him|his|himself|she|hers|herself|her)\b"
    r"|\b(?:this|these|those)\b"
    r"|\b(?:did|does|do|was|is|were|are|about|after|before|since|of|for|from|causes?|caused) that\b"
    r"|\bthat\s*\?*\s*$"
    r"|(?<!\bis )(?<!\bare )(?<!\bwas )(?<!\bwere )\bthere\b",
    re.IGNORECASE)
_NAME = re.compile(r"(?<=\s)(?:[A-Z][\w'’.-]*|\d[\d,.]*)")  # a capitalised word or number after the first word


def leans_on_history(question: str) -> bool:
    """Whether the question needs the conversation before it to be understood: it points back, or it
    says too little to stand alone."""
    if _POINTING.search(question):
        return True
    return len(terms(question)) <= 1 and not _NAME.search(question)


def context(question: str, history: Sequence[str], clean: Callable[[str], str] = str.strip) -> list[str]:
    """The earlier questions (newest first, each `clean`ed) the question leans on; none when it stands on
    its own. Only those are cleaned: a long history costs no more than its last few questions."""
    if not leans_on_history(question):
        return []
    leaned: list[str] = []
    for earlier in reversed(history):
        text = clean(earlier)
        if not text:
            continue
        leaned.append(text)
        if len(leaned) == CONTEXT_QUESTIONS or not leans_on_history(text):
            break
    return leaned


def in_context(question: str, history: Sequence[str], clean: Callable[[str], str] = str.strip) -> str:
    """The text to embed for the question: itself, followed by the earlier questions it leans on."""
    return " ".join([question, *context(question, history, clean)])
