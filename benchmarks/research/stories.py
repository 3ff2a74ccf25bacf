"""Many stories at once: the story feature's weight and how close articles' best sentences must be to
all be shown (retrieval/features.py `story_terms`, retrieval/stories.py).

Two measurements, each question's candidates and features computed once and re-scored per setting:
1. SQuAD v1.1 dev, all 48 articles indexed with the dataset's sentences (the ReQA protocol of
   `newsbot eval`): P@1 / R@5 / MRR on articles 0-23 (tuning), 24-47 (held out) and all 48, for
   each story weight; and, per closeness margin, the share of questions whose answer (k=3 hits, after
   `best_per_article`) holds the gold sentence.
2. The many-story set (tests/data/many_stories.json): questions about the bundled article asked over it
   and the 48 SQuAD articles (benchmarks/stories.py): the share whose first sentence is the right one
   (or, for the `among` questions, among the answer's hits), per setting.
Usage (from the project root; about 10 minutes the first time, embeddings are cached in --work-dir):

    .venv/bin/python -m benchmarks.research.stories [--json] [--write-docs]

`--write-docs` writes the tables into docs/QUALITY.md (block quality-stories).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.quality import ROOT
from benchmarks.report import provenance, table, write_block
from benchmarks.squad import indexed_squad, squad_options
from benchmarks.stats import machine
from benchmarks.stories import MANY_STORY_QUESTIONS, write_many_story_corpus
from newsbot.index import build_index
from newsbot.index.version import open_version
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.reqa import reqa_metrics, reqa_task
from newsbot.retrieval.features import scores
from newsbot.retrieval.stories import CLOSE_MARGIN, NAMED_LEAD, NAMED_RARE, NAMED_WITHIN, best_per_article, named_story_first
from newsbot.retrieval.threads import answer_on_one_thread

TUNING = 24  # articles 0-23 tune; 24-47 are held out
LEADS = (None, (NAMED_LEAD, NAMED_WITHIN, NAMED_RARE), (NAMED_LEAD, 0.4, NAMED_RARE), (NAMED_LEAD, 0.6, NAMED_RARE),
         (NAMED_LEAD, NAMED_WITHIN, 0.0), (1.0, 0.5, 4.6), (2.0, 0.3, 5.6))  # (lead, within, rare); None: no named-story step
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
ANSWER_HITS = 3  # the k of `Retriever.answer`
GAP_BANDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 10.0)


def main() -> None:
    parser = squad_options(__doc__.splitlines()[0])
    parser.set_defaults(work_dir=Path("/tmp/newsbot-stories"))
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/QUALITY.md")
    args = parser.parse_args()
    started = machine()
    answer_on_one_thread()  # as the `newsbot` command does
    squad = indexed_squad(args)
    if squad is None:
        return
    article_of = np.array([n for n, record in enumerate(squad.records) for _ in reqa_task([record], "dataset")[1]])
    tuning = article_of < TUNING
    squad_scored = _scored(squad.index_dir, squad.embedder, [q.question for q in squad.queries])
    many_dir = args.work_dir / "many"
    build_index(write_many_story_corpus(squad.records, many_dir / "corpus"), many_dir / "index", squad.embedder)
    asked = json.loads(MANY_STORY_QUESTIONS.read_text(encoding="utf-8"))["questions"]
    many_scored = _scored(many_dir / "index", squad.embedder, [q["question"] for q in asked])
    halves = {"0-23": tuning, "24-47": ~tuning, "all 48": np.ones_like(tuning)}

    report: dict = {"leads": [], "margins": []}
    for lead in LEADS:
        retrieved = [[s.texts[i] for i in s.ranked(lead)[:100]] for s in squad_scored]
        row: dict = {"lead": lead}
        for name, mask in halves.items():
            row[name] = reqa_metrics([q for q, m in zip(squad.queries, mask) if m],
                                     [r for r, m in zip(retrieved, mask) if m])
        row["reordered"] = {name: round(float(np.mean([s.reordered(lead) for s, m in zip(squad_scored, mask) if m])), 4)
                            for name, mask in halves.items()}
        row["many-story right"] = _right_share(asked, many_scored, lead, margin=0.0)
        report["leads"].append(row)
    for margin in MARGINS:
        row = {"margin": margin}
        for name, mask in halves.items():
            held = [q.gold in s.answer((NAMED_LEAD, NAMED_WITHIN, NAMED_RARE), margin) for s, q, m in zip(squad_scored, squad.queries, mask) if m]
            row[name] = round(float(np.mean(held)), 4)
            row[f"several shown, {name}"] = round(float(np.mean(
                [len(set(s.articles_shown((NAMED_LEAD, NAMED_WITHIN, NAMED_RARE), margin))) > 1 for s, m in zip(squad_scored, mask) if m])), 4)
        row["many-story right"] = _right_share(asked, many_scored, (NAMED_LEAD, NAMED_WITHIN, NAMED_RARE), margin)
        report["margins"].append(row)
    report["gaps"] = _gaps(squad_scored, [q.gold for q in squad.queries], tuning)
    print(json.dumps(report, indent=2) if args.json else _table(report))
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.stories", "--write-docs"])
        line = provenance(command, started, [round(x, 2) for x in os.getloadavg()])
        write_block(ROOT / "docs" / "QUALITY.md", "quality-stories", f"{line}\n\n{_markdown(report)}")


class _Scored:
    """One question's candidates: their scores, ids, texts, articles and the articles' story lifts."""

    def __init__(self, scores: np.ndarray, ids: np.ndarray, texts: Sequence[str], articles: np.ndarray,
                 lifts: np.ndarray) -> None:
        self.scores, self.ids, self.articles, self.lifts = scores, ids, articles, lifts
        self.texts = dict(zip(ids.tolist(), texts))

    def order(self, lead: tuple[float, float, float] | None) -> np.ndarray:
        order = np.argsort(-self.scores, kind="stable")
        return order if lead is None else named_story_first(order, self.scores, self.lifts, *lead)

    def ranked(self, lead: tuple[float, float, float] | None) -> list[int]:
        return self.ids[self.order(lead)].tolist()

    def reordered(self, lead: tuple[float, float, float] | None) -> bool:
        return bool(self.order(lead)[0] != self.order(None)[0])

    def shown(self, lead: tuple[float, float, float] | None, margin: float) -> list[int]:
        order = self.order(lead)
        return [int(order[i]) for i in best_per_article(self.scores[order].tolist(), self.articles[order].tolist(),
                                                        ANSWER_HITS, margin)]

    def answer(self, lead: tuple[float, float, float] | None, margin: float) -> list[str]:
        return [self.texts[int(self.ids[i])] for i in self.shown(lead, margin)]

    def articles_shown(self, lead: tuple[float, float, float] | None, margin: float) -> list[int]:
        return [int(self.articles[i]) for i in self.shown(lead, margin)]


def _scored(index_dir: Path, embedder, questions: Sequence[str]) -> list[_Scored]:
    version = open_version(index_dir)
    retriever = Retriever(version, embedder)
    scored = []
    for start in range(0, len(questions), 256):
        batch = list(questions[start:start + 256])
        for question, candidates in zip(batch, retriever.candidates(batch)):
            scored.append(_Scored(scores(retriever.features(question, candidates)), candidates.ids,
                                  version.metadata.texts(candidates.ids), version.metadata.articles_of(candidates.ids),
                                  retriever.story_lifts(question, candidates.ids)))
    retriever.close()
    return scored


def _gaps(scored: list[_Scored], golds: list[str], tuning: np.ndarray) -> list[dict]:
    """By how far the runner-up article's best sentence is below the top one: how often the top sentence is
    right and how often the runner-up article's best is (SQuAD 0-23, questions with an answer among candidates)."""
    rows = []
    for low, high in zip(GAP_BANDS, GAP_BANDS[1:]):
        top = other = count = 0
        for s, gold, t in zip(scored, golds, tuning):
            order = s.order(None)
            firsts = list(dict.fromkeys(s.articles[order].tolist()))
            if not t or len(firsts) < 2:
                continue
            runner = order[s.articles[order] == firsts[1]][0]
            if low <= s.scores[order[0]] - s.scores[runner] < high:
                count += 1
                top += s.texts[int(s.ids[order[0]])] == gold
                other += s.texts[int(s.ids[runner])] == gold
        rows.append({"gap": [low, high], "questions": count, "top right": round(top / max(count, 1), 3),
                     "runner-up right": round(other / max(count, 1), 3)})
    return rows


def _right_share(asked: list[dict], scored: list[_Scored], lead: tuple[float, float, float] | None, margin: float) -> float:
    """The share of the many-story questions whose first sentence (or, for `among`, a shown one) is right."""
    right = 0
    for question, s in zip(asked, scored):
        hits = s.answer(lead, margin)
        shown = hits if "among" in question else hits[:1]
        right += any(part in text for text in shown for part in question.get("among", question.get("first", [])))
    return round(right / len(asked), 4)


def _markdown(report: dict) -> str:
    """The tables of docs/QUALITY.md#many-stories."""
    def metrics(row: dict, name: str) -> str:
        return f"{row[name]['p_at_1']:.4f} / {row[name]['r_at_5']:.4f} / {row[name]['mrr']:.4f}"

    def lead(setting: tuple | None) -> str:
        if setting is None:
            return "none (before)"
        named = f"lead {setting[0]}, within {setting[1]}, rarity {setting[2]}"
        return f"**{named}** (the product)" if setting == (NAMED_LEAD, NAMED_WITHIN, NAMED_RARE) else named

    named = table(("named-story step", "SQuAD 0-23: P@1 / R@5 / MRR", "24-47 (held out)", "all 48",
                   "SQuAD questions reordered", "many-story set: right sentence first"),
                  [(lead(row["lead"]), metrics(row, "0-23"), metrics(row, "24-47"), metrics(row, "all 48"),
                    f"{row['reordered']['all 48']:.1%}", f"{row['many-story right']:.1%}") for row in report["leads"]],
                  "lllllr")
    close = table(("closeness margin", "SQuAD answers holding the gold sentence: 0-23", "24-47 (held out)",
                   "answers showing several articles (all 48)"),
                  [(f"**{row['margin']}** (the product)" if row["margin"] == CLOSE_MARGIN else row["margin"],
                    f"{row['0-23']:.4f}", f"{row['24-47']:.4f}", f"{row['several shown, all 48']:.1%}")
                   for row in report["margins"]], "lrrr")
    gaps = table(("runner-up article's best below the top by", "questions (SQuAD 0-23)", "top sentence right",
                  "runner-up article's best right"),
                 [(f"{row['gap'][0]:.2f}-{row['gap'][1]:.2f}", row["questions"], f"{row['top right']:.1%}",
                   f"{row['runner-up right']:.1%}") for row in report["gaps"]], "lrrr")
    return f"{named}\n\n{close}\n\n{gaps}"


def _table(report: dict) -> str:
    lines = ["named-story lead (nats): SQuAD P@1/R@5/MRR on 0-23, 24-47, all 48 (share reordered); many-story right first"]
    for row in report["leads"]:
        lines.append(f"  {row['lead']!s:>16}  " + "  ".join(
            f"{name} {row[name]['p_at_1']:.4f}/{row[name]['r_at_5']:.4f}/{row[name]['mrr']:.4f} ({row['reordered'][name]:.3f})"
            for name in ("0-23", "24-47", "all 48")) + f"  many {row['many-story right']:.3f}")
    lines.append("closeness margin: SQuAD answers (k=3) holding the gold sentence (share showing several articles), "
                 "0-23, 24-47, all 48; many-story right")
    for row in report["margins"]:
        lines.append(f"  {row['margin']:.2f}  " + "  ".join(
            f"{name} {row[name]:.4f} ({row[f'several shown, {name}']:.3f})" for name in ("0-23", "24-47", "all 48"))
            + f"  many {row['many-story right']:.3f}")
    lines.append("gap to the runner-up article's best (SQuAD 0-23): questions, top right, runner-up article's best right")
    for row in report["gaps"]:
        lines.append(f"  {row['gap'][0]:.2f}-{row['gap'][1]:.2f}  {row['questions']:5d}  {row['top right']:.3f}  "
                     f"{row['runner-up right']:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
