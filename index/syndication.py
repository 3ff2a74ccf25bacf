"""Recognise republished copies of one story (a wire report carried by many sites, with its own headline,
a paragraph trimmed or boilerplate added), so the index holds the story once and names all its sources.

Pure logic, no I/O: `sketch` summarises an article in a few hundred bytes (MinHash over its body's word
shingles, datasketch; its numbers; its date; its length), and `group_copies` turns the sketches of a
corpus into stories. Two articles are copies of one story when all three hold (`same_story`):

- their bodies' estimated Jaccard similarity of word shingles reaches `SIMILARITY` (for a body shorter than
  `SHORT_WORDS`, where one word is a large share of the shingles, they must be the same shingles);
- they were published at most `MAX_DAYS_APART` days apart (or either is undated);
- they do not disagree on a figure: a follow-up that replaces "more than 5,400" by "6,000" has a number
  the other lacks on *both* sides (counted with repeats, so "50" changed in one of its two places
  counts), which a trimmed copy (numbers only removed) or an added boilerplate line (numbers only
  added) never has; and a report published on a later day holds no figure the earlier one lacks (an
  update that adds "the toll rose to 6,000" and keeps "up from 5,400"). Years and the numbers of links
  are left out: a copyright line or a site's own page link is not a figure of the story. Such
  follow-ups are different reports, shown as a dated timeline, not merged.

The constants were chosen on a labelled set of copies and of different stories on the same subject built
from SQuAD dev articles 0-23 and checked on articles 24-47 (`benchmarks/research/syndication.py`,
docs/QUALITY.md#republished-stories).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

SHINGLE_WORDS = 3  # word 3-grams: a changed word alters only 3 shingles; other stories on the subject still share few
# estimated Jaccard: pair precision 0.96, recall 0.88 on the tuning half; 0.3 adds 0.03 of recall on it, but leaves
# less margin for what the SQuAD set lacks and news has (stock phrases, shared background between reports)
SIMILARITY = 0.4
MAX_DAYS_APART = 3  # republished the same day or the next ones, time zones and late sites included
SHORT_WORDS = 40  # a two-sentence brief: "The marker anchor appears..." and "The marker txt0 appears..." share half
PERMUTATIONS = 128  # the estimate's standard error is at most 0.044 (sqrt(1/4/128)) around the threshold
SKETCH_VERSION = f"minhash-{SHINGLE_WORDS}w-{PERMUTATIONS}p-{SIMILARITY}-{MAX_DAYS_APART}d-{SHORT_WORDS}short-numbers"
"""Changes whenever the grouping could: part of the corpus fingerprint, so a change rebuilds the index."""

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"1[89]\d\d|20\d\d")
_LINK = re.compile(r"\S+://\S+|www\.\S+")  # a page's own link or id in boilerplate is not a figure of the story


@dataclass(frozen=True)
class Sketch:
    """What grouping needs of an article: its identity, date, length, figures and MinHash."""

    id: str
    published: date | None
    length: int  # characters of the body: the longest copy of a day is the story's representative
    words: int
    numbers: frozenset[str]  # its figures with their repeats: '50#0', '50#1'
    minhash: LeanMinHash


@dataclass(frozen=True)
class Story:
    """A story and the articles that are its copies, in the order of `representative_order`."""

    representative: str
    copies: tuple[str, ...]


def sketch(article_id: str, body: str, published: date | None, *, size: int = SHINGLE_WORDS) -> Sketch:
    """The article's sketch (a few hundred bytes, whatever the article's length); `size`: the shingles' words."""
    minhash = MinHash(num_perm=PERMUTATIONS, permutations=_permutations(), scheme="affine32", hashfunc=zlib.crc32)
    words = _WORD.findall(body.lower())
    minhash.update_batch(_shingles(words, size))
    found = Counter(n for n in _NUMBER.findall(_LINK.sub(" ", body)) if not _YEAR.fullmatch(n))
    numbers = frozenset(f"{n}#{k}" for n, count in found.items() for k in range(count))  # a multiset as a set
    return Sketch(article_id, published, len(body), len(words), numbers, LeanMinHash(minhash))


def shingles(text: str, size: int = SHINGLE_WORDS) -> list[bytes]:
    """The text's lower-cased word n-grams (a text shorter than n is one shingle), encoded for hashing."""
    return _shingles(_WORD.findall(text.lower()), size)


def _shingles(words: Sequence[str], size: int) -> list[bytes]:
    if len(words) <= size:
        return [" ".join(words).encode()]
    return [" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)]


def similarity(a: Sketch, b: Sketch) -> float:
    """The estimated Jaccard similarity of the two bodies' shingles."""
    return float(a.minhash.jaccard(b.minhash))


def conflicting_figures(a: Sketch, b: Sketch) -> bool:
    """Whether each holds a number the other lacks (a changed figure, not a trimmed or padded copy), or the
    one published on a later day holds a number the earlier lacks (an update adding a figure)."""
    if a.published is not None and b.published is not None and a.published != b.published:
        earlier, later = sorted((a, b), key=lambda item: item.published or date.min)
        return bool(later.numbers - earlier.numbers)
    return bool(a.numbers - b.numbers) and bool(b.numbers - a.numbers)


def days_apart(a: Sketch, b: Sketch) -> int | None:
    return None if a.published is None or b.published is None else abs((a.published - b.published).days)


def same_story(a: Sketch, b: Sketch, threshold: float = SIMILARITY) -> bool:
    """Whether the two are copies of one story (the rule in the module's docstring)."""
    apart = days_apart(a, b)
    needed = 1.0 if min(a.words, b.words) < SHORT_WORDS else threshold
    return ((apart is None or apart <= MAX_DAYS_APART) and not conflicting_figures(a, b)
            and similarity(a, b) >= needed)


def representative_order(item: Sketch) -> tuple[bool, date, int, str]:
    """The order in which articles become a story's representative: the earliest published (undated last),
    then the longest body (the fullest copy), then the id, so the choice never depends on reading order."""
    return item.published is None, item.published or date.min, -item.length, item.id


def group_copies(sketches: Iterable[Sketch], threshold: float = SIMILARITY) -> list[Story]:
    """The stories of these articles, each with its copies; a story of one article has none.

    Articles are taken in `representative_order`; each joins the first earlier representative it is a copy
    of (LSH proposes the candidates, `same_story` decides), else starts a story. Joining a representative,
    never a copy, keeps a chain of small edits (A~B, B~C) from merging two reports that differ (A, C).
    Stories come in the order of their representatives; the result depends only on the set of articles.
    """
    ordered = sorted(sketches, key=representative_order)
    index = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS)
    representatives: dict[str, tuple[int, Sketch]] = {}  # by id: its position in the order, its sketch
    members: dict[str, list[str]] = {}
    for position, item in enumerate(ordered):
        candidates = sorted(index.query(item.minhash), key=lambda found: representatives[found][0])
        joined = next((found for found in candidates if same_story(representatives[found][1], item, threshold)), None)
        if joined is None:
            representatives[item.id] = position, item
            members[item.id] = []
            index.insert(item.id, item.minhash)
        else:
            members[joined].append(item.id)
    return [Story(representative, tuple(copies)) for representative, copies in members.items()]


def copies_of(stories: Sequence[Story]) -> dict[str, str]:
    """Each copy's representative, by the copy's id."""
    return {copy: story.representative for story in stories for copy in story.copies}


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The shared permutations (seed 1): made once, not per article, and the same in every process."""
    return MinHash(num_perm=PERMUTATIONS, scheme="affine32").permutations
