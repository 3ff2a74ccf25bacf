import numpy as np
import pytest

from newsbot.retrieval.evaluation.fit import fit_named, fit_weights
from newsbot.retrieval.features import NAMES


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


def test_fitting_by_name_holds_the_fixed_weights_and_scales_the_free_ones_to_them() -> None:
    rng = np.random.default_rng(5)
    truth = {"sentence": 1.0, "paragraph": 0.5, "answer_type": -0.5, "sentence_terms": 0.25}
    features, gold = [], []
    for _ in range(3000):
        x = rng.normal(size=(8, len(NAMES)))
        p = np.exp(x @ np.array([truth.get(name, 0.0) for name in NAMES]))
        features.append(x)
        gold.append(np.arange(8) == rng.choice(8, p=p / p.sum()))
    fitted = fit_named(features, gold, fixed={"sentence": 1.0, "sentence_terms": 0.25},
                       free={"paragraph", "answer_type"})
    assert list(fitted) == list(NAMES) and fitted["paragraph_terms"] == 0.0  # neither fixed nor free
    assert fitted["sentence"] == 1.0 and fitted["sentence_terms"] == 0.25
    assert fitted["paragraph"] == pytest.approx(0.5, abs=0.1) and fitted["answer_type"] == pytest.approx(-0.5, abs=0.1)
