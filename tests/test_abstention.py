import math

import numpy as np
import pytest

from newsbot.retrieval.confidence import THRESHOLD_FLOOR, THRESHOLD_PER_LOG_SENTENCE, confidence, default_min_confidence
from newsbot.retrieval.evaluation.abstention import abstention_curve, abstention_report, operating_threshold


def test_the_operating_threshold_refuses_at_least_ninety_percent() -> None:
    out = [0.1 * n for n in range(10)]  # 0.0 .. 0.9
    threshold = operating_threshold(out, 0.9)
    assert sum(s < threshold for s in out) == 9 and threshold == pytest.approx(0.8)
    assert sum(s < operating_threshold(out, 0.5) for s in out) == 5
    with pytest.raises(ValueError):
        operating_threshold([])


def test_report_counts_answered_correct_and_refused() -> None:
    report = abstention_report([0.2, 0.5, 0.9, 0.7], [True, False, True, True], [0.1, 0.6, 0.3], threshold=0.55)
    assert report["in_corpus_answered"] == 0.5
    assert report["in_corpus_answered_correctly"] == 0.5
    assert report["out_of_corpus_refused"] == round(2 / 3, 4)
    curve = abstention_curve([0.2, 0.9], [True, True], [0.5], [0.0, 0.6, 1.0])
    assert [row["in_corpus_answered"] for row in curve] == [1.0, 0.5, 0.0]
    assert [row["out_of_corpus_refused"] for row in curve] == [0.0, 1.0, 1.0]


def test_confidence_adds_the_lead_of_the_best_over_the_runner_up() -> None:
    assert confidence([0.8, 0.3, 0.2]) == pytest.approx(1.3)
    assert confidence([0.8, 0.8]) == pytest.approx(0.8)  # a tie: no lead
    assert confidence([0.5]) == 0.5  # nothing to compare with: no lead claimed
    assert confidence([]) == -math.inf
    assert confidence([0.6, 0.1]) > confidence([0.9, 0.85])  # standing out beats being merely high


def test_the_default_threshold_grows_with_the_log_of_the_index_size() -> None:
    sizes = [3_000, 10_000, 100_000, 1_000_000, 10_000_000]
    thresholds = [default_min_confidence(n) for n in sizes]
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == len(thresholds)
    # a + b ln(n): each tenfold growth adds the same amount
    steps = np.diff(thresholds[1:])
    np.testing.assert_allclose(steps, steps[0])
    assert steps[0] == pytest.approx(THRESHOLD_PER_LOG_SENTENCE * math.log(10))


def test_a_small_index_keeps_the_floor_and_a_large_one_rises_above_it() -> None:
    for sentences in (0, 1, 13, 127, 1_000, 2_400):
        assert default_min_confidence(sentences) == THRESHOLD_FLOOR
    assert THRESHOLD_FLOOR < default_min_confidence(2_600) < default_min_confidence(5_000)
