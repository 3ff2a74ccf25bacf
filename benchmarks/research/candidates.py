"""How many candidates to propose: `SENTENCE_CANDIDATES`, `PARAGRAPH_CANDIDATES` and `LEXICAL_CANDIDATES` measured.

Indexes the 48 SQuAD v1.1 dev articles with the dataset's sentences (the index `benchmarks/research/ranker.py`
leaves in --work-dir, or builds it), encodes every question once, then for each setting asks every
question through the product's own steps (the lexical candidates by BM25,
`retrieval.candidates.find_candidates`, `retrieval.features.feature_matrix`, `scores`), one question at a
time as users ask, and reports: how often the gold sentence is among the candidates (the ceiling on R@k),
P@1 / R@5 / MRR of the product's ranking, the same on the low-overlap slice and on the questions of articles
0-23 (to tune on) and 24-47 (held out), the candidates per question and the time the steps after encoding
take. The product's setting reproduces `newsbot eval`'s figures.

Usage (from the project root; about 15 minutes on 2 cores with the index built; `--lexical` sweeps only
LEXICAL_CANDIDATES, about 5):

    .venv/bin/python -m benchmarks.research.candidates [--lexical] [--json]
"""

from __future__ import annotations

import json
import time

import numpy as np

from benchmarks.squad import indexed_squad, squad_options
from newsbot.retrieval.evaluation.percentile import percentile
from newsbot.index.version import open_version
from newsbot.corpus.terms import terms
from newsbot.retrieval.candidates import (LEXICAL_CANDIDATES, PARAGRAPH_CANDIDATES, SENTENCE_CANDIDATES, find_candidates,
                                         rare_terms)
from newsbot.retrieval.evaluation.reqa import TOP_K, low_overlap, reqa_metrics, reqa_task
from newsbot.retrieval.features import feature_matrix, scores
from newsbot.retrieval.retriever import clean_question

SENTENCE_SETTINGS = (25, 50, 100, 200, 400)  # with PARAGRAPH_CANDIDATES
PARAGRAPH_SETTINGS = (0, 5, 20, 40)  # with SENTENCE_CANDIDATES
LEXICAL_SETTINGS = (0, 10, 20, 50, 100)  # with both
TUNING_ARTICLES = 24  # the questions of the first articles tune; the rest are held out


def main() -> None:
    parser = squad_options(__doc__.splitlines()[0])
    parser.add_argument("--lexical", action="store_true", help="sweep only LEXICAL_CANDIDATES")
    args = parser.parse_args()
    squad = indexed_squad(args)
    if squad is None:
        return
    queries, embedder = squad.queries, squad.embedder
    version = open_version(squad.index_dir)
    texts = version.metadata.texts(range(version.manifest.sentences))
    questions = list(dict.fromkeys(clean_question(q.question) for q in queries))
    vectors = dict(zip(questions, embedder.encode(questions)))
    paraphrased = low_overlap(squad.documents, queries)
    frequencies = version.document_frequencies
    tuning = {q.question for q in reqa_task(squad.records[:TUNING_ARTICLES], "dataset")[1]}
    settings = [(SENTENCE_CANDIDATES, PARAGRAPH_CANDIDATES, n) for n in LEXICAL_SETTINGS]
    if not args.lexical:
        settings += [(s, PARAGRAPH_CANDIDATES, LEXICAL_CANDIDATES) for s in SENTENCE_SETTINGS]
        settings += [(SENTENCE_CANDIDATES, p, LEXICAL_CANDIDATES) for p in PARAGRAPH_SETTINGS]
    rows = []
    for sentences, paragraphs, lexical in sorted(set(settings)):
        ranked, sizes, times = {}, [], []
        for question in questions:
            started = time.perf_counter()
            by_words = version.metadata.lexical_candidates(rare_terms(terms(question), frequencies), lexical)
            [candidates] = find_candidates(vectors[question][None], version.sentences, version.paragraphs,
                                           version.paragraph_vectors, version.sentence_paragraphs, [by_words],
                                           sentence_candidates=sentences, paragraph_candidates=paragraphs)
            order = np.argsort(-scores(feature_matrix(question, candidates, version)), kind="stable")
            times.append((time.perf_counter() - started) * 1000)
            ranked[question] = [texts[i] for i in candidates.ids[order]]
            sizes.append(len(candidates.ids))
        retrieved = [ranked[clean_question(q.question)] for q in queries]
        rows.append({"sentence_candidates": sentences, "paragraph_candidates": paragraphs,
                     "lexical_candidates": lexical, "gold_among_candidates": _gold_share(queries, retrieved),
                     **reqa_metrics(queries, [r[:TOP_K] for r in retrieved]),
                     "low_overlap": _metrics(queries, retrieved, paraphrased),
                     "tuning": _metrics(queries, retrieved, [q.question in tuning for q in queries]),
                     "held_out": _metrics(queries, retrieved, [q.question not in tuning for q in queries]),
                     "candidates_p50": int(np.median(sizes)), "steps_p50_ms": round(percentile(times, 50), 2)})
        if not args.json:
            _print(rows[-1])
    version.close()
    if args.json:
        print(json.dumps({"product": [SENTENCE_CANDIDATES, PARAGRAPH_CANDIDATES, LEXICAL_CANDIDATES],
                          "settings": rows}, indent=2))


def _metrics(queries: list, retrieved: list[list[str]], chosen: list[bool]) -> dict:
    """P@1 / R@5 / MRR of the chosen queries."""
    pairs = [(q, r[:TOP_K]) for q, r, wanted in zip(queries, retrieved, chosen) if wanted]
    return reqa_metrics([q for q, _ in pairs], [r for _, r in pairs])


def _gold_share(queries: list, retrieved: list[list[str]]) -> float:
    """The share of unique questions with a gold sentence among their candidates."""
    found: dict[str, bool] = {}
    for query, texts in zip(queries, retrieved):
        found[query.question] = found.get(query.question, False) or query.gold in texts
    return round(sum(found.values()) / len(found), 4)


def _print(row: dict) -> None:
    low, tuning, held_out = row["low_overlap"], row["tuning"], row["held_out"]
    print(f"sentences {row['sentence_candidates']:>3}, paragraphs {row['paragraph_candidates']:>2}, "
          f"lexical {row['lexical_candidates']:>3}: gold among candidates {row['gold_among_candidates']:.3f}; "
          f"P@1 / R@5 / MRR {row['p_at_1']:.3f} / {row['r_at_5']:.3f} / {row['mrr']:.3f}; "
          f"low-overlap {low['p_at_1']:.3f} / {low['r_at_5']:.3f} / {low['mrr']:.3f}; "
          f"articles 0-23 {tuning['p_at_1']:.3f} / {tuning['r_at_5']:.3f} / {tuning['mrr']:.3f}; "
          f"24-47 {held_out['p_at_1']:.3f} / {held_out['r_at_5']:.3f} / {held_out['mrr']:.3f}; "
          f"{row['candidates_p50']} candidates, {row['steps_p50_ms']} ms p50", flush=True)


if __name__ == "__main__":
    main()
