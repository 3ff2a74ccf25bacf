"""The same evaluation indexes searched from the files and from Milvus Lite: do the two stores rank alike?

SQuAD v1.1 dev (ReQA, the dataset's sentences, as `newsbot eval`), articles FIRST to LAST, indexed once per
index choice with the configured model and opened through each store as `newsbot eval --store` does
(`retrieval.evaluation.indexing.index_and_open`: the files; the version published to Milvus Lite and read
back). Every question is searched through both (`Retriever.search_many`, k=5). For each index choice and store:
P@1/R@5/MRR, the cost per question (encoding included) and how many questions got the same top 5 sentences as
from the files. The index choices: the product's at this size (exact below 20,000 sentences), and IVF,SQ8
forced by a lower `exact_up_to` (`index.vectors.plan_index`), which FAISS and Milvus train and quantise each
their own way.

    .venv/bin/python -m benchmarks.research.store_equivalence [FIRST LAST] [--exact-up-to 20000,2000]
        [--work-dir DIR] [--write-docs]

Needs the `milvus` extra. `--write-docs` writes the table into docs/SCALING.md (block store-equivalence).
"""

from __future__ import annotations

import argparse
import os
import shlex
import tempfile
import time
from pathlib import Path

from benchmarks.quality import ROOT
from benchmarks.report import provenance, table, write_block
from benchmarks.stats import machine
from newsbot.index import default_model, load_embedder
from newsbot.index.stores import FilesStore, MilvusLiteStore, Store
from newsbot.retrieval import Retriever
from newsbot.retrieval.evaluation.indexing import index_and_open
from newsbot.retrieval.evaluation.reqa import load_squad, reqa_metrics, reqa_task

SQUAD_DEV = ROOT.parent / "shared" / "eval" / "squad_v1.1_dev.jsonl"
BATCH = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", nargs="?", type=int, default=0)
    parser.add_argument("last", nargs="?", type=int, default=48)
    parser.add_argument("--exact-up-to", default="20000,2000", help="index choices: `plan_index`'s exact_up_to")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the indexes (and embeddings) here")
    parser.add_argument("--write-docs", action="store_true", help="write the table into docs/SCALING.md")
    args = parser.parse_args()
    started_machine = machine()
    with tempfile.TemporaryDirectory(prefix="newsbot-stores-") as scratch:
        work = args.work_dir or Path(scratch)
        documents, queries = reqa_task(load_squad(SQUAD_DEV, slice(args.first, args.last)), "dataset")
        embedder = load_embedder(default_model())
        questions = [query.question for query in queries]
        rows = []
        for exact_up_to in (int(value) for value in args.exact_up_to.split(",")):
            index_dir = work / f"index-{exact_up_to}"
            stores: list[tuple[str, Store]] = [("files", FilesStore()),
                                               ("Milvus Lite", MilvusLiteStore(work / f"milvus-{exact_up_to}.db"))]
            tops = {}
            for name, store in stores:
                retriever = index_and_open(documents, index_dir, embedder, store=store, exact_up_to=exact_up_to)
                started = time.perf_counter()
                tops[name] = _search(retriever, questions)
                cost = 1000 * (time.perf_counter() - started) / len(questions)
                manifest = retriever.manifest
                retriever.close()
                figures = reqa_metrics(queries, tops[name])
                same = sum(a == b for a, b in zip(tops["files"], tops[name]))
                rows.append((f"{manifest.faiss_factory} (nprobe {manifest.faiss_search.get('nprobe', '-')}), "
                             f"paragraphs {manifest.paragraph_faiss_factory}", name, f"{figures['p_at_1']:.4f}",
                             f"{figures['r_at_5']:.4f}", f"{figures['mrr']:.4f}", f"{cost:.1f}",
                             f"{same:,} of {len(questions):,}"))
                print(" | ".join(rows[-1]), flush=True)
    sentences = sum(len(sentences) for _, sentences in documents)
    text = (f"SQuAD v1.1 dev articles {args.first}-{args.last - 1} ({sentences:,} sentences, {len(questions):,} "
            "questions, the dataset's sentences):\n\n"
            + table(("sentence index", "store", "P@1", "R@5", "MRR", "ms a question", "same top 5 as the files"),
                     rows, "llrrrrr"))
    print(text)
    if args.write_docs:
        command = shlex.join(["python", "-m", "benchmarks.research.store_equivalence", str(args.first),
                              str(args.last), "--exact-up-to", args.exact_up_to, "--write-docs"])
        write_block(ROOT / "docs" / "SCALING.md", "store-equivalence",
                    f"{provenance(command, started_machine, os.getloadavg())}\n\n{text}")


def _search(retriever: Retriever, questions: list[str]) -> list[list[str]]:
    return [[hit.text for hit in hits] for start in range(0, len(questions), BATCH)
            for hits in retriever.search_many(questions[start:start + BATCH], k=5)]


if __name__ == "__main__":
    main()
