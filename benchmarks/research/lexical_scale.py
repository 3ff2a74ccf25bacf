"""What the lexical candidates' BM25 query costs at a million sentences, by the most sentences a searched term
may have (`retrieval.candidates.LEXICAL_TERM_SENTENCES`).

Writes the product's metadata database (`index.metadata.MetadataWriter`, FTS5 index included) for a
synthetic corpus: articles of 20 sentences of 8-30 terms drawn from a Zipfian vocabulary of 60,000, as
`benchmarks.scale` makes its corpus. Then asks 200 questions of 2-5 terms from the same vocabulary
through `MetadataReader.lexical_candidates` over `rare_terms`, for each limit and with none.

Usage (from the project root; about 3 minutes and 400 MB in --work-dir):

    .venv/bin/python -m benchmarks.research.lexical_scale [--sentences 1000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from newsbot.corpus.article import Article, Sentence
from newsbot.index.metadata import MetadataReader, MetadataWriter
from newsbot.retrieval.candidates import LEXICAL_CANDIDATES, LEXICAL_TERM_SENTENCES, rare_terms
from newsbot.retrieval.evaluation.percentile import percentile

VOCABULARY = 60_000
SENTENCES_PER_ARTICLE = 20
QUESTIONS = 200
LIMITS = (500, LEXICAL_TERM_SENTENCES, 2000, 5000, None)  # None: every term of the question


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/newsbot-lexical-scale"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    zipf = np.cumsum(1 / np.arange(1, VOCABULARY + 1))

    def draw(count: int) -> list[str]:
        return [f"w{i}" for i in np.searchsorted(zipf, rng.random(count) * zipf[-1])]

    args.work_dir.mkdir(parents=True, exist_ok=True)
    path = args.work_dir / "metadata.sqlite"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    frequencies = _write(path, args.sentences, draw, rng)
    written = time.perf_counter() - started
    reader = MetadataReader(path)
    questions = [set(draw(int(rng.integers(2, 6)))) for _ in range(QUESTIONS)]
    rows = []
    for limit in LIMITS:
        times, without = [], 0
        for asked in questions:
            searched = rare_terms(asked, frequencies, most=limit if limit is not None else args.sentences)
            without += not searched
            begun = time.perf_counter()
            reader.lexical_candidates(searched, LEXICAL_CANDIDATES)
            times.append((time.perf_counter() - begun) * 1000)
        rows.append({"most_sentences": limit, "p50_ms": round(percentile(times, 50), 2),
                     "p90_ms": round(percentile(times, 90), 2), "p99_ms": round(percentile(times, 99), 2),
                     "questions_without_terms": without})
    reader.close()
    report = {"sentences": args.sentences, "questions": QUESTIONS, "write_seconds": round(written, 1),
              "megabytes": round(path.stat().st_size / 1e6), "limits": rows}
    print(json.dumps(report, indent=2) if args.json else "\n".join(
        [f"{args.sentences:,} sentences written in {written:.0f} s ({report['megabytes']} MB)"]
        + [f"terms in at most {row['most_sentences'] or 'any number of'} sentences: p50 / p90 / p99 "
           f"{row['p50_ms']} / {row['p90_ms']} / {row['p99_ms']} ms; "
           f"{row['questions_without_terms']} of {QUESTIONS} questions search nothing" for row in rows]))


def _write(path: Path, sentences: int, draw, rng: np.random.Generator) -> Counter[str]:
    """The metadata of `sentences` synthetic sentences; returns their document frequencies."""
    writer = MetadataWriter(path)
    frequencies: Counter[str] = Counter()
    for number in range(0, sentences, SENTENCES_PER_ARTICLE):
        count = min(SENTENCES_PER_ARTICLE, sentences - number)
        found = [set(draw(int(rng.integers(8, 31)))) for _ in range(count)]
        texts = [" ".join(sorted(terms)) for terms in found]
        article = Article(f"a{number}", f"Article {number}", (" ".join(texts),))
        writer.add(article, [Sentence(text, 0, 0, len(text)) for text in texts], found)
        for terms in found:
            frequencies.update(terms)
    writer.close()
    return frequencies


if __name__ == "__main__":
    main()
