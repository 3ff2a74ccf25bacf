import numpy as np
import pytest

from retrieval.rerank import FEATURES, WEIGHTS, fit_weights, scores


def test_the_score_is_the_weighted_sum_of_the_evidence() -> None:
    features = np.eye(len(FEATURES), dtype=np.float32)
    np.testing.assert_allclose(scores(features), WEIGHTS)
    np.testing.assert_allclose(scores(np.ones((2, len(FEATURES)), np.float32), np.arange(len(FEATURES))),
                               [sum(range(len(FEATURES)))] * 2)


def test_weights_favour_evidence_and_keep_sentence_overlap_light() -> None:
    named = dict(zip(FEATURES, WEIGHTS))
    assert named["sentence"] == 1.0 and all(w > 0 for w in WEIGHTS)
    assert named["sentence_terms"] < named["paragraph_terms"]  # the passage's overlap, not the sentence's


def test_fit_recovers_the_weights_that_generated_the_choices() -> None:
    rng = np.random.default_rng(3)
    truth = np.array([2.0, -1.0, 0.5])
    features, gold = [], []
    for _ in range(3000):
        x = rng.normal(size=(8, 3))
        p = np.exp(x @ truth)
        chosen = rng.choice(8, p=p / p.sum())
        features.append(x)
        gold.append(np.arange(8) == chosen)
    np.testing.assert_allclose(fit_weights(features, gold, l2=0.0), truth, atol=0.15)


def test_fit_skips_questions_without_a_right_candidate_and_needs_one() -> None:
    x = np.array([[1.0], [0.0]])
    with pytest.raises(ValueError):
        fit_weights([x], [np.array([False, False])])
    learned = fit_weights([x, x], [np.array([True, False]), np.array([False, False])], l2=0.1)
    assert learned[0] > 0  # the one informative question pulls toward the gold row
