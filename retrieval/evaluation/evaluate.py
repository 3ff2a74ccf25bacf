"""`newsbot eval`: the ReQA figures, the abstention split and the answer spans of a SQuAD-format file.

The candidates are indexed and searched through the product's own path (`build_from_documents`
and `Retriever.search_many`), so the figures are those of what users get.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from newsbot.index import Embedder, ProgressCallback, build_from_documents
from newsbot.retrieval.evaluation.abstention import abstention_split
from newsbot.retrieval.evaluation.reqa import SEGMENTATIONS, TOP_K, load_squad, low_overlap, reqa_metrics, reqa_task
from newsbot.retrieval.evaluation.spans import span_metrics
from newsbot.retrieval.retriever import Retriever

Progress = ProgressCallback  # (stage, done, total), for the builds and the searches alike


def evaluate(records: Sequence[dict], embedder: Embedder, *, segmentations: Sequence[str] = SEGMENTATIONS,
             work_dir: Path | None = None, progress: Progress | None = None) -> dict[str, object]:
    """Index the candidates and run every query, for each segmentation asked for."""
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="newsbot-eval-") as scratch:
        for segmentation in segmentations:
            documents, queries = reqa_task(records, segmentation)
            index_dir = Path(work_dir or scratch) / segmentation
            started = time.perf_counter()
            build_from_documents(documents, index_dir, embedder,
                                 progress=_build_stages(progress, f"index ({segmentation})"))
            indexed = time.perf_counter() - started
            retriever = Retriever.open(index_dir, embedder=embedder)
            started = time.perf_counter()
            retrieved = _search_all(retriever, [q.question for q in queries],
                                    _stage(progress, f"searching ({segmentation})"))
            searched = time.perf_counter() - started
            retriever.close()
            paraphrased = low_overlap(documents, queries)
            results[segmentation] = {
                **reqa_metrics(queries, retrieved),
                "low_overlap": reqa_metrics([q for q, low in zip(queries, paraphrased) if low],
                                            [r for r, low in zip(retrieved, paraphrased) if low]),
                "candidates": sum(len(sentences) for _, sentences in documents),
                "pairs": len(queries),
                "index_seconds": round(indexed, 1),
                "search_seconds": round(searched, 1),
            }
        abstention = abstention_split(records, embedder, Path(work_dir or scratch) / "abstention",
                                      _build_stages(progress, "index (abstention)"))
    return {"model": embedder.name, "articles": len(records), "top_k": TOP_K, "segmentations": results,
            "abstention": abstention,
            "spans": span_metrics(records)}  # answer spans inside the gold sentence: no model, dataset boundaries


def evaluate_file(path: Path, embedder: Embedder, *, segmentations: Sequence[str] = SEGMENTATIONS,
                  articles: slice | None = None, work_dir: Path | None = None,
                  progress: Progress | None = None) -> dict[str, object]:
    records = load_squad(path, articles)
    report = evaluate(records, embedder, segmentations=segmentations, work_dir=work_dir, progress=progress)
    return {"dataset": str(path), **report}


def format_report(report: dict) -> str:
    """A small table for people."""
    lines = [f"{report['dataset']}: {report['articles']} articles, model {report['model']}",
             f"{'boundaries':<12}{'candidates':>11}{'questions':>10}{'P@1':>8}{'R@5':>8}{'MRR':>8}"]
    for name, row in report["segmentations"].items():
        lines.append(f"{name:<12}{row['candidates']:>11}{row['questions']:>10}"
                     f"{row['p_at_1']:>8.3f}{row['r_at_5']:>8.3f}{row['mrr']:>8.3f}")
    for name, row in report["segmentations"].items():
        low = row["low_overlap"]
        lines.append(f"{name:<12}{'low-overlap':>11}{low['questions']:>10}"
                     f"{low['p_at_1']:>8.3f}{low['r_at_5']:>8.3f}{low['mrr']:>8.3f}")
    if report["abstention"]:
        point, default = report["abstention"]["operating_point"], report["abstention"]["default_threshold"]
        lines.append(f"abstention (index the first {report['abstention']['indexed_articles']} articles, ask all): "
                     f"refusing {point['out_of_corpus_refused']:.0%} of out-of-corpus questions needs threshold "
                     f"{point['threshold']:.2f} and answers {point['in_corpus_answered']:.1%} of in-corpus ones; "
                     f"the default for its {report['abstention']['indexed_sentences']:,} sentences, "
                     f"{default['threshold']:.2f}, answers {default['in_corpus_answered']:.1%} and refuses "
                     f"{default['out_of_corpus_refused']:.1%}")
        lines.append(f"  of which sure (confidence >= {default['sure_threshold']:.2f}): {default['in_corpus_sure']:.1%} "
                     f"of in-corpus questions ({default['in_corpus_sure_and_right']:.1%} with a right top sentence), "
                     f"{default['out_of_corpus_sure']:.1%} of out-of-corpus ones")
        lines.append("  in-corpus questions by word overlap with their answer (quintiles, lowest first): "
                     "answered / sure; among those ranked right")
        lines += [f"    overlap {band['overlap_from']:.2f}-{band['overlap_to']:.2f} ({band['questions']} questions): "
                  f"{band['answered']:.1%} / {band['sure']:.1%}; {band['answered_when_right']:.1%} / "
                  f"{band['sure_when_right']:.1%}" for band in report["abstention"]["overlap_bands"]]
    spans = report["spans"]
    lines.append(f"answer spans in the gold sentence ({spans['questions']} questions): coverage "
                 f"{spans['coverage']:.3f}; EM {spans['em_offered']:.3f}, F1 {spans['f1_offered']:.3f} over offered; "
                 f"EM {spans['em_all']:.3f}, F1 {spans['f1_all']:.3f} over all")
    return "\n".join(lines)


def _search_all(retriever: Retriever, questions: list[str], progress: Callable[[int, int], None] | None,
                batch: int = 256) -> list[list[str]]:
    retrieved: list[list[str]] = []
    for start in range(0, len(questions), batch):
        hits = retriever.search_many(questions[start:start + batch], k=TOP_K)
        retrieved.extend([hit.text for hit in row] for row in hits)
        if progress:
            progress(len(retrieved), len(questions))
    return retrieved


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    return (lambda done, total: progress(stage, done, total)) if progress else None


def _build_stages(progress: Progress | None, doing: str) -> Progress | None:
    """A build's stages ("reading", "embedding", "indexing") named after what the build is for."""
    return (lambda stage, done, total: progress(f"{doing}: {stage}", done, total)) if progress else None
