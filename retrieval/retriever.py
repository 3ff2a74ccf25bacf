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
from index.manifest import METADATA_FILE, PARAGRAPH_INDEX_FILE, VECTORS_FILE, Manifest, read_manifest
from index.metadata import ArticleInfo, MetadataReader, StoredSentence
from index.store import current_version
from index.vectors import load_paragraphs, load_vectors
from retrieval.abstention import confidence, default_min_confidence
from retrieval.lexical import coverage, term_weights
from retrieval.ranking import Candidates, dense_candidates
from retrieval.rerank import ANSWER_TYPE_DEPTH, FEATURES, scores
from retrieval.span import AnswerSpan, find_answer_span, offers_answer

MAX_QUESTION_CHARS = 1000
NOT_FOUND = "I found nothing in my articles that answers that."
EMPTY_QUESTION = "Please ask a question in words, for example: How many people have died?"


@dataclass(frozen=True)
class Hit:
    """One answer sentence, its score for the question (`retrieval.rerank`), and the article to cite.

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
    confidence: float | None = None  # `retrieval.abstention.confidence` of the best sentence

    def to_dict(self) -> dict[str, object]:
        return {"question": self.question, "found": self.found, "message": self.message,
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "hits": [hit.to_dict() for hit in self.hits]}


class Retriever:
    """Search one index version. Thread-safe; open once per process and share."""

    def __init__(self, version_dir: Path, manifest: Manifest, embedder: Embedder, *,
                 min_confidence: float | None = None) -> None:
        self.version_dir = version_dir
        self.manifest = manifest
        self.min_confidence_override = min_confidence
        # the threshold an answer's confidence must clear: the one given, else the default for this index's size
        self.min_confidence = default_min_confidence(manifest.sentences) if min_confidence is None else min_confidence
        self._embedder = embedder
        self._vectors = load_vectors(version_dir / VECTORS_FILE, dimension=manifest.dimension,
                                     count=manifest.sentences, search=manifest.faiss_search)
        self._paragraph_index = load_vectors(version_dir / PARAGRAPH_INDEX_FILE, dimension=manifest.dimension,
                                             count=manifest.paragraphs, search=manifest.paragraph_faiss_search)
        self._paragraph_vectors, self._sentence_paragraphs = load_paragraphs(
            version_dir, dimension=manifest.dimension, sentences=manifest.sentences, paragraphs=manifest.paragraphs)
        self._term_frequencies = load_document_frequencies(version_dir, sentences=manifest.sentences)
        self._metadata = MetadataReader(version_dir / METADATA_FILE)

    @classmethod
    def open(cls, index_dir: Path | str | None = None, *, model: str | None = None,
             embedder: Embedder | None = None, min_confidence: float | None = None) -> Retriever:
        """Open the current version of an index folder (default: `NEWSBOT_INDEX_DIR` or `index/data`).

        The model must be the one the index was built with; pass `embedder` to share a loaded
        model between retrievers (e.g. across a reindex). `min_confidence` overrides the default
        threshold, which follows the index's size (`retrieval.abstention.default_min_confidence`).
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
        return cls(version_dir, manifest, embedder, min_confidence=min_confidence)

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
        for i, candidates in zip(asked, self.candidates([cleaned[i] for i in asked])):
            ids, ranked = self.rank(cleaned[i], candidates)
            stored = self._metadata.sentences([int(s) for s in ids[:k]])
            results[i] = [_hit(sentence, float(score)) for sentence, score in zip(stored, ranked)]
        return results

    def candidates(self, questions: Sequence[str]) -> list[Candidates]:
        """Each (cleaned, non-empty) question's candidate sentences by their embeddings: one model call."""
        queries = self._embedder.encode(list(questions))
        return dense_candidates(queries, self._vectors, self._paragraph_index, self._paragraph_vectors,
                                self._sentence_paragraphs)

    def rank(self, question: str, candidates: Candidates) -> tuple[np.ndarray, np.ndarray]:
        """The candidates' ids and scores, best first (`retrieval.rerank`)."""
        ranked = scores(self.features(question, candidates))
        order = np.argsort(-ranked, kind="stable")
        return candidates.ids[order], ranked[order]

    def features(self, question: str, candidates: Candidates) -> np.ndarray:
        """The candidates x `FEATURES` matrix of evidence; answer types only for the best few."""
        weights = term_weights(terms(question), self._term_frequencies, self.manifest.sentences)
        rows = np.unique(candidates.paragraphs)
        paragraph_coverage = dict(zip(rows.tolist(), coverage(weights, self._metadata.paragraph_terms(rows))))
        features = np.zeros((len(candidates.ids), len(FEATURES)), dtype=np.float32)
        features[:, FEATURES.index("sentence")] = candidates.sentence_scores
        features[:, FEATURES.index("paragraph")] = candidates.paragraph_scores
        features[:, FEATURES.index("paragraph_terms")] = [paragraph_coverage[p] for p in candidates.paragraphs.tolist()]
        features[:, FEATURES.index("sentence_terms")] = coverage(weights, self._metadata.terms(candidates.ids))
        best = np.argsort(-scores(features), kind="stable")[:ANSWER_TYPE_DEPTH]
        texts = self._metadata.texts(candidates.ids[best])
        features[best, FEATURES.index("answer_type")] = [offers_answer(question, text) for text in texts]
        return features

    def answer(self, question: str, k: int = 3) -> Answer:
        """The best sentences that clear the confidence threshold, or an explicit not-found."""
        return self.answer_many([question], k)[0]

    def answer_many(self, questions: Sequence[str], k: int | Sequence[int] = 3) -> list[Answer]:
        """Batch form of `answer` (one model call), with one k for all or one per question."""
        ks = [k] * len(questions) if isinstance(k, int) else list(k)
        found = self.search_many(questions, max(*ks, 2))  # the runner-up tells how far the best stands out
        return [_answer(question, hits, limit, self.min_confidence) for question, limit, hits in zip(questions, ks, found)]

    def close(self) -> None:
        """Release the metadata database; searches must have finished."""
        self._metadata.close()


def clean_question(question: object) -> str:
    """The question as the model should see it: printable, single-spaced, of bounded length."""
    if not isinstance(question, str):
        return ""
    printable = "".join(" " if unicodedata.category(c).startswith("C") else c for c in question)
    return re.sub(r"\s+", " ", printable).strip()[:MAX_QUESTION_CHARS]


def _answer(question: str, hits: Sequence[Hit], k: int, min_confidence: float) -> Answer:
    """The best sentence when it is confident enough, with the next ones that clear the threshold on
    their own score; the best one points at its answer when that is found with confidence."""
    cleaned = clean_question(question)
    if not cleaned:
        return Answer(question, False, (), EMPTY_QUESTION)
    sure = confidence([hit.score for hit in hits])
    if not hits or sure < min_confidence:
        return Answer(question, False, (), NOT_FOUND, sure if hits else None)
    best = replace(hits[0], answer=find_answer_span(cleaned, hits[0].text))
    kept = [best, *(hit for hit in hits[1:k] if hit.score >= min_confidence)]
    return Answer(question, True, tuple(kept), None, sure)


def _hit(sentence: StoredSentence, score: float) -> Hit:
    return Hit(text=sentence.text, score=score, article=sentence.article, sentence_id=sentence.id,
               paragraph=sentence.paragraph, start=sentence.start, end=sentence.end)
