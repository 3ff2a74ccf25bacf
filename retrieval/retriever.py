"""Question in, ranked answer sentences out: the one answer path shared by the CLI, the chat and the bot."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np

from newsbot.corpus.terms import terms
from newsbot.index import default_index_dir
from newsbot.index.embedder import Embedder, canonical_model_name, default_model, load_embedder
from newsbot.index.errors import IndexIncompatible
from newsbot.index.manifest import Manifest
from newsbot.index.metadata import ArticleInfo, StoredSentence
from newsbot.index.stores import FilesStore, Store, open_store_version
from newsbot.index.version import IndexVersion
from newsbot.retrieval.candidates import LEXICAL_CANDIDATES, Candidates, find_candidates, rare_terms
from newsbot.retrieval.confidence import Signals, confidence, default_min_confidence, outcome, signals
from newsbot.retrieval.features import feature_matrix, idf_weights, scores
from newsbot.retrieval.history import in_context
from newsbot.retrieval.recency import newest_first
from newsbot.retrieval.span import AnswerSpan, missing_answer, offered_span
from newsbot.retrieval.stories import STORY_DEPTH, best_per_article, candidate_lifts, named_story_first
from newsbot.retrieval.timeline import Report, figure_reports, figure_timeline
from newsbot.retrieval.when import Period, asked_period

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
    lacks, `MISSING`) and the hits are the closest sentences found. For a question about a changing
    figure that the articles report differently, `timeline` holds each figure's report, newest first (the
    first is the top hit's); `period` is the time the question names, and `from_period` whether the hits
    come from the articles published then (there were some).
    """

    question: str
    found: bool
    hits: tuple[Hit, ...]
    message: str | None = None
    confidence: float | None = None  # `retrieval.confidence.confidence` of the best sentence
    sure: bool = False
    timeline: tuple[Report, ...] = ()
    period: Period | None = None
    from_period: bool = False

    def to_dict(self) -> dict[str, object]:
        period = self.period
        return {"question": self.question, "found": self.found, "sure": self.sure, "message": self.message,
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "hits": [hit.to_dict() for hit in self.hits],
                "timeline": [report.to_dict() for report in self.timeline],
                "period": None if period is None else {
                    "phrase": period.phrase, "start": period.start.isoformat() if period.start else None,
                    "end": period.end.isoformat() if period.end else None, "answered_from_it": self.from_period}}


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
             embedder: Embedder | None = None, min_confidence: float | None = None,
             store: Store | None = None) -> Retriever:
        """Open the current version of an index folder (default: `NEWSBOT_INDEX_DIR` or `index/data`), or of
        `store` (`index.stores`; its folder, if files, else `index_dir`'s).

        The model must be the one the index was built with; pass `embedder` to share a loaded
        model between retrievers (e.g. across a reindex). `min_confidence` overrides the default
        threshold, which follows the index's size (`retrieval.confidence.default_min_confidence`).
        """
        version = open_store_version(store or FilesStore(),
                                     Path(index_dir) if index_dir is not None else default_index_dir())
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
                            histories: Sequence[Sequence[str]] | None = None,
                            periods: Sequence[Period | None] | None = None
                            ) -> list[tuple[list[Hit], Signals | None]]:
        """`search_many`, with the evidence the confidence reads for each question (None for an empty one).
        A question's period (`retrieval.when`), when some of its candidates were published in it, keeps
        only those."""
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
            if periods is not None and periods[i] is not None:
                order = self._published_in(periods[i], candidates.ids, order)
            stored = self._version.metadata.sentences([int(s) for s in candidates.ids[order[:k]]])
            # the evidence of the best sentence: its lead is over the next other sentence, not over its own copy
            # in another article (a wire story carried by two sites)
            distinct = order[_first_copies([sentence.text for sentence in stored], len(order))]
            results[i] = ([_hit(sentence, float(score)) for sentence, score in zip(stored, ranked[order])],
                          signals(matrix[distinct], ranked[distinct], candidates.paragraphs[distinct]))
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
        lifts = self.story_lifts(question, candidates.ids)
        order = named_story_first(np.argsort(-ranked, kind="stable"), ranked, lifts)
        return matrix, ranked, order

    def _published_in(self, period: Period, ids: np.ndarray, order: np.ndarray) -> np.ndarray:
        """The ranking `order` less the candidates whose article was published outside the period, unless
        none was published in it."""
        stored = self._version.metadata.sentences([int(s) for s in ids[order]])
        inside = np.array([sentence.article.published in period for sentence in stored], dtype=bool)
        return order[inside] if inside.any() else order

    def story_lifts(self, question: str, ids: np.ndarray) -> np.ndarray:
        """How strongly the question names the article of each sentence id (`retrieval.stories.story_lift`)."""
        version = self._version
        weights = idf_weights(terms(question), version.document_frequencies, version.manifest.sentences)
        return candidate_lifts(weights, ids, version.metadata)

    def features(self, question: str, candidates: Candidates) -> np.ndarray:
        """The candidates x `retrieval.features.FEATURES` matrix of evidence."""
        return feature_matrix(question, candidates, self._version)

    def answer(self, question: str, k: int = 3, history: Sequence[str] = (), today: date | None = None) -> Answer:
        """The best sentences that clear the confidence threshold, or an explicit not-found;
        `history` as in `search`; `today` (default: the current date) is what "last week" is relative to."""
        return self.answer_many([question], k, [history], today)[0]

    def answer_many(self, questions: Sequence[str], k: int | Sequence[int] = 3,
                    histories: Sequence[Sequence[str]] | None = None, today: date | None = None) -> list[Answer]:
        """Batch form of `answer` (one model call), with one k for all or one per question, and one
        history per question."""
        ks = [k] * len(questions) if isinstance(k, int) else list(k)
        today = today or date.today()
        periods = [asked_period(clean_question(question), today) for question in questions]
        # the deeper hits tell which other stories come close (`retrieval.stories.best_per_article`)
        found = self.search_with_signals(questions, max(*ks, STORY_DEPTH), histories, periods)
        return [_answer(question, hits, evidence, limit, self.min_confidence, period, self._timeline)
                for question, limit, (hits, evidence), period in zip(questions, ks, found, periods)]

    def _timeline(self, question: str, hits: Sequence[Hit]) -> tuple[Report, ...]:
        """The figure's reports over time (`retrieval.timeline`): the sentences giving a figure are embedded
        on their own (a few, and only for a question about a changing figure) to tell one story from another."""
        reports = figure_reports(question, hits)
        if len(reports) < 2:
            return ()
        lifts = self.story_lifts(question, np.array([hits[p].sentence_id for p, _ in reports]))
        return figure_timeline(hits, reports, self._embedder.encode([hits[p].text for p, _ in reports]), lifts)

    def close(self) -> None:
        """Release the index version; searches must have finished."""
        self._version.close()


def clean_question(question: object) -> str:
    """The question as the model should see it: printable, single-spaced, of bounded length."""
    if not isinstance(question, str):
        return ""
    printable = "".join(" " if unicodedata.category(c).startswith("C") else c for c in question)
    return re.sub(r"\s+", " ", printable).strip()[:MAX_QUESTION_CHARS]


def _answer(question: str, hits: Sequence[Hit], evidence: Signals | None, k: int, min_confidence: float,
            period: Period | None = None,
            timeline_of: Callable[[str, Sequence[Hit]], tuple[Report, ...]] | None = None) -> Answer:
    """The best sentence when it is confident enough (`retrieval.confidence.outcome`: sure, hedged, or
    lacking what was asked), with the next ones that score well on their own, the best of each close story
    first (`retrieval.stories.best_per_article`); the best one points at its answer when that is found
    with confidence. Of sentences that answer about equally well the newest leads (`retrieval.recency`), and
    for a changing figure the latest one, the earlier figures going into the timeline (`retrieval.timeline`)."""
    cleaned = clean_question(question)
    if not cleaned:
        return Answer(question, False, (), EMPTY_QUESTION)
    sure = confidence(evidence)
    hits = [hits[i] for i in newest_first([hit.score for hit in hits], [hit.article.published for hit in hits])]
    timeline = timeline_of(cleaned, hits) if timeline_of is not None else ()
    if timeline:  # the latest figure leads
        hits = [timeline[0].hit, *(hit for hit in hits if hit is not timeline[0].hit)]
    missing = missing_answer(cleaned, hits[0].text) if hits else None
    said = outcome(sure, min_confidence, missing) if hits else "not found"
    from_period = period is not None and bool(hits) and all(hit.article.published in period for hit in hits)
    if said == "not found":
        return Answer(question, False, (), NOT_FOUND, sure if hits else None, period=period, from_period=from_period)
    best = replace(hits[0], answer=None if missing else offered_span(cleaned, hits[0].text))
    shown = [hits[i] for i in best_per_article([hit.score for hit in hits], [hit.article.id for hit in hits], k)]
    kept = [best, *_not_repeated(best, [hit for hit in shown[1:] if hit.score >= ALSO_SHOWN_SCORE], timeline)]
    message = {"sure": None, "hedged": HEDGED, "missing": MISSING.format(missing)}[said]
    return Answer(question, True, tuple(kept), message, sure, sure=said == "sure", timeline=timeline,
                  period=period, from_period=from_period)


def _not_repeated(best: Hit, others: Sequence[Hit], timeline: Sequence[Report]) -> list[Hit]:
    """The other hits to show beside the best: none whose text is shown already (the same wire copy in two
    articles), and none from an article whose figure the timeline reports."""
    reported = {article for report in timeline for article in report.article_ids} - {best.article.id}
    listed = {best.text, *(report.hit.text for report in timeline)}
    kept = []
    for hit in others:
        if hit.text not in listed and hit.article.id not in reported:
            kept.append(hit)
            listed.add(hit.text)
    return kept


def _first_copies(texts: Sequence[str], count: int) -> np.ndarray:
    """Positions 0..count-1 less those among the first len(texts) whose text an earlier one has."""
    seen: set[str] = set()
    repeated = {position for position, text in enumerate(texts) if text in seen or seen.add(text)}
    return np.array([position for position in range(count) if position not in repeated], dtype=np.int64)


def _hit(sentence: StoredSentence, score: float) -> Hit:
    return Hit(text=sentence.text, score=score, article=sentence.article, sentence_id=sentence.id,
               paragraph=sentence.paragraph, start=sentence.start, end=sentence.end)
