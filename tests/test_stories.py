"""The many-story steps (retrieval/stories.py) as pure functions, and the per-article terms they read."""

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from newsbot.corpus import Article, article_sentences, read_corpus
from newsbot.corpus.terms import sentence_terms
from newsbot.index import build_index
from newsbot.index.metadata import ArticleTerms
from newsbot.index.version import open_version
from newsbot.retrieval import Retriever
from newsbot.retrieval.stories import (CLOSE_MARGIN, NAMED_LEAD, NAMED_RARE, NAMED_WITHIN, STORY_DEPTH,
                                       best_per_article, candidate_lifts, named_story_first, story_lift)
from tests.conftest import add_filler_articles

SYRIA = ArticleTerms(20, Counter({"syria": 20, "people": 1, "lavrov": 20}))
PLAGUE = ArticleTerms(200, Counter({"death": 200, "syria": 3, "people": 40}))


def test_a_title_term_lifts_by_its_idf_and_a_passing_mention_by_far_less() -> None:
    weights = {"death": 3.7, "syria": 6.0, "toll": 9.0}
    assert story_lift(weights, SYRIA) == pytest.approx(6.0)  # "syria" is in every sentence (the title)
    assert story_lift(weights, PLAGUE) == pytest.approx(3.7)  # its title's "death"; "syria" 6.0 + ln(3/200) < 3.7
    assert story_lift({"syria": 6.0}, PLAGUE) == pytest.approx(6.0 + math.log(3 / 200))
    assert story_lift({"toll": 9.0}, SYRIA) == 0.0 and story_lift(weights, ArticleTerms(0, Counter())) == 0.0


def test_the_named_story_goes_first_when_named_by_a_rare_term_and_close_enough() -> None:
    scores = np.array([1.0, 0.9, 0.8, 0.7])
    order = np.arange(4)
    strong = NAMED_RARE + NAMED_LEAD
    lifts = np.array([NAMED_RARE - 1, NAMED_RARE - 1, strong, strong])
    assert named_story_first(order, scores, lifts).tolist() == [2, 3, 0, 1]
    # not when the best's own story is named almost as strongly
    assert named_story_first(order, scores, np.array([strong - 1, strong - 1, strong, strong])).tolist() == [0, 1, 2, 3]
    # not by a common word, however much more strongly ("private" in another article's title)
    assert named_story_first(order, scores, np.array([0.0, 0.0, NAMED_RARE - 0.1, 0])).tolist() == [0, 1, 2, 3]
    # not when the named story's best is far below the best
    far = np.array([1.0, 0.9, 1.0 - NAMED_WITHIN - 0.01, 1.0 - NAMED_WITHIN - 0.02])
    assert named_story_first(order, far, lifts).tolist() == [0, 1, 2, 3]
    assert named_story_first(np.arange(0), scores[:0], lifts[:0]).tolist() == []


def test_close_stories_show_their_best_sentence_each_best_first() -> None:
    articles = ["plague", "plague", "plague", "syria", "oil"]
    close = [1.0, 0.99, 0.98, 1.0 - CLOSE_MARGIN / 2, 1.0 - 2 * CLOSE_MARGIN]
    assert best_per_article(close, articles, 3) == [0, 3, 1]
    assert best_per_article(close, articles, 1) == [0]
    # one close story: the ranking's own top k
    apart = [1.0, 0.99, 0.98, 1.0 - 2 * CLOSE_MARGIN, 0.5]
    assert best_per_article(apart, articles, 3) == [0, 1, 2]
    assert best_per_article(close, articles, 3, margin=3 * CLOSE_MARGIN) == [0, 3, 4]
    assert best_per_article([], [], 3) == []
    # a named story put first: the stories scoring above it are close to it too
    assert best_per_article([0.8, 0.7, 1.1], ["syria", "syria", "plague"], 3) == [0, 2, 1]


@pytest.fixture
def version(tmp_path: Path, corpus_dir: Path, fake_embedder):
    add_filler_articles(corpus_dir, 3)
    build_index(corpus_dir, tmp_path / "index", fake_embedder)
    opened = open_version(tmp_path / "index")
    yield opened
    opened.close()


def test_article_terms_count_the_sentences_of_each_article_holding_a_term(version, corpus_dir: Path) -> None:
    metadata = version.metadata
    articles = {a.title: (a, article_sentences(a)) for a in read_corpus(corpus_dir) if isinstance(a, Article)}
    first = metadata.articles_of(np.arange(version.manifest.sentences))
    assert (np.diff(first) >= 0).all() and first[0] == 0 and first[-1] == len(articles) - 1
    for number in range(len(articles)):
        ids = np.flatnonzero(first == number)
        title = metadata.sentences([int(ids[0])])[0].article.title
        article, sentences = articles[title]
        expected = Counter(t for s in sentences for t in sentence_terms(article.title, s.text))
        assert metadata.article_terms(number) == ArticleTerms(len(sentences), expected)
    assert metadata.article_terms(0) is metadata.article_terms(0)  # read once, then kept


def test_each_candidate_is_lifted_by_its_own_story_and_answers_choose_among_deeper_hits(version, fake_embedder) -> None:
    retriever = Retriever(version, fake_embedder)
    question = "What did Lavrov say about Syria?"
    candidates = retriever.candidates([question])[0]
    lifts = retriever.story_lifts(question, candidates.ids)
    weights = {"lavrov": 1.0, "say": 1.0, "syria": 1.0}
    assert lifts.shape == candidates.ids.shape
    np.testing.assert_allclose(candidate_lifts(weights, candidates.ids, version.metadata),
                               [story_lift(weights, version.metadata.article_terms(int(a)))
                                for a in version.metadata.articles_of(candidates.ids)])
    assert len(retriever.search(question, STORY_DEPTH)) > 3  # the answer chooses among more than k hits
