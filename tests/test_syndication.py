"""Republished copies of a story: recognised (index/syndication.py), indexed once as one story with all its
sources (index/build.py), and cited by every source in answers, `ask --json` and /sources."""

from __future__ import annotations

import itertools
import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from newsbot.bot.citation import cite
from newsbot.bot.cli import main
from newsbot.bot.console import citation as console_citation
from newsbot.index import build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.index.manifest import read_manifest
from newsbot.index.metadata import ArticleCopy, ArticleInfo
from newsbot.index.syndication import Sketch, group_copies, same_story, signature, sketch
from newsbot.retrieval import Retriever
from tests.bot_harness import ADMIN, in_process_bot
from tests.fake_bot_api import visible_text

DAY = date(2012, 1, 25)
LEAD = ("An earthquake of magnitude 6.4 struck the coastal province of Valparaiso early on Wednesday, "
        "damaging hundreds of homes and cutting power to thousands of families across the region.")
STORY = [
    LEAD,
    "Rescue teams searched collapsed buildings in the port town through the night, and the regional "
    "governor said that at least 37 people had been taken to hospital with injuries.",
    "Seismologists at the national university said the quake was centred twenty kilometres off the coast "
    "at a depth of thirty kilometres, and warned residents to expect strong aftershocks for several days.",
    "Schools across the province will stay closed on Thursday while engineers inspect their walls, the "
    "education ministry said in a statement published on its website late on Wednesday evening.",
]
OTHER_SUBJECT = [
    "The central bank kept its main interest rate unchanged on Wednesday, saying inflation had slowed for a "
    "third month in a row while growth in exports remained weaker than its economists had expected.",
    "Analysts had widely predicted the decision, and the currency moved little after the announcement, "
    "although two members of the board voted for a cut of a quarter of a percentage point.",
]
SAME_SUBJECT = [
    "A second earthquake shook the mountains of the north on Friday, far from the coast, where villagers "
    "said that old adobe churches had cracked and that landslides had closed the only road to the valley.",
    "Officials in the northern region said no one had been hurt there, and they sent engineers by "
    "helicopter to look at two dams above the villages before the rains of the coming week.",
]
FOLLOW_UP = ("A week after the earthquake, families who lost their homes in the port town were still sleeping in "
             "tents on the football ground, and the mayor asked the government for money to rebuild the market.")
BOILERPLATE = "Copyright 2012 Agence France-Presse. All rights reserved. Short link: http://example.org/News/32699.aspx"


def _sketch(name: str, paragraphs: list[str], day: date | None = DAY) -> Sketch:
    return sketch(name, "\n\n".join(paragraphs), day)


def _stories(*sketches: Sketch) -> set[frozenset[str]]:
    return {frozenset((story.representative, *story.copies)) for story in group_copies(sketches)}


def test_copies_with_another_headline_a_trimmed_paragraph_or_boilerplate_are_one_story() -> None:
    reworded = [p.replace("searched", "combed").replace("warned residents", "told people") for p in STORY]
    copies = [_sketch("wire", STORY), _sketch("trimmed", STORY[:-1]), _sketch("padded", [*STORY, BOILERPLATE]),
              _sketch("reworded", reworded), _sketch("next day", STORY[:-1] + [BOILERPLATE], DAY + timedelta(1))]
    assert _stories(*copies) == {frozenset(c.id for c in copies)}


def test_different_stories_on_one_subject_or_sharing_a_background_paragraph_stay_apart() -> None:
    follow_up = _sketch("follow-up", [FOLLOW_UP, LEAD])  # a new report that repeats the first's lead
    assert _stories(_sketch("story", STORY), _sketch("same subject", SAME_SUBJECT), follow_up,
                    _sketch("other", OTHER_SUBJECT)) == {frozenset({name}) for name in
                                                         ("story", "same subject", "follow-up", "other")}


@pytest.mark.parametrize("later", [0, 1, 7])
def test_a_follow_up_with_a_changed_figure_is_another_report_on_any_day(later: int) -> None:
    update = [STORY[0], STORY[1].replace("at least 37 people", "at least 52 people"), *STORY[2:]]
    first, second = _sketch("first", STORY), _sketch("update", update, DAY + timedelta(later))
    assert not same_story(first, second)
    assert _stories(first, second) == {frozenset({"first"}), frozenset({"update"})}


def test_a_later_update_that_adds_a_figure_is_another_report_but_a_later_trimmed_copy_is_not() -> None:
    update = [*STORY, "By Thursday morning the number in hospital had risen to 52, officials said."]
    assert same_story(_sketch("first", STORY), _sketch("same day", update))  # a fuller copy of the day
    assert not same_story(_sketch("first", STORY), _sketch("update", update, DAY + timedelta(1)))
    assert same_story(_sketch("first", update), _sketch("trimmed", STORY, DAY + timedelta(1)))


def test_a_figure_changed_where_it_also_appears_elsewhere_still_counts() -> None:
    twice = [STORY[0], STORY[1], "Of the 37 people taken to hospital, most were released by the evening."]
    changed = [STORY[0], STORY[1].replace("37", "52"), twice[2]]
    assert not same_story(_sketch("a", twice), _sketch("b", changed))


def test_the_same_text_a_week_apart_is_another_report_and_undated_copies_group() -> None:
    assert not same_story(_sketch("a", STORY), _sketch("b", STORY, DAY + timedelta(7)))
    assert same_story(_sketch("a", STORY), _sketch("b", STORY[:-1], None))


def test_short_texts_group_only_when_they_are_the_same_words() -> None:
    brief = "The marker anchor appears in this story. A second sentence follows."
    assert not same_story(sketch("a", brief, DAY), sketch("b", brief.replace("anchor", "zebra"), DAY))
    assert same_story(sketch("a", brief, DAY), sketch("b", brief.upper(), DAY))


def test_the_representative_is_the_earliest_then_the_longest_then_the_first_id_in_any_order() -> None:
    articles = [_sketch("b-full", STORY, DAY + timedelta(1)), _sketch("c-early", STORY[:-1]),
                _sketch("a-early", STORY[:-1]), _sketch("d-early-long", [*STORY[:-1], BOILERPLATE])]
    expected = ("d-early-long", ("a-early", "c-early", "b-full"))
    for order in itertools.permutations(articles):
        [story] = group_copies(order)
        assert (story.representative, story.copies) == expected
    [undated_last] = group_copies([_sketch("dated", STORY[:-1]), _sketch("undated", STORY, None)])
    assert undated_last.representative == "dated"


def test_a_copy_joins_a_representative_so_a_chain_of_edits_cannot_merge_two_reports() -> None:
    # "middle" is a copy of each (a trimmed copy lacks the changed figure), the two reports disagree
    first = _sketch("first", STORY)
    middle = _sketch("middle", [STORY[0], *STORY[2:]])
    update = _sketch("update", [STORY[0], STORY[1].replace("37", "52"), *STORY[2:]])
    assert same_story(first, middle) and same_story(middle, update) and not same_story(first, update)
    stories = _stories(first, middle, update)
    assert frozenset({"first", "update"}) not in stories and not any({"first", "update"} <= s for s in stories)


def test_the_signature_estimates_the_jaccard_similarity_of_the_shingles() -> None:
    items = [f"shingle {n}".encode() for n in range(3000)]
    half = signature(items[:2000]), signature(items[1000:])  # 1,000 shared of 3,000: Jaccard 1/3
    estimate = float((half[0] == half[1]).mean())
    assert abs(estimate - 1 / 3) < 0.15  # four standard errors of 128 permutations
    assert (signature(items) == signature(list(reversed(items)))).all()  # a set: order does not count
    assert float((signature(items[:1000]) == signature(items[2000:])).mean()) < 0.05


def test_among_two_thousand_distinct_articles_only_their_copies_group() -> None:
    rng = random.Random(14)
    words = [f"w{n}" for n in range(5000)]
    bodies = [" ".join(rng.choices(words, k=300)) for _ in range(2000)]
    sketches = [sketch(str(n), body, DAY) for n, body in enumerate(bodies + bodies[:20])]
    stories = group_copies(sketches)
    assert len(stories) == 2000 and sum(len(s.copies) for s in stories) == 20


# --- the build, the answers, the listings ---

SOURCES = {"afp.txt": ("AFP", "Quake hits Valparaiso", STORY, "https://afp.example/quake"),
           "reuters.txt": ("Reuters", "Strong earthquake strikes Chilean coast", STORY[:-1], None),
           "ahram.txt": ("Al-Ahram", "Chile quake injures dozens", [*STORY, BOILERPLATE], None)}
QUESTION = "How many people were taken to hospital after the earthquake?"


def _write(folder: Path, name: str, source: str, title: str, paragraphs: list[str], url: str | None = None,
           day: date = DAY) -> None:
    header = f"title: {title}\nsource: {source}\ndate: {day.isoformat()}\n" + (f"url: {url}\n" if url else "")
    (folder / name).write_text(header + "\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")


@pytest.fixture
def wire_corpus(tmp_path: Path) -> Path:
    """Three copies of one story (the longest carried by Al-Ahram) and an unrelated one."""
    folder = tmp_path / "wire"
    folder.mkdir()
    for name, (source, title, paragraphs, url) in SOURCES.items():
        _write(folder, name, source, title, paragraphs, url)
    _write(folder, "bank.txt", "Bloomberg", "Central bank holds rates", OTHER_SUBJECT)
    return folder


def test_three_copies_are_indexed_once_and_the_answer_cites_all_three_sources(wire_corpus: Path,
                                                                              tmp_path: Path) -> None:
    report = build_index(wire_corpus, tmp_path / "index", HashingEmbedder())
    assert (report.articles, report.copies, report.stories) == (4, 2, 2)
    manifest = read_manifest(report.version)
    assert (manifest.articles, manifest.copies) == (4, 2)
    alone = tmp_path / "alone"  # the longest copy and the other story: what the index must hold
    alone.mkdir()
    for name in ("ahram.txt", "bank.txt"):
        (alone / name).write_bytes((wire_corpus / name).read_bytes())
    assert report.sentences == build_index(alone, tmp_path / "alone-index", HashingEmbedder()).sentences
    retriever = Retriever.open(tmp_path / "index", embedder=HashingEmbedder())
    try:
        hits = retriever.search(QUESTION, k=10)
        hospital = [hit for hit in hits if "taken to hospital" in hit.text]
        assert len(hospital) == 1
        story = hospital[0].article
        assert story.id == "ahram.txt" and story.sources == ("Al-Ahram", "AFP", "Reuters")
        assert [copy.id for copy in story.copies] == ["afp.txt", "reuters.txt"]
        assert cite(story).details == "Al-Ahram, AFP, Reuters, 25 Jan 2012"
        assert cite(story).url == "https://afp.example/quake"  # the story's link, from the copy that has one
        listed = retriever.articles()
        assert sorted(a.id for a in listed) == ["ahram.txt", "bank.txt"]
        assert next(a for a in listed if a.id == "bank.txt").copies == ()
    finally:
        retriever.close()


def test_indexing_twice_is_stable_and_removing_the_representative_promotes_a_copy(wire_corpus: Path,
                                                                                  tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    first = build_index(wire_corpus, index_dir, HashingEmbedder())
    again = build_index(wire_corpus, index_dir, HashingEmbedder())
    assert again.up_to_date and again.version == first.version and again.copies == 2
    (wire_corpus / "ahram.txt").unlink()
    promoted = build_index(wire_corpus, index_dir, HashingEmbedder())
    assert not promoted.up_to_date and (promoted.articles, promoted.copies) == (3, 1)
    retriever = Retriever.open(index_dir, embedder=HashingEmbedder())
    try:
        story = next(a for a in retriever.articles() if a.id != "bank.txt")
        assert story.id == "afp.txt" and story.sources == ("AFP", "Reuters")  # the longest left
        assert [hit.article.id for hit in retriever.search(QUESTION, k=10) if "taken to hospital" in hit.text] == [
            "afp.txt"]
    finally:
        retriever.close()


def test_a_storys_copies_are_named_earliest_first_whatever_their_file_names(wire_corpus: Path,
                                                                            tmp_path: Path) -> None:
    _write(wire_corpus, "0-late.txt", "Late Daily", "Quake: dozens hurt", STORY[:-1], day=DAY + timedelta(2))
    build_index(wire_corpus, tmp_path / "index", HashingEmbedder())
    retriever = Retriever.open(tmp_path / "index", embedder=HashingEmbedder())
    try:
        story = next(a for a in retriever.articles() if a.id == "ahram.txt")
        assert story.sources == ("Al-Ahram", "AFP", "Reuters", "Late Daily")
    finally:
        retriever.close()


def test_a_changed_copy_is_regrouped_on_the_next_build(wire_corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    build_index(wire_corpus, index_dir, HashingEmbedder())
    _write(wire_corpus, "reuters.txt", "Reuters", "Chile quake toll rises",
           [STORY[0], STORY[1].replace("37", "52"), *STORY[2:3]], day=DAY + timedelta(1))
    report = build_index(wire_corpus, index_dir, HashingEmbedder())
    assert (report.articles, report.copies) == (4, 1)  # an update with another figure: a report of its own


def test_ask_json_gives_each_hit_its_copies_and_sources(wire_corpus: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    dirs = ["--corpus-dir", str(wire_corpus), "--index-dir", str(tmp_path / "index"), "--model", "hashing"]
    assert main(["index", *dirs]) == 0
    assert "Indexed 4 articles (2 stories: 2 republished copies grouped with their story)" in capsys.readouterr().out
    assert main(["ask", *dirs, "--json", "-k", "5", QUESTION]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    article = next(hit["article"] for hit in hits if hit["article"]["id"] == "ahram.txt")
    assert article["sources"] == ["Al-Ahram", "AFP", "Reuters"]
    assert article["copies"] == [
        {"id": "afp.txt", "title": "Quake hits Valparaiso", "source": "AFP", "published": "2012-01-25",
         "url": "https://afp.example/quake"},
        {"id": "reuters.txt", "title": "Strong earthquake strikes Chilean coast", "source": "Reuters",
         "published": "2012-01-25", "url": None}]


def test_a_citation_names_each_source_once_and_at_most_four() -> None:
    def copy(n: int, source: str | None) -> ArticleCopy:
        return ArticleCopy(f"c{n}", "Copy", source, DAY, None)

    story = ArticleInfo("a", "Quake", "AFP", DAY, None, copies=(copy(1, "Reuters"), copy(2, "AFP"), copy(3, None)))
    assert story.sources == ("AFP", "Reuters")
    assert console_citation(story) == "Quake (AFP, Reuters, 25 Jan 2012)"
    many = ArticleInfo("a", "Quake", "AFP", DAY, None, copies=tuple(copy(n, f"Site {n}") for n in range(5)))
    assert cite(many).details == "AFP, Site 0, Site 1, Site 2 and 2 more, 25 Jan 2012"
    unsourced = ArticleInfo("a", "Quake", None, DAY, None, copies=(copy(1, "Reuters"),))
    assert cite(unsourced).details == "Reuters, 25 Jan 2012"


async def test_sources_lists_a_story_once_naming_its_sources(tmp_path: Path, wire_corpus: Path) -> None:
    async with in_process_bot(tmp_path, wire_corpus) as harness:  # adds the zebra article
        [page] = await harness.say("/sources")
        shown = visible_text(page.text)
        assert shown.startswith("Articles 1–3 of 3")
        assert shown.count("Chile quake injures dozens") == 1 and "Quake hits Valparaiso" not in shown
        assert "Al-Ahram, AFP, Reuters, 25 Jan 2012" in shown
        [answer] = await harness.say(QUESTION)
        text = visible_text(answer.text)
        assert text.count("taken to hospital") == 1 and "Al-Ahram, AFP, Reuters" in text
        [stats] = await harness.say("/stats", chat_id=ADMIN)
        assert "Articles: 5 (3 stories)" in visible_text(stats.text)
