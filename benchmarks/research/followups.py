"""How a follow-up question should use the questions before it: the alternatives behind retrieval/history.py.

On the follow-up benchmark built from SQuAD dev (`retrieval.evaluation.followups`), over the index of all
48 articles, P@1 of the rewritten questions after their earlier question, and of the original questions
after an unrelated one (a topic switch), for each way of bringing the history in:
- embedding only (the product): the question followed by the earlier questions it leans on for the
  embedding, the question alone for the lexical evidence (overlap, answer type);
- joined: that text for the embedding and the lexical evidence alike;
- joined, context first: the same with the earlier questions before the question;
- terms only: the question alone for the embedding, the joined text for the lexical evidence;
- vector mix w: the normalised sum of the question's vector and w times the earlier questions' vector,
  lexical evidence on the question alone;
- gates: a pointing word leans only with no name before it, or every question leans on a history.
Chosen on articles 0-23; 24-47 are shown as the held-out check. Question vectors are encoded once.
`--write-docs` writes the table into docs/QUALITY.md.
Usage (from the project root): `.venv/bin/python -m benchmarks.research.followups [--json] [--write-docs]`
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.report import provenance, table, write_block
from benchmarks.squad import indexed_squad, squad_options
from benchmarks.stats import machine
from newsbot.retrieval import Retriever
from newsbot.retrieval.candidates import find_candidates
from newsbot.retrieval.evaluation.followups import Search, followup_metrics, followup_task
from newsbot.retrieval.history import _NAME, _POINTING, CONTEXT_QUESTIONS, context
from newsbot.retrieval.threads import answer_on_one_thread

Gate = Callable[[str, tuple[str, ...]], list[str]]  # (question, history) -> the earlier questions it leans on
Way = Callable[[str, list[str]], tuple[np.ndarray, str]]  # (question, leaned on) -> (its vector, its lexical text)
WITH_HISTORY = ("rewritten_after_earlier", "original_after_earlier", "original_after_unrelated")
PRODUCT = "the joined text for the embedding, the question's own terms (product)"
ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = squad_options(__doc__.splitlines()[0])
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/QUALITY.md")
    args = parser.parse_args()
    answer_on_one_thread()
    started = machine()
    squad = indexed_squad(args)
    if squad is None:
        return
    retriever = Retriever.open(squad.index_dir, embedder=squad.embedder)
    version = retriever._version  # research: the candidates step is called with vectors of our own
    followups = followup_task(squad.records)
    half = len(squad.records) // 2
    halves = {f"0-{half - 1}": [f for f in followups if f.article < half],
              f"{half}-{len(squad.records) - 1}": [f for f in followups if f.article >= half]}
    vectors: dict[str, np.ndarray] = {}

    def vector(text: str) -> np.ndarray:
        if text not in vectors:
            vectors[text] = squad.embedder.encode([text])[0]
        return vectors[text]

    def joined(question: str, leaned: list[str]) -> tuple[np.ndarray, str]:
        text = " ".join([question, *leaned])
        return vector(text), text

    def mix(weight: float) -> Way:
        def way(question: str, leaned: list[str]) -> tuple[np.ndarray, str]:
            if not leaned:
                return vector(question), question
            combined = vector(question) + weight * vector(" ".join(leaned))
            return combined / np.linalg.norm(combined), question
        return way

    def context_first(question: str, leaned: list[str]) -> tuple[np.ndarray, str]:
        text = " ".join([*reversed(leaned), question])
        return vector(text), text

    def named_first(question: str, history: tuple[str, ...]) -> list[str]:
        """A pointing word leans only with no name before it ("Why did Tesla leave his..." names its subject)."""
        pointing = _POINTING.search(question)
        if pointing and _NAME.search(question[:pointing.start()]):
            return []
        return context(question, history)

    def embedding_only(question: str, leaned: list[str]) -> tuple[np.ndarray, str]:
        return joined(question, leaned)[0], question

    alternatives: dict[str, tuple[Gate, Way]] = {
        PRODUCT: (context, embedding_only),
        "joined text for the lexical evidence too": (context, joined),
        "joined, earlier questions first": (context, context_first),
        "terms only: the question's own embedding, the joined text's terms": (
            context, lambda q, leaned: (vector(q), joined(q, leaned)[1])),
        "vector mix, w = 0.5": (context, mix(0.5)),
        "vector mix, w = 1": (context, mix(1.0)),
        "gate: a pointing word leans only with no name before it": (named_first, embedding_only),
        "gate: none (every question with a history joined)": (
            lambda q, h: list(reversed(h))[:CONTEXT_QUESTIONS], embedding_only),
    }
    report: dict[str, dict] = {name: {"followups": len(part)} for name, part in halves.items()}

    def searcher(gate: Gate, way: Way) -> Search:
        def search(questions: list[str], histories: list[tuple[str, ...]]) -> list[str]:
            tops = []
            for question, history in zip(questions, histories):
                query, lexical = way(question, gate(question, history))
                candidates = find_candidates(np.asarray([query], dtype=np.float32), version.sentences,
                                             version.paragraphs, version.paragraph_vectors,
                                             version.sentence_paragraphs)[0]
                ids, _ = retriever.rank(lexical, candidates)
                tops.append(version.metadata.sentences([int(ids[0])])[0].text)
            return tops
        return search

    for name, part in halves.items():
        report[name]["without history"] = followup_metrics(part, searcher(context, joined),
                                                           ("rewritten_alone", "original_alone"))
        for alternative, (gate, way) in alternatives.items():
            report[name][alternative] = followup_metrics(part, searcher(gate, way), WITH_HISTORY)
            print(name, alternative, report[name][alternative], flush=True)
    if args.json:
        print(json.dumps(report, indent=2))
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.followups", "--write-docs"])
        write_block(ROOT / "docs" / "QUALITY.md", "quality-followup-levers",
                    f"{provenance(command, started, [round(x, 2) for x in os.getloadavg()])}\n\n{levers_table(report)}")


def levers_table(report: dict[str, dict]) -> str:
    """Each alternative's P@1 on both halves (chosen on the first), beside the questions asked without history."""
    tuning, held_out = report.values()

    def cells(name: str, keys: tuple[str, str, str]) -> list[str]:
        return [f"{tuning[name][key]:.3f} / {held_out[name][key]:.3f}" for key in keys]

    rows = [("no history", *cells("without history", ("rewritten_alone", "original_alone", "original_alone")),
             "the floor; the ceiling")]
    rows += [(name, *cells(name, WITH_HISTORY), "**kept**" if name == PRODUCT else "dropped")
             for name in tuning if isinstance(tuning[name], dict) and name != "without history"]
    first, second = report
    return (f"Follow-ups of articles {first} / {second} ({tuning['followups']:,} / {held_out['followups']:,}); P@1, "
            f"chosen on {first}.\n\n"
            + table(("history brought in by", "rewritten, after the earlier question", "original, after the earlier question",
                     "original, after an unrelated question", "decision"), rows, "lrrrl"))


if __name__ == "__main__":
    main()
