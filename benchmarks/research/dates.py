"""Answers that know their dates: the recency margin, the same-story threshold of a figure's timeline, and
the reading of time phrases (retrieval/recency.py, retrieval/timeline.py, retrieval/when.py).

1. Recency: SQuAD v1.1 dev (the ReQA protocol of `newsbot eval`) has no dates, so each article gets a random
   publication date (DRAWS draws); for each margin, the newest of the sentences within it leads
   (`newest_first`), and P@1 / R@5 / MRR are compared with the ranking's own, on articles 0-23 (tuning) and
   24-47 (held out). Every SQuAD question has one right article, so any change there is a cost.
2. Timelines: SQuAD's questions about a changing figure (how many...), with the same random dates: every
   timeline there is a false one (each article is another story), and its lead changes the answer; against
   the rising toll of benchmarks/dated_stories.py, whose four reports must all be listed.
3. Time phrases: questions naming a time (with the period expected) and questions naming none, and every
   SQuAD dev question: accuracy, false positives, and the cost per question with and without time words.

Usage (from the project root; a few minutes once the SQuAD index is cached in --work-dir):

    .venv/bin/python -m benchmarks.research.dates [--json] [--write-docs]

`--write-docs` writes the tables into docs/QUALITY.md (block quality-dates).
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shlex
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from benchmarks.dated_stories import REPORTS, write_dated_corpus
from benchmarks.quality import ROOT
from benchmarks.report import provenance, table, write_block
from benchmarks.squad import indexed_squad, squad_options
from benchmarks.stats import machine
from newsbot.index import build_index
from newsbot.index.metadata import ArticleInfo
from newsbot.index.vectors import fetch_vectors
from newsbot.index.version import open_version
from newsbot.retrieval import Hit, Retriever
from newsbot.retrieval.evaluation.reqa import reqa_metrics
from newsbot.retrieval.recency import RECENCY_MARGIN, newest_first
from newsbot.retrieval.stories import STORY_DEPTH
from newsbot.retrieval.threads import answer_on_one_thread
from newsbot.retrieval.timeline import NAMED_GAP, SAME_STORY, figure_kind, figure_reports, figure_timeline
from newsbot.retrieval.when import asked_period, time_phrases

TUNING = 24  # articles 0-23 tune; 24-47 are held out
DRAWS = 10  # random date assignments
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.1)
SIMILARITIES = (0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
NAMED_GAPS = (None, 2.0, 1.0)  # None: no condition on the story lift
TODAY = date(2012, 2, 20)  # a Monday
PREFIX = 30  # the ranked candidates re-ordered (all within any margin measured)
# (question, expected (start, end) with None open, as ISO dates), with TODAY as the current date
TIMED = (
    ("How many people had died by 30 January 2012?", (None, "2012-01-30")),
    ("How many died last week?", ("2012-02-13", "2012-02-19")),
    ("What happened yesterday?", ("2012-02-19", "2012-02-19")),
    ("What did Lavrov say on 25 January?", ("2012-01-25", "2012-01-25")),
    ("How many were killed in January 2012?", ("2012-01-01", "2012-01-31")),
    ("What was said this month?", ("2012-02-01", "2012-02-29")),
    ("How much did the war cost in 2011?", ("2011-01-01", "2011-12-31")),
    ("What did Russia say on Wednesday?", ("2012-02-15", "2012-02-15")),
    ("How many people have died since March?", ("2011-03-01", None)),
    ("How many died before 1 February 2012?", (None, "2012-01-31")),
    ("what happened in march 2012", ("2012-03-01", "2012-03-31")),
    ("How many died two weeks ago?", ("2012-02-06", "2012-02-12")),
    ("How many died after 1 February 2012?", ("2012-02-02", None)),
    ("What happened on January 25th, 2012?", ("2012-01-25", "2012-01-25")),
    ("What was reported today?", ("2012-02-20", "2012-02-20")),
    ("Who was killed last month?", ("2012-01-01", "2012-01-31")),
    ("What did the UN say last year about Syria?", ("2011-01-01", "2011-12-31")),
    ("What happened this week in Homs?", ("2012-02-20", "2012-02-26")),
    ("How many protesters died on 3 February?", ("2012-02-03", "2012-02-03")),
    ("What did Assad promise in December?", ("2011-12-01", "2011-12-31")),
    ("What did the Arab League decide on 22 Jan 2012?", ("2012-01-22", "2012-01-22")),
    ("What was the death toll on 2012-01-25?", ("2012-01-25", "2012-01-25")),
    ("What happened 3 days ago?", ("2012-02-17", "2012-02-17")),
    ("How many refugees crossed into Turkey in November 2011?", ("2011-11-01", "2011-11-30")),
    ("What did Clinton say last Friday?", ("2012-02-17", "2012-02-17")),
    ("Who spoke at the UN on Tuesday?", ("2012-02-14", "2012-02-14")),
    ("How many died during February?", ("2012-02-01", "2012-02-29")),
    ("What was agreed in early January?", ("2012-01-01", "2012-01-31")),
    ("What happened on the 25th of January?", ("2012-01-25", "2012-01-25")),
    ("How many observers were in Syria as of 30 January?", (None, "2012-01-30")),
    ("How many died until 10 February 2012?", (None, "2012-02-10")),
    ("How many people died since 1 February?", ("2012-02-01", None)),
    ("Which cities were shelled a week ago?", ("2012-02-13", "2012-02-19")),
    ("What did Russia veto on February 4?", ("2012-02-04", "2012-02-04")),
    ("What was the news in Jan 2012?", ("2012-01-01", "2012-01-31")),
    ("What happened in Syria in 2011?", ("2011-01-01", "2011-12-31")),
    ("Who resigned on Monday?", ("2012-02-20", "2012-02-20")),
    ("What did the Red Cross ask for last Sunday?", ("2012-02-19", "2012-02-19")),
    ("How many were arrested this year?", ("2012-01-01", "2012-12-31")),
    ("What happened on 31/01/2012?", ("2012-01-31", "2012-01-31")),
)
UNTIMED = (
    "How many people have died?", "What happened on the Nile?", "Who won in 2-1?", "What year did the war end?",
    "How many people may have died?", "Who is the second in command?", "May I ask who won?",
    "What caused the 2011 uprising?", "Who will march on the capital?", "What is the death toll in Syria?",
    "Who does the government blame for the violence?", "How many passengers does the ferry carry?",
    "When did the Black Death reach Paris?", "What is the March 14 alliance's position?",
    "In what year did the war end?", "How long did the siege last?", "Which day of the week is market day?",
    "What did the report say?", "Why did Russia oppose the resolution?", "Who is Sergei Lavrov?",
    "How much does the ferry cost?", "What is the price of oil?", "What did the Security Council decide?",
    "Which months are the rainy season?", "How many days did the strike last?", "Who said it was a turning point?",
    "How many weeks did the observers stay?", "What is the capital of Syria?", "What does the 2-0 score mean?",
    "What did the minister say at the end of the meeting?", "What did the second report find?",
    "Who will the members elect?", "Are the talks making progress?", "What did the 1973 attack change?",
    "How old is the president?", "Where did the protests start?", "How many people live in Homs?",
    "What might happen next?", "Who may speak for the opposition?", "What is a March hare?",
)


def main() -> None:
    parser = squad_options(__doc__.splitlines()[0])
    parser.set_defaults(work_dir=Path("/tmp/newsbot-dates"))
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/QUALITY.md")
    args = parser.parse_args()
    started = machine()
    answer_on_one_thread()  # as the `newsbot` command does
    squad = indexed_squad(args)
    if squad is None:
        return
    ranked = _ranked(squad, args.work_dir)
    report = {"recency": _recency(ranked), "timeline": _timelines(ranked, squad.embedder, squad.index_dir),
              "phrases": _phrases([q.question for q in squad.queries]), "stripped": _stripped(ranked, squad)}
    print(json.dumps(report, indent=2) if args.json else _markdown(report))
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.dates", "--write-docs"])
        line = provenance(command, started, [round(x, 2) for x in os.getloadavg()])
        write_block(ROOT / "docs" / "QUALITY.md", "quality-dates", f"{line}\n\n{_markdown(report)}")


@dataclass
class _Question:
    """One unique SQuAD question's ranked candidates (top PREFIX; STORY_DEPTH with vectors for figures)."""

    question: str
    golds: set[str]
    tuning: bool
    texts: list[str]
    scores: list[float]
    articles: list[int]
    sentence_ids: list[int]
    vectors: np.ndarray | None  # the top STORY_DEPTH's, for a question about a changing figure


def _ranked(squad, work_dir: Path) -> list[_Question]:
    """Each unique question's ranking by the product (kept in work_dir: the questions take minutes to embed)."""
    version = open_version(squad.index_dir)
    kept = work_dir / f"ranked-{version.folder.name}.pickle"
    if kept.is_file():
        return pickle.loads(kept.read_bytes())
    golds: dict[str, set[str]] = {}
    for query in squad.queries:
        golds.setdefault(query.question, set()).add(query.gold)
    article_of = {q.question: n for n, record in enumerate(squad.records)
                  for paragraph in record["paragraphs"] for q in _questions(paragraph)}
    retriever = Retriever(version, squad.embedder)
    questions = list(golds)
    ranked = []
    for start in range(0, len(questions), 256):
        batch = questions[start:start + 256]
        for question, candidates in zip(batch, retriever.candidates(batch)):
            ids, scores = retriever.rank(question, candidates)
            ids = ids[:PREFIX]
            vectors = (fetch_vectors(version.sentences, ids[:STORY_DEPTH]) if figure_kind(question) else None)
            ranked.append(_Question(question, golds[question], article_of[question] < TUNING,
                                    version.metadata.texts(ids), scores[:PREFIX].tolist(),
                                    version.metadata.articles_of(ids).tolist(), ids.tolist(), vectors))
    retriever.close()
    kept.write_bytes(pickle.dumps(ranked))
    return ranked


def _questions(paragraph: dict) -> list:
    @dataclass
    class _Q:
        question: str
    return [_Q(qa["question"]) for qa in paragraph["qas"]]


def _dates(seed: int, articles: int = 48) -> list[date]:
    """A random publication date in 2012 for each article."""
    rng = random.Random(seed)
    return [date(2012, 1, 1) + timedelta(days=rng.randrange(366)) for _ in range(articles)]


def _metrics(ranked: list[_Question], orders: list[list[int]], tuning: bool) -> dict:
    queries, retrieved = [], []
    for q, order in zip(ranked, orders):
        if q.tuning == tuning:
            texts = [q.texts[i] for i in order]
            for gold in q.golds:
                queries.append(_Query(q.question, gold))
                retrieved.append(texts)
    return reqa_metrics(queries, retrieved)


@dataclass(frozen=True)
class _Query:
    question: str
    gold: str


def _recency(ranked: list[_Question]) -> list[dict]:
    """Per margin: P@1 / R@5 / MRR on 0-23 and 24-47, the mean over DRAWS date draws, and the share reordered."""
    rows = []
    for margin in MARGINS:
        row: dict = {"margin": margin}
        for half, tuning in (("0-23", True), ("24-47", False)):
            draws, moved = [], []
            for seed in range(DRAWS):
                published = _dates(seed)
                orders = [newest_first(q.scores, [published[a] for a in q.articles], margin) for q in ranked]
                draws.append(_metrics(ranked, orders, tuning))
                moved.append(np.mean([o[0] != 0 for o, q in zip(orders, ranked) if q.tuning == tuning]))
            row[half] = {name: round(float(np.mean([d[name] for d in draws])), 4) for name in ("p_at_1", "r_at_5", "mrr")}
            row[half]["worst_p_at_1"] = min(d["p_at_1"] for d in draws)
            row[half]["reordered"] = round(float(np.mean(moved)), 4)
        rows.append(row)
    return rows


def _hits(q: _Question, published: Sequence[date]) -> list[Hit]:
    return [Hit(text, score, ArticleInfo(str(a), "", f"source {a}", published[a], None), sid, 0, 0, 0)
            for text, score, a, sid in zip(q.texts[:STORY_DEPTH], q.scores, q.articles, q.sentence_ids)]


def _timelines(ranked: list[_Question], embedder, index_dir: Path) -> dict:
    """False timelines on SQuAD's figure questions, per similarity threshold and story-lift gap, and the
    product's P@1 there; and how many of the rising toll's reports each setting lists."""
    figures = [q for q in ranked if q.vectors is not None]
    reports = {q.question: figure_reports(q.question, _hits(q, _dates(0))) for q in figures}
    texts = sorted({q.texts[p] for q in figures for p, _ in reports[q.question]})
    vectors = dict(zip(texts, embedder.encode(texts))) if texts else {}
    retriever = Retriever(open_version(index_dir), embedder)
    lifts = {q.question: retriever.story_lifts(q.question, np.array([q.sentence_ids[p] for p, _ in reports[q.question]],
                                                                    dtype=np.int64)) for q in figures}
    retriever.close()
    toll = _toll(embedder)
    rows = []
    for gap in NAMED_GAPS:
        for similar in SIMILARITIES:
            row: dict = {"similar": similar, "gap": gap, "toll_reports": len(REPORTS),
                         "toll_reports_listed": _listed(toll, similar, gap)}
            for half, tuning in (("0-23", True), ("24-47", False)):
                asked = [q for q in figures if q.tuning == tuning]
                false, right_before, right_after = [], 0, 0
                for seed in range(DRAWS):
                    published = _dates(seed)
                    for q in asked:
                        hits = _hits(q, published)
                        found = reports[q.question]
                        timeline = figure_timeline(hits, found, [vectors[hits[p].text] for p, _ in found],
                                                   lifts[q.question], similar, _no_gap(gap))
                        false.append(bool(timeline))
                        right_before += hits[0].text in q.golds
                        right_after += (timeline[0].hit if timeline else hits[0]).text in q.golds
                row[half] = {"questions": len(asked), "false_timelines": round(float(np.mean(false)), 4),
                             "p_at_1_before": round(right_before / max(len(false), 1), 4),
                             "p_at_1_after": round(right_after / max(len(false), 1), 4)}
            rows.append(row)
    return {"rows": rows, "toll": {"question": toll["question"], "cosines": toll["cosines"], "lifts": toll["lifts"]}}


def _no_gap(gap: float | None) -> float:
    return float("inf") if gap is None else gap


def _listed(toll: dict, similar: float, gap: float | None) -> int:
    """How many of the rising toll's figures the setting lists."""
    return len(figure_timeline(toll["hits"], toll["reports"], toll["vectors"], toll["lift_values"], similar, _no_gap(gap)))


def _toll(embedder) -> dict:
    """The rising toll as the product finds it for "How many people have died?": its reports, their sentences'
    vectors, their articles' story lifts, and each report's cosine and lift beside the best-scoring one's."""
    question = "How many people have died?"
    with tempfile.TemporaryDirectory() as folder:
        build_index(write_dated_corpus(Path(folder) / "corpus"), Path(folder) / "index", embedder)
        retriever = Retriever.open(Path(folder) / "index", embedder=embedder)
        hits = retriever.search(question, k=STORY_DEPTH)
        found = figure_reports(question, hits)
        lifts = retriever.story_lifts(question, np.array([hits[p].sentence_id for p, _ in found], dtype=np.int64))
        retriever.close()
    vectors = embedder.encode([hits[p].text for p, _ in found])
    anchor = max(range(len(found)), key=lambda i: hits[found[i][0]].score)
    return {"question": question, "hits": hits, "reports": found, "vectors": vectors, "lift_values": lifts.tolist(),
            "cosines": {figure: round(float(vectors[i] @ vectors[anchor]), 3) for i, (_, figure) in enumerate(found)},
            "lifts": {figure: round(float(lifts[i] - lifts[anchor]), 2) for i, (_, figure) in enumerate(found)}}


def _stripped(ranked: list[_Question], squad) -> dict:
    """SQuAD's questions read as naming a time, ranked again with the time phrase (and the preposition before
    it) taken out of the question: P@1 of their first sentence, as asked and stripped."""
    timed = [(q, match) for q in ranked if (match := next(iter(time_phrases(q.question)), None))]
    stripped = [re.sub(r"\s+", " ", re.sub(r"\b(?:in|on|by|since|until|before|after|during|from|of|as of)\s*$", "",
                                          q.question[:m.start()], flags=re.IGNORECASE) + q.question[m.end():]).strip()
                for q, m in timed]
    version = open_version(squad.index_dir)
    retriever = Retriever(version, squad.embedder)
    firsts = []
    for start in range(0, len(stripped), 256):
        batch = stripped[start:start + 256]
        for question, candidates in zip(batch, retriever.candidates(batch)):
            ids, _ = retriever.rank(question, candidates)
            firsts.append(version.metadata.texts(ids[:1])[0] if len(ids) else "")
    retriever.close()
    return {"questions": len(timed), "p_at_1_asked": round(float(np.mean([q.texts[0] in q.golds for q, _ in timed])), 4),
            "p_at_1_stripped": round(float(np.mean([f in q.golds for f, (q, _) in zip(firsts, timed)])), 4)}


def _phrases(squad_questions: Sequence[str]) -> dict:
    """The time phrases read right, the questions without one read as having one, and the cost."""
    right, wrong = 0, []
    started = time.perf_counter()
    asked_period("What happened in January 2012?", TODAY)  # the first parse loads dateparser's data
    first = time.perf_counter() - started
    for question, (start, end) in TIMED:
        period = asked_period(question, TODAY)
        got = (period.start.isoformat() if period and period.start else None,
               period.end.isoformat() if period and period.end else None) if period else "none"
        if got == (start, end):
            right += 1
        else:
            wrong.append({"question": question, "expected": [start, end], "read": got})
    false = [q for q in UNTIMED if asked_period(q, TODAY) is not None]
    unique = list(dict.fromkeys(squad_questions))
    read = [q for q in unique if asked_period(q, TODAY) is not None]
    timed_cost = _cost([q for q, _ in TIMED])
    untimed_cost = _cost([q for q in unique if not time_phrases(q)][:2000], fresh=False)
    return {"timed": len(TIMED), "timed_right": right, "timed_wrong": wrong, "untimed": len(UNTIMED),
            "untimed_read": false, "squad_questions": len(unique), "squad_read": len(read),
            "squad_read_examples": read[:8], "first_parse_ms": round(first * 1000, 1),
            "timed_ms": timed_cost, "untimed_ms": untimed_cost}


def _cost(questions: Sequence[str], fresh: bool = True) -> float:
    """Milliseconds per question, without the cache (each question with a new `today`)."""
    started = time.perf_counter()
    for n, question in enumerate(questions):
        asked_period(question, TODAY + timedelta(days=n + 1000) if fresh else TODAY)
    return round((time.perf_counter() - started) * 1000 / len(questions), 4)


def _product(row: dict) -> bool:
    return row["similar"] == SAME_STORY and row["gap"] == NAMED_GAP


def _markdown(report: dict) -> str:
    def metrics(row: dict, half: str) -> str:
        m = row[half]
        return f"{m['p_at_1']:.4f} / {m['r_at_5']:.4f} / {m['mrr']:.4f}"

    recency = table(("recency margin", "SQuAD 0-23: P@1 / R@5 / MRR", "worst P@1", "questions whose lead changes",
                     "24-47 (held out)", "worst P@1", "lead changes"),
                    [(f"**{row['margin']}** (the product)" if row["margin"] == RECENCY_MARGIN else row["margin"],
                      metrics(row, "0-23"), f"{row['0-23']['worst_p_at_1']:.4f}", f"{row['0-23']['reordered']:.2%}",
                      metrics(row, "24-47"), f"{row['24-47']['worst_p_at_1']:.4f}", f"{row['24-47']['reordered']:.2%}")
                     for row in report["recency"]], "lllrlrr")
    timeline = table(("same-story cosine", "story-lift gap", "false timelines, SQuAD 0-23",
                      "P@1 of those questions: before / after", "24-47 (held out)", "P@1 before / after",
                      "rising toll: reports listed"),
                     [(f"**{row['similar']}**" if _product(row) else row["similar"],
                       f"**{row['gap']}** (the product)" if _product(row) else ("none" if row["gap"] is None else row["gap"]),
                       f"{row['0-23']['false_timelines']:.2%}",
                       f"{row['0-23']['p_at_1_before']:.4f} / {row['0-23']['p_at_1_after']:.4f}",
                       f"{row['24-47']['false_timelines']:.2%}",
                       f"{row['24-47']['p_at_1_before']:.4f} / {row['24-47']['p_at_1_after']:.4f}",
                       f"{row['toll_reports_listed']} of {row['toll_reports']}") for row in report["timeline"]["rows"]],
                     "llrlrlr")
    p = report["phrases"]
    count = report["timeline"]["rows"][0]["0-23"]["questions"], report["timeline"]["rows"][0]["24-47"]["questions"]
    wrong = "; ".join(f"“{w['question']}” read as {w['read']}" for w in p["timed_wrong"]) or "none"
    phrases = table(("time phrases", "figure"), [
        ("questions naming a time, period read right", f"{p['timed_right']} of {p['timed']}"),
        ("questions naming no time, read as naming one", f"{len(p['untimed_read'])} of {p['untimed']}"
                                                         + (f" ({'; '.join(p['untimed_read'])})" if p["untimed_read"] else "")),
        ("SQuAD dev questions read as naming a time", f"{p['squad_read']:,} of {p['squad_questions']:,}"),
        ("cost, a question without time words", f"{p['untimed_ms'] * 1000:.0f} µs"),
        ("cost, a question naming a time (not cached)", f"{p['timed_ms']:.2f} ms"),
        ("cost, the first parse in a process (dateparser loads)", f"{p['first_parse_ms']:.0f} ms")], "lr")
    return (f"{recency}\n\n{timeline}\n\nFigure questions: {count[0]:,} on 0-23, {count[1]:,} on 24-47; the rising "
            f"toll's reports beside its best-scoring one (cosine; story lift minus the best's): "
            + ", ".join(f"{figure} {cosine} ({report['timeline']['toll']['lifts'][figure]:+.2f})"
                        for figure, cosine in report["timeline"]["toll"]["cosines"].items()) + f".\n\n{phrases}\n\n"
            f"SQuAD's {report['stripped']['questions']} questions read as naming a time, ranked with the time phrase "
            f"taken out of the question: P@1 {report['stripped']['p_at_1_asked']:.4f} as asked, "
            f"{report['stripped']['p_at_1_stripped']:.4f} stripped.\n\n"
            f"Time phrases read wrong: {wrong}. SQuAD questions read as naming a time, e.g.: "
            + "; ".join(f"“{q}”" for q in p["squad_read_examples"][:5]) + ".")


if __name__ == "__main__":
    main()
