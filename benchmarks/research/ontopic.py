"""Questions about a story the index holds but cannot answer: how often the default threshold refuses them.

The out-of-corpus questions of `abstention_sizes.py` are about other articles; a news bot's harder
case is a question on one of its own stories whose answer it lacks. This measures it on SQuAD v1.1
dev through the product's own path (`build_from_documents`, `Retriever.answer_many`): each article
is indexed with its even paragraphs only; the questions of those paragraphs are in corpus, the
questions of its odd paragraphs are on-topic but unanswerable (same names, same subject; a few are
answered elsewhere in the article, so this slightly overstates what a refusal should be). Indexes:
single articles (every fifth of the range), the first 12, and the whole range. For each, the share
of in-corpus questions answered / on-topic questions refused at the default for its size
(`retrieval.confidence.default_min_confidence`) and at fixed thresholds.
Usage (from the project root; a few minutes; --articles 0:24 tunes, 24:48 is held out):

    .venv/bin/python -m benchmarks.research.ontopic [--articles 0:24] [--json]
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from benchmarks.squad import squad_options, squad_records
from newsbot.index import build_from_documents
from newsbot.index.embedder import Embedder, load_embedder
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.abstention import question_confidences
from newsbot.retrieval.evaluation.reqa import reqa_task
from newsbot.retrieval.threads import answer_on_one_thread

THRESHOLDS = (0.2, 0.3, 0.4, 0.6)  # confidences are probabilities (retrieval.confidence)


def main() -> None:
    parser = squad_options(__doc__.splitlines()[0])
    parser.add_argument("--articles", default="0:24", help="FROM:TO, the articles to measure on")
    args = parser.parse_args()
    answer_on_one_thread()  # as the `newsbot` command does
    low, high = map(int, args.articles.split(":"))
    records = squad_records(slice(low, high))
    if records is None:
        return
    embedder = load_embedder(args.model)
    groups = [[record] for record in records[::5]] + [records[:12], records]
    rows = [measure(group, embedder, args.work_dir / "ontopic") for group in groups]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"articles {low}-{high - 1}; each cell: in-corpus answered / on-topic refused")
    for row in rows:
        cells = "  ".join(f"{name} {answered:.3f}/{refused:.3f}" for name, (answered, refused) in row["at"].items())
        print(f"{row['articles']:>2} articles, {row['sentences']:>5} sentences, default {row['default']:.3f}:  {cells}")


def measure(records: list[dict], embedder: Embedder, work_dir: Path) -> dict:
    """Index the even paragraphs of `records`, ask every question, and tally both kinds at each threshold."""
    documents, _ = reqa_task(records, "dataset")
    kept = [(article, [s for s in sentences if s.paragraph % 2 == 0]) for article, sentences in documents]
    shutil.rmtree(work_dir, ignore_errors=True)
    build_from_documents(kept, work_dir, embedder)
    retriever = Retriever.open(work_dir, embedder=embedder)
    inside, outside = (np.array(question_confidences(retriever, _paragraphs(records, parity))[0]) for parity in (0, 1))
    default, sentences = retriever.min_confidence, retriever.manifest.sentences
    retriever.close()
    at = {f"{t:.2f}": (float(np.mean(inside >= t)), float(np.mean(outside < t))) for t in THRESHOLDS}
    return {"articles": len(records), "sentences": sentences, "default": default,
            "at": {"default": (float(np.mean(inside >= default)), float(np.mean(outside < default))), **at}}


def _paragraphs(records: list[dict], parity: int) -> list[dict]:
    """The records with only their even (0) or odd (1) paragraphs, whose questions are asked."""
    return [{**record, "paragraphs": record["paragraphs"][parity::2]} for record in records]


if __name__ == "__main__":
    main()
