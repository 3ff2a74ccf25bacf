"""How well index/syndication.py tells republished copies of a story from different stories, and what it costs.

The labelled set is made from SQuAD dev articles (their paragraphs, not their questions): each base story is
four consecutive paragraphs of one article, dated. Its copies, which must be grouped with it: the same body
under another headline; the last paragraph trimmed; a paragraph trimmed and site boilerplate added (a link
with a page number, a copyright year, a "follow us" line); one word in twenty changed; all of these at once,
republished the next day. Its non-copies, which must stay apart: a different story on the same subject
(four other paragraphs of the same article); a follow-up sharing one paragraph of background with it; and
the same report with a changed figure, on the same day and a week later, and the next day's update that
keeps the report and adds a new figure (a rising toll is a timeline, not one story). Every pair of the set is scored: precision and recall over the pairs grouped together.

The shingle size and threshold were chosen on articles 0-23 and are reported on articles 24-47. Timing:
sketching and grouping 10,000 articles (SQuAD paragraphs recombined, a tenth of them copies) by MinHash
LSH, against exact Jaccard over every pair (measured on 1,000 and scaled by the pair count). With datasketch
installed, its MinHash is run in place of newsbot's numpy one on the held-out set, as a check.

    python -m benchmarks.research.syndication [--squad PATH] [--write-docs]
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from benchmarks.report import provenance, table, write_block
from newsbot.index import syndication
from newsbot.index.syndication import Sketch, group_copies, shingles, sketch

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "QUALITY.md"
SQUAD = ROOT.parent / "shared" / "eval" / "squad_v1.1_dev.jsonl"
TUNE, HELD_OUT = slice(0, 24), slice(24, 48)
PARAGRAPHS_PER_STORY = 4
STORIES_PER_ARTICLE = 3
DAY = date(2012, 1, 25)
SIZES = (3, 4, 5, 7)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
BOILERPLATE = ("Short link: http://english.example.org/News/32699.aspx",
               "Copyright 2012 Agence France-Presse. All rights reserved.",
               "Follow us on Twitter and Facebook for the latest news from the region.")
COPIES = ("new headline", "last paragraph trimmed", "trimmed + boilerplate", "1 word in 20 changed",
          "all of these, next day")
DIFFERENT = ("same subject, other paragraphs", "follow-up sharing a background paragraph",
             "changed figure, same day", "changed figure, a week later", "update adding a figure, next day")
_NUMBER = re.compile(r"\b\d+\b")


@dataclass(frozen=True)
class Labelled:
    id: str
    body: str
    published: date
    story: str  # the base story it is a copy of (itself for a base and for each non-copy)
    kind: str  # "base", or one of COPIES or DIFFERENT


def labelled_set(records: Sequence[dict], seed: int = 14) -> list[Labelled]:
    """The bases, their copies and their non-copies (see the module's docstring)."""
    rng = random.Random(seed)
    items: list[Labelled] = []
    for record in records:
        paragraphs = [p["context"] for p in record["paragraphs"]]
        windows = [paragraphs[i:i + PARAGRAPHS_PER_STORY]
                   for i in range(0, len(paragraphs) - PARAGRAPHS_PER_STORY + 1, PARAGRAPHS_PER_STORY)]
        spare = windows[STORIES_PER_ARTICLE:]  # each base's own two other stories on the subject, if the article has them
        for number, story in enumerate(windows[:STORIES_PER_ARTICLE]):
            others = spare[2 * number:2 * number + 2]
            items += _variants(f"{record['id']}/{number}", story, others if len(others) == 2 else None, rng)
    return items


def _variants(base: str, story: list[str], others: Sequence[list[str]] | None, rng: random.Random) -> list[Labelled]:
    def item(kind: str, paragraphs: Sequence[str], day: date = DAY, copy: bool = False) -> Labelled:
        return Labelled(f"{base}:{kind}", "\n\n".join(paragraphs), day, base if copy else f"{base}:{kind}", kind)

    trimmed = story[:-1]
    padded = [*story[:1], *story[2:], *BOILERPLATE]
    reworded = [_reword(p, rng) for p in story]
    items = [Labelled(f"{base}:base", "\n\n".join(story), DAY, base, "base"),
             item(COPIES[0], story, copy=True), item(COPIES[1], trimmed, copy=True),
             item(COPIES[2], padded, copy=True), item(COPIES[3], reworded, copy=True),
             item(COPIES[4], [_reword(p, rng) for p in trimmed] + list(BOILERPLATE[1:]), DAY + timedelta(1), True)]
    if others is not None:
        items += [item(DIFFERENT[0], others[0]), item(DIFFERENT[1], [*others[1][:3], story[0]])]
    changed = _change_figure("\n\n".join(story))
    if changed is not None:
        items += [item(DIFFERENT[2], [changed]), item(DIFFERENT[3], [changed], DAY + timedelta(7))]
    update = f"By the next morning the count had risen to {rng.randrange(600, 9000):,}, officials said."
    items.append(item(DIFFERENT[4], [*story, update], DAY + timedelta(1)))
    return items


def _reword(paragraph: str, rng: random.Random) -> str:
    """One word in twenty replaced (a copy editor's touch: a synonym, a spelling, a dropped word)."""
    words = paragraph.split(" ")
    for i in range(rng.randrange(20), len(words), 20):
        words[i] = rng.choice(("said", "the", "also", "reportedly", "")) if not _NUMBER.search(words[i]) else words[i]
    return " ".join(w for w in words if w)


def _change_figure(body: str) -> str | None:
    """The body with its first figure that is not a year raised, as a follow-up report changes a toll."""
    for match in _NUMBER.finditer(body):
        value = int(match.group())
        if not 1800 <= value <= 2100:
            return f"{body[:match.start()]}{value + 600}{body[match.end():]}"
    return None


def pair_scores(items: Sequence[Labelled], story_of: dict[str, str]) -> tuple[float, float]:
    """Precision and recall of 'grouped together' over every pair of the set."""
    true_positive = grouped = copies = 0
    for a, b in itertools.combinations(items, 2):
        same, predicted = a.story == b.story, story_of[a.id] == story_of[b.id]
        copies += same
        grouped += predicted
        true_positive += same and predicted
    return (true_positive / grouped if grouped else 1.0), (true_positive / copies if copies else 1.0)


def grouped(items: Sequence[Labelled], size: int, threshold: float,
            sketcher: Callable[[str, str, date, int], Sketch] | None = None) -> dict[str, str]:
    """Each item's story representative under the product's rule, with these settings (and these sketches)."""
    make = sketcher or (lambda id_, body, day, words: sketch(id_, body, day, size=words))
    stories = group_copies([make(i.id, i.body, i.published, size) for i in items], threshold)
    return {member: s.representative for s in stories for member in (s.representative, *s.copies)}


def datasketch_sketcher() -> Callable[[str, str, date, int], Sketch] | None:
    """The product's sketch with datasketch's MinHash (affine32, crc32) in place of newsbot's numpy one, when
    datasketch is installed (`pip install datasketch`): the check that the two agree."""
    try:
        from datasketch import MinHash
    except ImportError:
        return None
    permutations = MinHash(num_perm=syndication.PERMUTATIONS, scheme="affine32").permutations

    def make(id_: str, body: str, day: date, words: int) -> Sketch:
        ours = sketch(id_, body, day, size=words)
        minhash = MinHash(num_perm=syndication.PERMUTATIONS, permutations=permutations, scheme="affine32",
                          hashfunc=zlib.crc32)
        minhash.update_batch(shingles(body, words))
        return replace(ours, signature=minhash.hashvalues.astype("uint32"))
    return make


def by_kind(items: Sequence[Labelled], story_of: dict[str, str]) -> dict[str, float]:
    """The share of each kind grouped with its base."""
    bases = {i.story: story_of[i.id] for i in items if i.kind == "base"}
    kinds: dict[str, list[bool]] = {}
    for i in items:
        if i.kind != "base":
            base = i.id.rsplit(":", 1)[0]
            kinds.setdefault(i.kind, []).append(story_of[i.id] == bases[base])
    return {kind: sum(flags) / len(flags) for kind, flags in kinds.items()}


def timing(records: Sequence[dict], articles: int = 10_000, exact_sample: int = 1_000,
           seed: int = 14) -> dict[str, float]:
    """Seconds to sketch and group `articles` articles, and exact all-pairs Jaccard scaled from a sample."""
    rng = random.Random(seed)
    paragraphs = [p["context"] for r in records for p in r["paragraphs"]]
    bodies = ["\n\n".join(rng.sample(paragraphs, PARAGRAPHS_PER_STORY)) for _ in range(articles * 9 // 10)]
    bodies += ["\n\n".join(rng.choice(bodies).split("\n\n")[:-1]) for _ in range(articles - len(bodies))]
    started = time.perf_counter()
    sketches = [sketch(str(n), body, DAY) for n, body in enumerate(bodies)]
    sketched = time.perf_counter() - started
    started = time.perf_counter()
    stories = group_copies(sketches)
    grouping = time.perf_counter() - started
    sets = [frozenset(shingles(body)) for body in bodies[:exact_sample]]
    started = time.perf_counter()
    for a, b in itertools.combinations(sets, 2):
        _ = len(a & b) / len(a | b) >= syndication.SIMILARITY
    exact = (time.perf_counter() - started) * (articles * (articles - 1)) / (exact_sample * (exact_sample - 1))
    return {"articles": articles, "sketch": sketched, "group": grouping, "exact": exact,
            "copies": sum(len(s.copies) for s in stories)}


def load(path: Path) -> list[dict]:
    from newsbot.retrieval.evaluation.reqa import load_squad

    return load_squad(path)


def report(records: list[dict]) -> str:
    tune, held = labelled_set(records[TUNE]), labelled_set(records[HELD_OUT])
    sweep = []
    for size in SIZES:
        for threshold in THRESHOLDS:
            sweep.append((size, threshold, *pair_scores(tune, grouped(tune, size, threshold))))
    chosen = grouped(held, syndication.SHINGLE_WORDS, syndication.SIMILARITY)
    precision, recall = pair_scores(held, chosen)
    kinds = by_kind(held, chosen)
    cost = timing(records)
    other = datasketch_sketcher()
    compared = ([] if other is None else ["", "With datasketch's MinHash (affine32) in place of newsbot's numpy one, "
                "held-out pair precision {:.3f}, recall {:.3f}.".format(
                    *pair_scores(held, grouped(held, syndication.SHINGLE_WORDS, syndication.SIMILARITY, other)))])
    bases = sum(i.kind == "base" for i in held)
    lines = [
        f"Held-out (SQuAD dev articles 24-47: {bases} base stories, {len(held)} articles), the product's settings "
        f"({syndication.SHINGLE_WORDS}-word shingles, similarity >= {syndication.SIMILARITY}, at most "
        f"{syndication.MAX_DAYS_APART} days apart, no conflicting figures): pair precision "
        f"**{precision:.3f}**, recall **{recall:.3f}**.",
        "",
        table(["article, against its base story", "should be grouped", "grouped with it (held-out)"],
              [(kind, "yes" if kind in COPIES else "no", f"{kinds.get(kind, 0):.0%}") for kind in COPIES + DIFFERENT],
              "llr"),
        "",
        "Tuning (articles 0-23): pair precision / recall by shingle size and threshold.",
        "",
        table(["shingle words", *(f"≥ {t}" for t in THRESHOLDS)],
              [(size, *(f"{p:.2f} / {r:.2f}" for s, t, p, r in sweep if s == size)) for size in SIZES],
              "r" + "r" * len(THRESHOLDS)),
        "",
        f"Cost, {cost['articles']:,} articles (a tenth of them trimmed copies; {cost['copies']:,} grouped, as "
        "recombining paragraphs at random also makes a few near-copies): "
        f"sketching {cost['sketch']:.1f} s, grouping by MinHash LSH {cost['group']:.1f} s; exact Jaccard over "
        f"every pair would take about {cost['exact']:,.0f} s (measured on 1,000 articles, scaled by the pair count).",
        *compared,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/QUALITY.md")
    args = parser.parse_args(argv)
    if not args.squad.is_file():
        print(f"{args.squad} is missing", file=sys.stderr)
        return 2
    text = report(load(args.squad))
    print(text)
    if args.write_docs:
        write_block(PAGE, "quality-syndication",
                    provenance("python -m benchmarks.research.syndication --write-docs") + "\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
