"""Users' verdicts as an evaluation set `newsbot eval` scores: the bot's own users become its benchmark.

The set is SQuAD-format JSON Lines (../shared/eval/README.md), one record per article of the current
index, holding every indexed sentence (the candidate pool is the bot's own) with its sentences as
`reqa_sentence_spans`. Each verdict becomes a question in the paragraph of the first sentence its answer
showed: a **helpful** answer's first sentence is the question's gold answer (scored by P@1, R@5, MRR like
any question), a **wrong** answer's first sentence is listed under `"not_first"` with no gold answer
(scored by how often it is still ranked first). A verdict whose sentence is no longer in the index is
left out and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsbot.bot.feedback import HELPFUL, Feedback
from newsbot.index.manifest import METADATA_FILE
from newsbot.index.metadata import MetadataReader, StoredSentence
from newsbot.index.store import current_version

SENTENCE_SEPARATOR = " "


@dataclass(frozen=True)
class Export:
    records: list[dict]
    helpful: int
    wrong: int
    skipped: int  # verdicts whose first sentence is no longer indexed


def evaluation_set(verdicts: Sequence[Feedback], sentences: Iterable[StoredSentence]) -> Export:
    """The verdicts as questions over the indexed `sentences` (all of them, in id order)."""
    records: dict[str, dict] = {}
    paragraphs: dict[tuple[str, int], dict] = {}
    where: dict[tuple[str, str], tuple[dict, int]] = {}  # (article id, sentence) -> (its paragraph, its offset)
    for sentence in sentences:
        article = sentence.article
        record = records.setdefault(article.id, {"id": article.id, "title": article.title, "paragraphs": []})
        paragraph = paragraphs.get((article.id, sentence.paragraph))
        if paragraph is None:
            paragraph = paragraphs[article.id, sentence.paragraph] = {"context": "", "reqa_sentence_spans": [], "qas": []}
            record["paragraphs"].append(paragraph)
        start = len(paragraph["context"]) + (len(SENTENCE_SEPARATOR) if paragraph["context"] else 0)
        paragraph["context"] = SENTENCE_SEPARATOR.join(filter(None, (paragraph["context"], sentence.text)))
        paragraph["reqa_sentence_spans"].append([start, start + len(sentence.text)])
        where.setdefault((article.id, sentence.text), (paragraph, start))
    counts = {HELPFUL: 0, "wrong": 0, "skipped": 0}
    for verdict in verdicts:
        first = verdict.sentences[0] if verdict.sentences else None
        found = where.get((first.article_id, first.text)) if first else None
        if first is None or found is None:
            counts["skipped"] += 1
            continue
        paragraph, start = found
        shown = [{"text": first.text, "answer_start": start}]
        helpful = verdict.verdict == HELPFUL
        paragraph["qas"].append({"id": verdict.answer, "question": verdict.question,
                                 "answers": shown if helpful else [], **({} if helpful else {"not_first": shown}),
                                 "feedback": verdict.verdict, "index_version": verdict.index_version, "at": verdict.at})
        counts[HELPFUL if helpful else "wrong"] += 1
    return Export(list(records.values()), counts[HELPFUL], counts["wrong"], counts["skipped"])


def indexed_sentences(index_dir: Path) -> list[StoredSentence]:
    """Every sentence of the index folder's current version (checksums verified), in id order; no model needed."""
    reader = MetadataReader(current_version(index_dir) / METADATA_FILE)
    try:  # in batches: SQLite bounds the number of parameters of one query
        return [sentence for start in range(0, reader.sentence_count, 10_000)
                for sentence in reader.sentences(range(start, min(start + 10_000, reader.sentence_count)))]
    finally:
        reader.close()


def jsonl(records: Sequence[dict]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
