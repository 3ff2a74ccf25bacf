import math

import numpy as np
import pytest

from corpus.terms import sentence_terms, terms
from retrieval.lexical import coverage, term_weights


def test_terms_fold_endings_keep_numbers_and_drop_stop_words() -> None:
    assert terms("How many people have died?") == {"people", "died"}
    assert terms("The vetoes were vetoed; killing, killed") == {"veto", "kill"}
    assert "5,400" in terms("more than 5,400 people") and "2.5" in terms("a 2.5 percent rise")
    assert terms("") == set() and terms("the of and") == set()
    assert sentence_terms("Lavrov on Syria", "He spoke.") == {"lavrov", "syria", "spoke"}


def test_rare_terms_weigh_more_and_unknown_terms_most() -> None:
    weights = term_weights({"said", "lavrov", "zzz"}, {"said": 90, "lavrov": 2}, documents=100)
    assert weights["zzz"] > weights["lavrov"] > weights["said"] > 0
    assert weights["lavrov"] == pytest.approx(math.log(101 / 2.5))


def test_coverage_is_the_share_of_question_weight_present() -> None:
    weights = {"lavrov": 3.0, "said": 1.0}
    np.testing.assert_allclose(coverage(weights, [{"lavrov", "said"}, {"said"}, set(), {"lavrov", "other"}]),
                               [1.0, 0.25, 0.0, 0.75])
    assert coverage({}, [{"a"}]).tolist() == [0.0]
