"""`newsbot eval`: the ReQA figures, the abstention split and the answer spans of a SQuAD-format file.

The candidates are indexed and searched through the product's own path (`build_from_documents`
and `Retriever.search_many`), so the figures are those of what users get.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from newsbot.index import Embedder, ProgressCallback
from newsbot.index.stores import Store
from newsbot.retrieval.evaluation.abstention import abstention_split
from newsbot.retrieval.evaluation.indexing import index_and_open
from newsbot.retrieval.evaluation.followups import Search, followup_report, followup_task
from newsbot.retrieval.evaluation.reqa import SEGMENTATIONS, TOP_K, load_squad, low_overlap, reqa_metrics, reqa_task
from newsbot.retrieval.evaluation.rejected import rejected_metrics, rejected_questions
from newsbot.retrieval.evaluation.spans import span_metrics
from newsbot.retrieval.retriever import Retriever

Progress = ProgressCallback  # (stage, done, total), for the builds and the searches alike


def evaluate(records: Sequence[dict], embedder: Embedder, *, segmentations: Sequence[str] = SEGMENTATIONS,
             work_dir: Path | None = None, progress: Progress | None = None,
             store: Store | None = None) -> dict[str, object]:
    """Index the candidates and run every query, for each segmentation asked for; through `store` when given
    (`index_and_open`)."""
    results: dict[str, object] = {}
    followups: dict[str, object] | None = None
    first: dict[str, str] = {}  # each question's sentence ranked first, with the dataset's boundaries
    rejected, rejected_report = rejected_questions(records), None
    with tempfile.TemporaryDirectory(prefix="newsbot-eval-") as scratch:
        for segmentation in segmentations:
            documents, queries = reqa_task(records, segmentation)
            index_dir = Path(work_dir or scratch) / segmentation
            started = time.perf_counter()
            retriever = index_and_open(documents, index_dir, embedder,
                                       _build_stages(progress, f"index ({segmentation})"), store)
            indexed = time.perf_counter() - started
            started = time.perf_counter()
            retrieved = _search_all(retriever, [q.question for q in queries],
                                    _stage(progress, f"searching ({segmentation})"))
            searched = time.perf_counter() - started
            if segmentation == "dataset":
                first = {q.question: texts[0] for q, texts in zip(queries, retrieved) if texts}
                if rejected:
                    tops = _search_all(retriever, [case.question for case in rejected], None, k=1)
                    rejected_report = rejected_metrics(rejected, [texts[0] if texts else None for texts in tops])
                # the follow-ups' gold sentences have the dataset's boundaries
                followups = followup_report(followup_task(records), _top_sentences(retriever), len(records))
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
                                      _build_stages(progress, "index (abstention)"), store)
    return {"model": embedder.name, "articles": len(records), "top_k": TOP_K, "segmentations": results,
            "abstention": abstention, "followups": followups,
            "rejected": rejected_report,  # questions users marked wrong (an exported feedback set), else None
            "spans": span_metrics(records, first=first if "dataset" in segmentations else None)}


def evaluate_file(path: Path, embedder: Embedder, *, segmentations: Sequence[str] = SEGMENTATIONS,
                  articles: slice | None = None, work_dir: Path | None = None,
                  progress: Progress | None = None, store: Store | None = None) -> dict[str, object]:
    records = load_squad(path, articles)
    report = evaluate(records, embedder, segmentations=segmentations, work_dir=work_dir, progress=progress,
                      store=store)
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
    if report.get("rejected"):
        rejected = report["rejected"]
        lines.append(f"answers users marked wrong ({rejected['questions']} questions, gold: the sentence must not come "
                     f"first): the rejected sentence is still ranked first for {rejected['ranked_first_again']} "
                     f"({rejected['share_ranked_first_again']:.1%}); the questions rated helpful are scored above "
                     "(gold: the sentence shown first)")
    if report.get("followups"):
        lines.extend(followup_lines(report["followups"]))
    lines += _span_lines(report["spans"])
    return "\n".join(lines)


def _span_lines(spans: dict) -> list[str]:
    """The answer spans shown, in the gold sentence and in the one ranked first, and each kind's precision."""
    lines = []
    for where, row in (("the gold sentence", spans), ("the sentence ranked first", spans.get("first_ranked"))):
        if row:
            lines.append(f"answer spans in {where} ({row['questions']} questions): shown for {row['coverage']:.1%}, "
                         f"right (token F1 >= {row['right_f1']}) {row['precision_offered']:.1%}; EM "
                         f"{row['em_offered']:.3f}, F1 {row['f1_offered']:.3f} over shown; EM {row['em_all']:.3f}, "
                         f"F1 {row['f1_all']:.3f} over all")
    lines.append(f"{'answer kind':<12}{'questions':>10}{'found':>7}{'right':>7}"
                 f"{'first-ranked right' if 'first_ranked' in spans else '':>20}  shown")
    for kind, row in spans["kinds"].items():
        ranked = spans.get("first_ranked", {}).get("kinds", {}).get(kind)
        first = f"{ranked['precision']:.3f} of {ranked['found']}" if ranked else ""
        lines.append(f"{kind:<12}{row['questions']:>10}{row['found']:>7}{row['precision']:>7.3f}{first:>20}  "
                     f"{'yes' if row['offered'] else 'no'}")
    return lines


def _search_all(retriever: Retriever, questions: list[str], progress: Callable[[int, int], None] | None,
                batch: int = 256, k: int = TOP_K) -> list[list[str]]:
    retrieved: list[list[str]] = []
    for start in range(0, len(questions), batch):
        hits = retriever.search_many(questions[start:start + batch], k=k)
        retrieved.extend([hit.text for hit in row] for row in hits)
        if progress:
            progress(len(retrieved), len(questions))
    return retrieved


def followup_lines(followups: dict) -> list[str]:
    """The follow-up benchmark's P@1, over all articles and each half."""
    lines = [f"follow-ups (P@1): {'articles':<10}{'questions':>10}{'rewritten':>11}{'+history':>10}{'original':>10}"
             f"{'+earlier':>10}{'+unrelated':>11}"]
    half = followups["half"]
    for name, label in (("all", "all"), ("first_half", f"0-{half - 1}"), ("second_half", f"{half}-")):
        row = followups[name]
        lines.append(f"{'':<19}{label:<10}{row['questions']:>10}{row['rewritten_alone']:>11.3f}"
                     f"{row['rewritten_after_earlier']:>10.3f}{row['original_alone']:>10.3f}"
                     f"{row['original_after_earlier']:>10.3f}{row['original_after_unrelated']:>11.3f}")
    return lines


def _top_sentences(retriever: Retriever, batch: int = 256) -> Search:
    """Each question's top sentence after its history, through the product's batch search."""
    def search(questions: list[str], histories: list[tuple[str, ...]]) -> list[str]:
        tops = []
        for start in range(0, len(questions), batch):
            found = retriever.search_many(questions[start:start + batch], 1, histories[start:start + batch])
            tops.extend(row[0].text if row else "" for row in found)
        return tops
    return search


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    return (lambda done, total: progress(stage, done, total)) if progress else None


def _build_stages(progress: Progress | None, doing: str) -> Progress | None:
    """A build's stages ("reading", "embedding", "indexing") named after what the build is for."""
    return (lambda stage, done, total: progress(f"{doing}: {stage}", done, total)) if progress else None
