"""Measure ranking levers on the ReQA protocol, tuned on SQuAD dev articles 0-23, reported on 24-47 and all.

Embeddings are computed once per text recipe and cached (`--cache-dir`), then each lever is
scored with numpy over the whole candidate pool of the article range (exact, no ANN), so the
figures isolate the ranking from the index. Usage (from the project root):

    .venv/bin/python -m benchmarks.research.levers                 # table
    .venv/bin/python -m benchmarks.research.levers --json

The product's own figure for the chosen recipe comes from `newsbot eval`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.squad import squad_records
from newsbot.corpus.terms import sentence_terms, terms
from newsbot.index.embedder import DEFAULT_MODEL, Embedder, load_embedder
from newsbot.retrieval.evaluation.reqa import Query, low_overlap, reqa_metrics, reqa_task
from newsbot.retrieval.features import idf_weights
from newsbot.retrieval.threads import answer_on_one_thread

RANGES = {"0-23 (tuning)": (0, 24), "24-47 (held out)": (24, 48), "all 48": (0, 48)}
WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.7)
LEXICAL_WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.6, 0.8)
CHOSEN_PARAGRAPH_WEIGHT = 0.4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/newsbot-levers"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    answer_on_one_thread()  # as the `newsbot` command does
    records = squad_records()
    if records is None:
        return
    documents, queries = reqa_task(records, "dataset")
    sentences = [(article, sentence) for article, found in documents for sentence in found]
    paragraph_texts: dict[tuple[str, int], str] = {}
    for article, sentence in sentences:
        paragraph_texts.setdefault((article.id, sentence.paragraph), article.paragraphs[sentence.paragraph])
    paragraph_of = {key: row for row, key in enumerate(paragraph_texts)}
    embedder = load_embedder(DEFAULT_MODEL, backend="torch")
    embed = _cached_embedder(embedder, args.cache_dir)
    questions = embed("questions", [q.question for q in queries])
    plain = embed("sentences", [s.text for _, s in sentences])
    titled = embed("title-sentences", [f"{a.title}: {s.text}" for a, s in sentences])
    paragraphs = embed("paragraphs", list(paragraph_texts.values()))
    sentence_paragraph = np.array([paragraph_of[(a.id, s.paragraph)] for a, s in sentences])
    sentence_article = np.array([int(a.id.rsplit("-", 1)[1]) for a, _ in sentences])
    query_article = np.array([n for n, record in enumerate(records) for _ in reqa_task([record], "dataset")[1]])
    texts = np.array([s.text for _, s in sentences], dtype=object)

    rows = []
    for name, vectors in (("sentence", plain), ("title: sentence", titled)):
        for weight in WEIGHTS:
            row = {"lever": f"{name} + {weight} x paragraph" if weight else name}
            for label, (low, high) in RANGES.items():
                pool = np.nonzero((sentence_article >= low) & (sentence_article < high))[0]
                asked = np.nonzero((query_article >= low) & (query_article < high))[0]
                def score(chunk: np.ndarray) -> np.ndarray:
                    q = questions[chunk]
                    return q @ vectors[pool].T + weight * (q @ paragraphs.T)[:, sentence_paragraph[pool]]
                row[label] = _metrics([queries[i] for i in asked], asked, score, texts[pool])
            rows.append(row)
    lexical = _lexical_coverage(queries, sentences)
    paraphrased = np.array(low_overlap(documents, queries))
    slices = {**RANGES, "low-overlap slice": (0, 48)}
    for weight in LEXICAL_WEIGHTS:
        row = {"lever": f"title: sentence + 0.4 x paragraph + {weight} x lexical"}
        for label, (low, high) in slices.items():
            pool = np.nonzero((sentence_article >= low) & (sentence_article < high))[0]
            asked = np.nonzero((query_article >= low) & (query_article < high))[0]
            if label == "low-overlap slice":
                asked = asked[paraphrased[asked]]
            def score(chunk: np.ndarray) -> np.ndarray:
                q = questions[chunk]
                dense = q @ titled[pool].T + CHOSEN_PARAGRAPH_WEIGHT * (q @ paragraphs.T)[:, sentence_paragraph[pool]]
                return dense + weight * lexical[chunk][:, pool]
            row[label] = _metrics([queries[i] for i in asked], asked, score, texts[pool])
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        labels = [label for label in row if label != "lever"]
        print(f"{row['lever']:<52}" + "  ".join(
            f"{label}: {row[label]['p_at_1']:.3f}/{row[label]['r_at_5']:.3f}/{row[label]['mrr']:.3f}"
            for label in labels))
    print("(each range: P@1 / R@5 / MRR)")


def _lexical_coverage(queries: list[Query], sentences: list) -> np.ndarray:
    """queries x sentences: the share of each question's IDF-weighted terms each sentence holds
    (document frequencies over all 48 articles, as an index of them would store)."""
    sets = [sentence_terms(article.title, sentence.text) for article, sentence in sentences]
    frequencies: dict[str, int] = {}
    postings: dict[str, list[int]] = {}
    for row, found in enumerate(sets):
        for term in found:
            frequencies[term] = frequencies.get(term, 0) + 1
            postings.setdefault(term, []).append(row)
    matrix = np.zeros((len(queries), len(sets)), dtype=np.float32)
    for row, query in enumerate(queries):
        weights = idf_weights(terms(query.question), frequencies, len(sets))
        total = sum(weights.values())
        for term, weight in weights.items():
            if total > 0 and term in postings:
                matrix[row, postings[term]] += weight / total
    return matrix


def _metrics(queries: list[Query], asked: np.ndarray, score: Callable[[np.ndarray], np.ndarray],
             texts: np.ndarray) -> dict:
    retrieved = []
    for start in range(0, len(asked), 1000):
        scores = score(asked[start:start + 1000])
        top = np.argsort(-scores, axis=1)[:, :100]
        retrieved.extend(list(texts[row]) for row in top)
    return reqa_metrics(queries, retrieved)


def _cached_embedder(embedder: Embedder, folder: Path) -> Callable[[str, list[str]], np.ndarray]:
    def embed(name: str, texts: list[str]) -> np.ndarray:
        path = folder / f"{name}-{len(texts)}.npy"
        if path.is_file():
            return np.load(path)
        folder.mkdir(parents=True, exist_ok=True)
        vectors = embedder.encode(texts)
        np.save(path, vectors)
        return vectors
    return embed


if __name__ == "__main__":
    main()
