"""The same index version searched from its files and from Milvus Lite: do the two stores rank alike?

SQuAD v1.1 dev (ReQA, the dataset's sentences, as `newsbot eval`), articles FIRST to LAST, indexed once with
the configured model; the version is copied into Milvus Lite (`index.milvus_store`) and every question is
searched through both (`Retriever.search_many`, k=5). Prints each store's P@1/R@5/MRR, its cost per question
(encoding included) and how many questions got the same top 5 (ids, and scores to 1e-5).

    .venv/bin/python -m benchmarks.research.store_equivalence [FIRST LAST] [--work-dir DIR]

Needs the `milvus` extra. Measured here (all 48 articles, 10,250 sentences, 11,426 questions): identical top 5
for every question, P@1 0.7422, R@5 0.9319, MRR 0.8198 from both; 4.6 ms a question from the files, 50 ms
from Milvus Lite (2 cores shared with other jobs).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.quality import ROOT
from newsbot.index import build_from_documents, default_model, load_embedder
from newsbot.index.milvus_store import collection_prefix, connect, open_milvus_version, write_version
from newsbot.index.stores import MilvusLiteStore
from newsbot.index.version import open_version
from newsbot.retrieval import Hit, Retriever
from newsbot.retrieval.evaluation.reqa import load_squad, reqa_metrics, reqa_task

SQUAD_DEV = ROOT.parent / "shared" / "eval" / "squad_v1.1_dev.jsonl"
BATCH = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", nargs="?", type=int, default=0)
    parser.add_argument("last", nargs="?", type=int, default=48)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsbot-stores-") as scratch:
        work = args.work_dir or Path(scratch)
        documents, queries = reqa_task(load_squad(SQUAD_DEV, slice(args.first, args.last)), "dataset")
        embedder = load_embedder(default_model())
        build_from_documents(documents, work / "index", embedder)
        files = open_version(work / "index")
        client = connect(MilvusLiteStore(work / "milvus" / "newsbot.db"))
        started = time.perf_counter()
        write_version(client, files, collection_prefix(files.folder.name))
        print(f"copied {files.manifest.sentences} sentences into Milvus Lite in {time.perf_counter() - started:.1f} s")
        client.close()
        milvus = open_milvus_version(connect(MilvusLiteStore(work / "milvus" / "newsbot.db")))
        questions = [query.question for query in queries]
        ranked = {}
        for name, version in (("files", files), ("milvus", milvus)):
            started = time.perf_counter()
            ranked[name] = _search(Retriever(version, embedder), questions)
            cost = 1000 * (time.perf_counter() - started) / len(questions)
            print(name, reqa_metrics(queries, [[hit.text for hit in hits] for hits in ranked[name]]),
                  f"{cost:.1f} ms a question (encoding included)")
            version.close()
        same = sum(_top(a) == _top(b) for a, b in zip(ranked["files"], ranked["milvus"]))
        print(f"the same top 5 (ids, scores to 1e-5): {same} of {len(questions)} questions")


def _search(retriever: Retriever, questions: list[str]) -> list[list[Hit]]:
    return [hits for start in range(0, len(questions), BATCH)
            for hits in retriever.search_many(questions[start:start + BATCH], k=5)]


def _top(hits: list[Hit]) -> list[tuple[int, float]]:
    return [(hit.sentence_id, round(hit.score, 5)) for hit in hits]


if __name__ == "__main__":
    main()
