"""Question in, ranked answer sentences out: the one answer path shared by the CLI, the chat and the bot."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from newsbot.corpus.terms import terms
from newsbot.index import default_index_dir
from newsbot.index.embedder import Embedder, canonical_model_name, default_model, load_embedder
from newsbot.index.errors import IndexIncompatible
from newsbot.index.manifest import Manifest
from newsbot.index.metadata import ArticleInfo, StoredSentence
from newsbot.index.version import IndexVersion, open_version
from newsbot.retrieval.candidates import LEXICAL_CANDIDATES, Candidates, find_candidates, rare_terms
from newsbot.retrieval.confidence import Signals, confidence, default_min_confidence, outcome, signals
from newsbot.retrieval.features import feature_matrix, idf_weights, scores
from newsbot.retrieval.history import in_context
from newsbot.retrieval.span import AnswerSpan, missing_answer, offered_span
from newsbot.retrieval.stories import STORY_DEPTH, best_per_article, candidate_lifts, named_story_first

# Keeps every real question whole (SQuAD dev's longest has 197 characters) and bounds what a pasted text costs;
# the model would see little more of it: it reads 256 word pieces, about 1,200 characters of English (the
# median over SQuAD dev's paragraphs that long; 800 at the least).
MAX_QUESTION_CHARS = 1000
NOT_FOUND = "I found nothing in my articles that answers that."
HEDGED = "I am not sure; the closest I found:"
MISSING = "I found nothing that says {}; the closest I found:"  # what the question asks for
# The reranked score the next sentences shown with an answer need: the former answer threshold on that score,
# which on SQuAD dev refused 90% of out-of-corpus questions' best sentences (docs/QUALITY.md)
ALSO_SHOWN_SCORE = 0.95
EMPTY_QUESTION = "Please ask a question in words, for example: How many people have died?"


@dataclass(frozen=True)
class Hit:
    """One answer sentence, its score for the question (`retrieval.features`), and the article to cite.

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
        return {
            "text": self.text, "score": round(self.score, 4), "sentence_id": self.sentence_id,
            "paragraph": self.paragraph, "start": self.start, "end": self.end,
            "article": self.article.to_dict(),
            "answer": ({"text": self.answer.text, "start": self.answer.start, "end": self.answer.end,
                        "kind": self.answer.kind} if self.answer else None),
        }


@dataclass(frozen=True)
class Answer:
    """The best evidence for a question, or an explicit not-found with the reason in `message`.

    A found answer is `sure`, or not: then `message` says so (`HEDGED`, or what the best sentence
    lacks, `MISSING`) and the hits are the closest sentences found.
    """

    question: str
    found: bool
    hits: tuple[Hit, ...]
    message: str | None = None
    confidence: float | None = None  # `retrieval.confidence.confidence` of the best sentence
    sure: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"question": self.question, "found": self.found, "sure": self.sure, "message": self.message,
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "hits": [hit.to_dict() for hit in self.hits]}


class Retriever:
    """Answer questions from one opened index version. Thread-safe; open once per process and share.

    A question's path, one module per step: its candidate sentences (`retrieval.candidates`), their
    features and score (`retrieval.features`), the story it names and the stories it fits
    (`retrieval.stories`), the best one's confidence (`retrieval.confidence`) and the words that
    answer it (`retrieval.span`).
    """

    def __init__(self, version: IndexVersion, embedder: Embedder, *, min_confidence: float | None = None) -> None:
        wanted = canonical_model_name(embedder.name)
        if version.manifest.model != wanted:
            raise IndexIncompatible(
                f"the index at {version.folder.parent.parent} was built with the model {version.manifest.model}, "
                f"but {wanted} is configured; run `newsbot index` to rebuild it with {wanted}, "
                f"or set NEWSBOT_MODEL={version.manifest.model}")
        self._version = version
        self._embedder = embedder
        self.min_confidence_override = min_confidence
        # the threshold an answer's confidence must clear: the one given, else the default for this index's size
        self.min_confidence = (default_min_confidence(version.manifest.sentences) if min_confidence is None
                               else min_confidence)

    @classmethod
    def open(cls, index_dir: Path | str | None = None, *, model: str | None = None,
             embedder: Embedder | None = None, min_confidence: float | None = None) -> Retriever:
        """Open the current version of an index folder (default: `NEWSBOT_INDEX_DIR` or `index/data`).

        The model must be the one the index was built with; pass `embedder` to share a loaded
        model between retrievers (e.g. across a reindex). `min_confidence` overrides the default
        threshold, which follows the index's size (`retrieval.confidence.default_min_confidence`).
        """
        version = open_version(Path(index_dir) if index_dir is not None else default_index_dir())
        try:
            if embedder is None:
                embedder = load_embedder(model if model is not None else default_model())
            return cls(version, embedder, min_confidence=min_confidence)
        except BaseException:
            version.close()
            raise

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def manifest(self) -> Manifest:
        return self._version.manifest

    @property
    def version_dir(self) -> Path:
        return self._version.folder

    def articles(self) -> list[ArticleInfo]:
        """Every indexed article, newest first."""
        return self._version.metadata.articles()

    def search(self, question: str, k: int = 5, history: Sequence[str] = ()) -> list[Hit]:
        """The k sentences most similar to the question, best first (empty for an empty question).

        `history`: the earlier questions of the same conversation, oldest first; a follow-up that
        leans on them ("When did that happen?") is searched in their context (`retrieval.history`).
        """
        return self.search_many([question], k, [history])[0]

    def search_many(self, questions: Sequence[str], k: int = 5,
                    histories: Sequence[Sequence[str]] | None = None) -> list[list[Hit]]:
        """Batch form of `search`: one model call for all questions, with one history per question."""
        return [hits for hits, _ in self.search_with_signals(questions, k, histories)]

    def search_with_signals(self, questions: Sequence[str], k: int = 5,
                            histories: Sequence[Sequence[str]] | None = None
                            ) -> list[tuple[list[Hit], Signals | None]]:
        """`search_many`, with the evidence the confidence reads for each question (None for an empty one)."""
        if k < 1:
            raise ValueError("k must be at least 1")
        cleaned = [clean_question(q) for q in questions]
        embedded = cleaned if histories is None else [  # a follow-up's words are embedded with those it leans on
            in_context(q, h, clean_question) if q else q for q, h in zip(cleaned, histories)]
        asked = [i for i, q in enumerate(cleaned) if q]
        results: list[tuple[list[Hit], Signals | None]] = [([], None) for _ in questions]
        if not asked:
            return results
        for i, candidates in zip(asked, self.candidates([embedded[i] for i in asked])):
            matrix, ranked, order = self._ranked(cleaned[i], candidates)
            stored = self._version.metadata.sentences([int(s) for s in candidates.ids[order[:k]]])
            results[i] = ([_hit(sentence, float(score)) for sentence, score in zip(stored, ranked[order])],
                          signals(matrix[order], ranked[order], candidates.paragraphs[order]))
        return results

    def candidates(self, questions: Sequence[str]) -> list[Candidates]:
        """Each (cleaned, non-empty) question's candidate sentences by their embeddings (one model call)
        and by its rare words (`retrieval.candidates.LEXICAL_CANDIDATES` by BM25)."""
        version = self._version
        lexical = [version.metadata.lexical_candidates(rare_terms(terms(q), version.document_frequencies),
                                                       LEXICAL_CANDIDATES) for q in questions]
        return find_candidates(self._embedder.encode(list(questions)), version.sentences, version.paragraphs,
                               version.paragraph_vectors, version.sentence_paragraphs, lexical)

    def rank(self, question: str, candidates: Candidates) -> tuple[np.ndarray, np.ndarray]:
        """The candidates' ids and scores, best first; the sentences of a story the question names
        go ahead of others (`retrieval.stories.named_story_first`)."""
        _, ranked, order = self._ranked(question, candidates)
        return candidates.ids[order], ranked[order]

    def _ranked(self, question: str, candidates: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidates' feature matrix and scores, and the order that puts the best first."""
        matrix = self.features(question, candidates)
        ranked = scores(matrix)
        order = named_story_first(np.argsort(-ranked, kind="stable"), ranked, self.story_lifts(question, candidates))
        return matrix, ranked, order

    def story_lifts(self, question: str, candidates: Candidates) -> np.ndarray:
        """How strongly the question names each candidate's article (`retrieval.stories.story_lift`)."""
        version = self._version
        weights = idf_weights(terms(question), version.document_frequencies, version.manifest.sentences)
        return candidate_lifts(weights, candidates.ids, version.metadata)

    def features(self, question: str, candidates: Candidates) -> np.ndarray:
        """The candidates x `retrieval.features.FEATURES` matrix of evidence."""
        return feature_matrix(question, candidates, self._version)

    def answer(self, question: str, k: int = 3, history: Sequence[str] = ()) -> Answer:
        """The best sentences that clear the confidence threshold, or an explicit not-found;
        `history` as in `search`."""
        return self.answer_many([question], k, [history])[0]

    def answer_many(self, questions: Sequence[str], k: int | Sequence[int] = 3,
                    histories: Sequence[Sequence[str]] | None = None) -> list[Answer]:
        """Batch form of `answer` (one model call), with one k for all or one per question, and one
        history per question."""
        ks = [k] * len(questions) if isinstance(k, int) else list(k)
        # the deeper hits tell which other stories come close (`retrieval.stories.best_per_article`)
        found = self.search_with_signals(questions, max(*ks, STORY_DEPTH), histories)
        return [_answer(question, hits, evidence, limit, self.min_confidence)
                for question, limit, (hits, evidence) in zip(questions, ks, found)]

    def close(self) -> None:
        """Release the index version; searches must have finished."""
        self._version.close()


def clean_question(question: object) -> str:
    """The question as the model should see it: printable, single-spaced, of bounded length."""
    if not isinstance(question, str):
        return ""
    printable = "".join(" " if unicodedata.category(c).startswith("C") else c for c in question)
    return re.sub(r"\s+", " ", printable).strip()[:MAX_QUESTION_CHARS]


def _answer(question: str, hits: Sequence[Hit], evidence: Signals | None, k: int, min_confidence: float) -> Answer:
    """The best sentence when it is confident enough (`retrieval.confidence.outcome`: sure, hedged, or
    lacking what was asked), with the next ones that score well on their own, the best of each close story
    first (`retrieval.stories.best_per_article`); the best one points at its answer when that is found
    with confidence."""
    cleaned = clean_question(question)
    if not cleaned:
        return Answer(question, False, (), EMPTY_QUESTION)
    sure = confidence(evidence)
    missing = missing_answer(cleaned, hits[0].text) if hits else None
    said = outcome(sure, min_confidence, missing) if hits else "not found"
    if said == "not found":
        return Answer(question, False, (), NOT_FOUND, sure if hits else None)
    best = replace(hits[0], answer=None if missing else offered_span(cleaned, hits[0].text))
    shown = [hits[i] for i in best_per_article([hit.score for hit in hits], [hit.article.id for hit in hits], k)]
    kept = [best, *(hit for hit in shown[1:] if hit.score >= ALSO_SHOWN_SCORE)]
    message = {"sure": None, "hedged": HEDGED, "missing": MISSING.format(missing)}[said]
    return Answer(question, True, tuple(kept), message, sure, sure=said == "sure")


def _hit(sentence: StoredSentence, score: float) -> Hit:
    return Hit(text=sentence.text, score=score, article=sentence.article, sentence_id=sentence.id,
               paragraph=sentence.paragraph, start=sentence.start, end=sentence.end)
