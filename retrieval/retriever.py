"""Question in, ranked answer sentences out: the one answer path shared by the CLI, the chat and the bot."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from corpus.terms import terms
from index import default_index_dir
from index.embedder import Embedder, canonical_model_name, default_model, load_embedder
from index.errors import IndexIncompatible
from index.lexicon import load_document_frequencies
from index.manifest import METADATA_FILE, VECTORS_FILE, Manifest, read_manifest
from index.metadata import ArticleInfo, MetadataReader, StoredSentence
from index.store import current_version
from index.vectors import load_paragraphs, load_vectors
from retrieval.lexical import LEXICAL_WEIGHT, coverage, term_weights
from retrieval.ranking import rank_sentences
from retrieval.span import AnswerSpan, find_answer_span

RERANK_DEPTH = 100  # dense candidates that lexical evidence may reorder

MAX_QUESTION_CHARS = 1000
DEFAULT_MIN_SCORE = 0.29
NOT_FOUND = "I found nothing in my articles that answers that."
EMPTY_QUESTION = "Please ask a question in words, for example: How many people have died?"


@dataclass(frozen=True)
class Hit:
    """One answer sentence, its similarity to the question, and the article to cite.

    `answer` marks the part of the sentence that answers the question: set on an answer's top hit
    when found with confidence (`retrieval.span`), else None.
    """

    text: str
    score: float
    article: ArticleInfo
    sentence_id: int
    paragraph: int
    start: int
    end: int
    answer: AnswerSpan | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of `newsbot ask --json`."""
        article = self.article
        return {
            "text": self.text, "score": round(self.score, 4), "sentence_id": self.sentence_id,
            "paragraph": self.paragraph, "start": self.start, "end": self.end,
            "article": {"id": article.id, "title": article.title, "source": article.source,
                        "published": article.published.isoformat() if article.published else None,
                        "url": article.url},
            "answer": ({"text": self.answer.text, "start": self.answer.start, "end": self.answer.end,
                        "kind": self.answer.kind} if self.answer else None),
        }


@dataclass(frozen=True)
class Answer:
    """The best evidence for a question, or an explicit not-found with the reason in `message`."""

    question: str
    found: bool
    hits: tuple[Hit, ...]
    message: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"question": self.question, "found": self.found, "message": self.message,
                "hits": [hit.to_dict() for hit in self.hits]}


class Retriever:
    """Search one index version. Thread-safe; open once per process and share."""

    def __init__(self, version_dir: Path, manifest: Manifest, embedder: Embedder, *,
                 min_score: float = DEFAULT_MIN_SCORE) -> None:
        self.version_dir = version_dir
        self.manifest = manifest
        self.min_score = min_score
        self._embedder = embedder
        self._vectors = load_vectors(version_dir / VECTORS_FILE, dimension=manifest.dimension,
                                     count=manifest.sentences)
        self._paragraph_vectors, self._sentence_paragraphs = load_paragraphs(
            version_dir, dimension=manifest.dimension, sentences=manifest.sentences, paragraphs=manifest.paragraphs)
        self._term_frequencies = load_document_frequencies(version_dir, sentences=manifest.sentences)
        self._metadata = MetadataReader(version_dir / METADATA_FILE)

    @classmethod
    def open(cls, index_dir: Path | str | None = None, *, model: str | None = None,
             embedder: Embedder | None = None, min_score: float = DEFAULT_MIN_SCORE) -> Retriever:
        """Open the current version of an index folder (default: `NEWSBOT_INDEX_DIR` or `index/data`).

        The model must be the one the index was built with; pass `embedder` to share a loaded
        model between retrievers (e.g. across a reindex).
        """
        version_dir = current_version(Path(index_dir) if index_dir is not None else default_index_dir())
        manifest = read_manifest(version_dir)
        if embedder is None:
            embedder = load_embedder(model if model is not None else default_model())
        wanted = canonical_model_name(embedder.name)
        if manifest.model != wanted:
            raise IndexIncompatible(
                f"the index at {version_dir.parent.parent} was built with the model {manifest.model}, "
                f"but {wanted} is configured; run `newsbot index` to rebuild it with {wanted}, "
                f"or set NEWSBOT_MODEL={manifest.model}")
        return cls(version_dir, manifest, embedder, min_score=min_score)

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    def articles(self) -> list[ArticleInfo]:
        """Every indexed article, newest first."""
        return self._metadata.articles()

    def search(self, question: str, k: int = 5) -> list[Hit]:
        """The k sentences most similar to the question, best first (empty for an empty question)."""
        return self.search_many([question], k)[0]

    def search_many(self, questions: Sequence[str], k: int = 5) -> list[list[Hit]]:
        """Batch form of `search`: one model call for all questions."""
        if k < 1:
            raise ValueError("k must be at least 1")
        cleaned = [clean_question(q) for q in questions]
        asked = [i for i, q in enumerate(cleaned) if q]
        results: list[list[Hit]] = [[] for _ in questions]
        if not asked:
            return results
        queries = self._embedder.encode([cleaned[i] for i in asked])
        ranked = rank_sentences(queries, self._vectors, self._paragraph_vectors, self._sentence_paragraphs,
                                max(k, RERANK_DEPTH))
        for i, (ids, scores) in zip(asked, ranked):
            results[i] = self._rerank(cleaned[i], ids, scores)[:k]
        return results

    def answer(self, question: str, k: int = 3) -> Answer:
        """The best sentences that clear the confidence threshold, or an explicit not-found."""
        return self.answer_many([question], k)[0]

    def answer_many(self, questions: Sequence[str], k: int | Sequence[int] = 3) -> list[Answer]:
        """Batch form of `answer` (one model call), with one k for all or one per question."""
        ks = [k] * len(questions) if isinstance(k, int) else list(k)
        found = self.search_many(questions, max(ks, default=1))
        return [_answer(question, hits[:limit], self.min_score) for question, limit, hits in zip(questions, ks, found)]

    def close(self) -> None:
        """Release the metadata database; searches must have finished."""
        self._metadata.close()

    def _rerank(self, question: str, ids: np.ndarray, scores: np.ndarray) -> list[Hit]:
        """Add the lexical evidence to the dense scores and re-sort."""
        stored = self._metadata.sentences([int(i) for i in ids])
        weights = term_weights(terms(question), self._term_frequencies, self.manifest.sentences)
        dense = dict(zip((int(i) for i in ids), (float(s) for s in scores)))
        lexical = coverage(weights, [s.terms for s in stored])
        hits = [_hit(s, dense[s.id] + LEXICAL_WEIGHT * float(extra)) for s, extra in zip(stored, lexical)]
        return sorted(hits, key=lambda hit: -hit.score)


def clean_question(question: object) -> str:
    """The question as the model should see it: printable, single-spaced, of bounded length."""
    if not isinstance(question, str):
        return ""
    printable = "".join(" " if unicodedata.category(c).startswith("C") else c for c in question)
    return re.sub(r"\s+", " ", printable).strip()[:MAX_QUESTION_CHARS]


def _answer(question: str, hits: Sequence[Hit], min_score: float) -> Answer:
    """The hits that clear the threshold, the top one pointing at its answer when that is found with confidence."""
    cleaned = clean_question(question)
    if not cleaned:
        return Answer(question, False, (), EMPTY_QUESTION)
    kept = [hit for hit in hits if hit.score >= min_score]
    if kept:
        kept[0] = replace(kept[0], answer=find_answer_span(cleaned, kept[0].text))
    return Answer(question, bool(kept), tuple(kept), None if kept else NOT_FOUND)


def _hit(sentence: StoredSentence, score: float) -> Hit:
    return Hit(text=sentence.text, score=score, article=sentence.article, sentence_id=sentence.id,
               paragraph=sentence.paragraph, start=sentence.start, end=sentence.end)
