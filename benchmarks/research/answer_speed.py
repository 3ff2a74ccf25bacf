"""What the reranker costs: one question answered in a warm process vs dense search alone, SQuAD dev scale.

Both paths run on the same index (the 10,250 SQuAD dev sentences with the dataset's boundaries)
and the same questions, interleaved question by question so machine load hits both alike:
- encoding alone: the question's vector, the floor under both;
- dense search alone: encode the question, FAISS top 5, read those 5 sentences;
- answer: `Retriever.answer` (candidates, features, reranking, confidence, answer span), and the same
  without the lexical candidates (`retrieval.candidates.LEXICAL_CANDIDATES` set to 0), to show their cost;
- a follow-up alone, and after its earlier question (`retrieval.evaluation.followups`: "Where did it take
  place?" after "Which NFL team represented the AFC at Super Bowl 50?"): embedded with it (the budget: 2 x).
Usage (from the project root): `.venv/bin/python -m benchmarks.research.answer_speed [--json]`
"""

from __future__ import annotations

import json
import time
from unittest.mock import patch

from benchmarks.squad import indexed_squad, squad_options
from newsbot.index.manifest import METADATA_FILE, VECTORS_FILE
from newsbot.index.metadata import MetadataReader
from newsbot.index.vectors import load_vectors, search_vectors
import newsbot.retrieval.retriever as retriever_module
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.followups import followup_task
from newsbot.retrieval.evaluation.percentile import percentile
from newsbot.retrieval.threads import answer_on_one_thread



def main() -> None:
    parser = squad_options(__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    answer_on_one_thread()  # as the `newsbot` command does
    squad = indexed_squad(args)
    if squad is None:
        return
    embedder, queries = squad.embedder, squad.queries
    retriever = Retriever.open(squad.index_dir, embedder=embedder)
    vectors = load_vectors(retriever.version_dir / VECTORS_FILE, dimension=retriever.manifest.dimension,
                           count=retriever.manifest.sentences)
    metadata = MetadataReader(retriever.version_dir / METADATA_FILE)

    def dense(question: str) -> None:
        _, ids = search_vectors(vectors, embedder.encode([question]), 5)
        metadata.sentences([int(i) for i in ids[0]])

    questions = list(dict.fromkeys(q.question for q in queries))[::7][:args.questions]
    followups = followup_task(squad.records)
    followups = followups[::max(1, len(followups) // args.questions)][:args.questions]
    for question in questions[:20]:  # warm up both paths
        dense(question)
        retriever.answer(question)
    def encode(question: str) -> None:
        embedder.encode([question])

    def without_lexical(question: str) -> None:
        with patch.object(retriever_module, "LEXICAL_CANDIDATES", 0):
            retriever.answer(question)

    paths = (("encoding alone", encode), ("dense search alone", dense), ("answer (reranked)", retriever.answer),
             ("answer without lexical candidates", without_lexical))
    follow_up_paths = (("a follow-up alone", lambda f: retriever.answer(f.rewritten)),
                       ("a follow-up after its earlier question", lambda f: retriever.answer(f.rewritten, history=[f.earlier])))
    times: dict[str, list[float]] = {name: [] for name, _ in (*paths, *follow_up_paths)}
    for question, followup in zip(questions, followups):
        for name, run in paths:
            started = time.perf_counter()
            run(question)
            times[name].append(1000 * (time.perf_counter() - started))
        for name, ask in follow_up_paths:
            started = time.perf_counter()
            ask(followup)
            times[name].append(1000 * (time.perf_counter() - started))
    figures = {name: {"p50_ms": round(percentile(ms, 50), 2), "p99_ms": round(percentile(ms, 99), 2)}
               for name, ms in times.items()}
    figures["ratio_p50"] = round(figures["answer (reranked)"]["p50_ms"] / figures["dense search alone"]["p50_ms"], 2)
    figures["lexical_ratio_p50"] = round(figures["answer (reranked)"]["p50_ms"]
                                         / figures["answer without lexical candidates"]["p50_ms"], 2)
    figures["history_ratio_p50"] = round(figures["a follow-up after its earlier question"]["p50_ms"]
                                         / figures["a follow-up alone"]["p50_ms"], 2)
    report = {"model": embedder.name, "sentences": retriever.manifest.sentences, "questions": len(questions),
              **figures}
    print(json.dumps(report, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))


if __name__ == "__main__":
    main()
