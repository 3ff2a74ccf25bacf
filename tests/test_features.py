import math

import numpy as np
import pytest

from newsbot.corpus.terms import sentence_terms, terms
from newsbot.retrieval.features import FEATURES, NAMES, WEIGHTS, coverage, idf_weights, scores, weight_vector


def test_the_score_is_the_weighted_sum_of_the_evidence() -> None:
    features = np.eye(len(FEATURES), dtype=np.float32)
    np.testing.assert_allclose(scores(features), WEIGHTS)
    np.testing.assert_allclose(scores(np.ones((2, len(FEATURES)), np.float32), np.arange(len(FEATURES))),
                               [sum(range(len(FEATURES)))] * 2)


def test_weights_favour_evidence_and_keep_sentence_overlap_light() -> None:
    named = {name: feature.weight for name, feature in FEATURES.items()}
    assert named["sentence"] == 1.0 and all(w > 0 for w in WEIGHTS)
    assert named["sentence_terms"] < named["paragraph_terms"]  # the passage's overlap, not the sentence's


def test_weights_by_name_land_in_their_columns_and_unknown_names_are_refused() -> None:
    vector = weight_vector({"answer_type": 0.5, "sentence": 1.0})
    assert vector.tolist() == [1.0 if n == "sentence" else 0.5 if n == "answer_type" else 0.0 for n in NAMES]
    with pytest.raises(ValueError, match="no such features: novelty"):
        weight_vector({"novelty": 1.0})


def test_terms_fold_endings_keep_numbers_and_drop_stop_words() -> None:
    assert terms("How many people have died?") == {"people", "died"}
    assert terms("The vetoes were vetoed; killing, killed") == {"veto", "kill"}
    assert "5,400" in terms("more than 5,400 people") and "2.5" in terms("a 2.5 percent rise")
    assert terms("") == set() and terms("the of and") == set()
    assert sentence_terms("Lavrov on Syria", "He spoke.") == {"lavrov", "syria", "spoke"}


def test_rare_terms_weigh_more_and_unknown_terms_most() -> None:
    weights = idf_weights({"said", "lavrov", "zzz"}, {"said": 90, "lavrov": 2}, documents=100)
    assert weights["zzz"] > weights["lavrov"] > weights["said"] > 0
    assert weights["lavrov"] == pytest.approx(math.log(101 / 2.5))


def test_coverage_is_the_share_of_question_weight_present() -> None:
    weights = {"lavrov": 3.0, "said": 1.0}
    np.testing.assert_allclose(coverage(weights, [{"lavrov", "said"}, {"said"}, set(), {"lavrov", "other"}]),
                               [1.0, 0.25, 0.0, 0.75])
    assert coverage({}, [{"a"}]).tolist() == [0.0]
