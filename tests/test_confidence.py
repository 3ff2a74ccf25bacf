"""The confidence and its three outcomes, from constructed evidence: no model, no index."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval.confidence import (
    Signals,
    confidence,
    default_min_confidence,
    outcome,
    signals,
    sure_confidence,
)
from newsbot.retrieval.evaluation.abstention import Asked, overlap_bands
from newsbot.retrieval.features import NAMES
from newsbot.retrieval.retriever import HEDGED, MISSING, NOT_FOUND, Hit, _answer

CLOSE = Signals(sentence=0.6, paragraph=0.55, paragraph_lead=0.15, lead=0.3)  # an answer that stands out
MIDDLING = Signals(sentence=0.35, paragraph=0.3, paragraph_lead=0.05, lead=0.08)
FAR = Signals(sentence=0.12, paragraph=0.1, paragraph_lead=0.0, lead=0.01)  # as far as off-topic questions
SENTENCE = "Muallem said the violence has killed more than 5,400 people since March."


def _hit(text: str, score: float) -> Hit:
    return Hit(text, score, ArticleInfo("a.txt", "Syria", "AFP", date(2012, 1, 25), None), 0, 0, 0, len(text))


def test_each_kind_of_evidence_raises_the_confidence() -> None:
    for name in ("sentence", "paragraph", "paragraph_lead", "lead"):
        assert confidence(replace(MIDDLING, **{name: getattr(MIDDLING, name) + 0.1})) > confidence(MIDDLING)
    assert 0 < confidence(FAR) < confidence(MIDDLING) < confidence(CLOSE) < 1
    assert confidence(None) == 0.0


def test_signals_read_the_best_candidate_its_lead_and_how_its_paragraph_stands_out() -> None:
    matrix = np.zeros((3, len(NAMES)), dtype=np.float32)
    matrix[:, NAMES.index("sentence")] = [0.5, 0.6, 0.2]
    matrix[:, NAMES.index("paragraph")] = [0.4, 0.4, 0.3]
    read = signals(matrix, np.array([1.2, 1.0, 0.5]), np.array([7, 7, 9]))
    assert read == Signals(sentence=0.5, paragraph=pytest.approx(0.4), paragraph_lead=pytest.approx(0.1),
                           lead=pytest.approx(0.2))  # the runner-up's own paragraph is not "another"
    alone = signals(matrix[:1], np.array([1.2]), np.array([7]))
    assert alone.lead == 0.0 and alone.paragraph_lead == 0.0
    assert signals(matrix[:0], np.array([]), np.array([])) is None


def test_three_outcomes_and_what_is_missing_beats_a_high_confidence() -> None:
    threshold = 0.4
    assert sure_confidence(threshold) > threshold
    assert outcome(0.39, threshold, None) == "not found"
    assert outcome(0.41, threshold, None) == "hedged"
    assert outcome(sure_confidence(threshold), threshold, None) == "sure"
    assert outcome(0.99, threshold, "how many children") == "missing"
    assert outcome(0.41, threshold, "how many children") == "missing"  # middling evidence: still said
    assert outcome(0.39, threshold, "how many children") == "not found"


def test_the_default_threshold_grows_with_the_index_and_stays_a_probability() -> None:
    thresholds = [default_min_confidence(n) for n in (1, 13, 1_000, 100_000)]
    assert all(0 < t < 1 for t in thresholds) and thresholds == sorted(thresholds)


@pytest.mark.parametrize(("evidence", "question", "said"), [
    (CLOSE, "How many people have died?", "sure"),
    (MIDDLING, "How many people have died?", "hedged"),
    (CLOSE, "How many children have died?", "missing"),
    (MIDDLING, "How many children have died?", "missing"),
    (FAR, "How many people have died?", "not found"),
])
def test_the_answer_says_how_sure_it_is(evidence: Signals, question: str, said: str) -> None:
    hits = [_hit(SENTENCE, 1.2), _hit("Russia and China vetoed it.", 1.0), _hit("Far below.", 0.5)]
    threshold = (confidence(FAR) + confidence(MIDDLING)) / 2
    assert confidence(FAR) < threshold <= confidence(MIDDLING) < sure_confidence(threshold) <= confidence(CLOSE)
    answer = _answer(question, hits, evidence, 3, threshold)
    assert answer.confidence == confidence(evidence)
    assert answer.found is (said != "not found") and answer.sure is (said == "sure")
    assert answer.to_dict()["sure"] is answer.sure
    if said == "not found":
        assert answer.hits == () and answer.message == NOT_FOUND
        return
    assert [hit.text for hit in answer.hits] == [SENTENCE, "Russia and China vetoed it."]  # not the far one
    expected = {"sure": None, "hedged": HEDGED, "missing": MISSING.format("how many children")}[said]
    assert answer.message == expected
    if said == "missing":
        assert answer.hits[0].answer is None  # a count of people is not shown as the count of children
    else:
        assert answer.hits[0].answer.text == "more than 5,400 people"


def test_overlap_bands_split_questions_into_quintiles_and_count_each_outcome() -> None:
    asked = [Asked(f"q{n}", confidence=0.9 if n % 2 else 0.1, right=n % 4 != 0, missing=None, overlap=n / 10,
                   signals=None, score=0.0) for n in range(10)]
    bands = overlap_bands(asked, 0.5)
    assert [band["questions"] for band in bands] == [2] * 5
    assert [band["overlap_from"] for band in bands] == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert all(band["answered"] == 0.5 for band in bands)
    assert bands[0]["right"] == 0.5 and bands[0]["answered_when_right"] == 1.0  # q1 is answered, q0 wrong
    assert all(band["sure"] <= band["answered"] for band in bands)
    assert overlap_bands([], 0.5) == []
