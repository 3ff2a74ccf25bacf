import pytest

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
