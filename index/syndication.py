"""Recognise republished copies of one story (a wire report carried by many sites, with its own headline,
a paragraph trimmed or boilerplate added), so the index holds the story once and names all its sources.

Pure logic, no I/O: `sketch` summarises an article in a few hundred bytes (a MinHash signature of its
body's word shingles; its numbers; its date; its length), and `group_copies` turns the sketches of a
corpus into stories, LSH banding proposing the pairs to compare. MinHash and the banding are numpy here,
datasketch's "affine32" scheme (a MurmurHash3 finalizer, then 128 affine permutations mod 2^32): datasketch
itself imports scipy, which costs every `newsbot` command 0.4 s when imported at start and, imported at the
first build, loads a BLAS library after the process set its BLAS to one thread (retrieval/threads.py).

Two articles are copies of one story when all three hold (`same_story`):

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

import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

SHINGLE_WORDS = 3  # word 3-grams: a changed word alters only 3 shingles; other stories on the subject still share few
# estimated Jaccard: pair precision 0.96, recall 0.89 on the tuning half; 0.3 adds 0.02 of recall on it, but leaves
# less margin for what the SQuAD set lacks and news has (stock phrases, shared background between reports)
SIMILARITY = 0.4
MAX_DAYS_APART = 3  # republished the same day or the next ones, time zones and late sites included
SHORT_WORDS = 40  # a two-sentence brief: "The marker anchor appears..." and "The marker txt0 appears..." share half
PERMUTATIONS = 128  # the estimate's standard error is at most 0.044 (sqrt(1/4/128)) around the threshold
# LSH: 42 bands of 3 rows make a pair a candidate with probability 0.94 at similarity 0.4 and 0.68 at 0.3
# (1 - (1 - s^3)^42); the candidates are then compared on the whole signature
BANDS, ROWS = 42, 3
_CHUNK = 4096  # shingles permuted at once: bounds the temporary array of a very long article (4096 x 128)
_MASK = np.uint64(0xFFFFFFFF)
SKETCH_VERSION = f"minhash-{SHINGLE_WORDS}w-{PERMUTATIONS}p-{SIMILARITY}-{MAX_DAYS_APART}d-{SHORT_WORDS}short-numbers"
"""Changes whenever the grouping could: part of the corpus fingerprint, so a change rebuilds the index."""

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"1[89]\d\d|20\d\d")
_LINK = re.compile(r"\S+://\S+|www\.\S+")  # a page's own link or id in boilerplate is not a figure of the story


@dataclass(frozen=True, eq=False)
class Sketch:
    """What grouping needs of an article: its identity, date, length, figures and MinHash signature."""

    id: str
    published: date | None
    length: int  # characters of the body: the longest copy of a day is the story's representative
    words: int
    numbers: frozenset[str]  # its figures with their repeats: '50#0', '50#1'
    signature: np.ndarray  # PERMUTATIONS uint32 minima


@dataclass(frozen=True)
class Story:
    """A story and the articles that are its copies, in the order of `representative_order`."""

    representative: str
    copies: tuple[str, ...]


def sketch(article_id: str, body: str, published: date | None, *, size: int = SHINGLE_WORDS) -> Sketch:
    """The article's sketch (a few hundred bytes, whatever the article's length); `size`: the shingles' words."""
    words = _WORD.findall(body.lower())
    found = Counter(n for n in _NUMBER.findall(_LINK.sub(" ", body)) if not _YEAR.fullmatch(n))
    numbers = frozenset(f"{n}#{k}" for n, count in found.items() for k in range(count))  # a multiset as a set
    return Sketch(article_id, published, len(body), len(words), numbers, signature(_shingles(words, size)))


def signature(items: Sequence[bytes]) -> np.ndarray:
    """The MinHash signature of a set of byte strings: for each permutation, the least permuted hash."""
    hashes = _fmix32(np.fromiter((zlib.crc32(item) for item in items), dtype=np.uint64, count=len(items)))
    multipliers, offsets = _permutations()
    least = np.full(PERMUTATIONS, _MASK, dtype=np.uint64)
    for start in range(0, len(hashes), _CHUNK):  # a * h + b wraps mod 2^64, a multiple of 2^32: mod 2^32 is exact
        permuted = (np.outer(hashes[start:start + _CHUNK], multipliers) + offsets) & _MASK
        np.minimum(least, permuted.min(axis=0), out=least)
    return least.astype(np.uint32)


def shingles(text: str, size: int = SHINGLE_WORDS) -> list[bytes]:
    """The text's lower-cased word n-grams (a text shorter than n is one shingle), encoded for hashing."""
    return _shingles(_WORD.findall(text.lower()), size)


def _shingles(words: Sequence[str], size: int) -> list[bytes]:
    if len(words) <= size:
        return [" ".join(words).encode()]
    return [" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)]


def similarity(a: Sketch, b: Sketch) -> float:
    """The estimated Jaccard similarity of the two bodies' shingles."""
    return float(np.count_nonzero(a.signature == b.signature)) / PERMUTATIONS


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
    of (the representatives sharing a band of its signature are the candidates, `same_story` decides), else
    starts a story. Joining a representative, never a copy, keeps a chain of small edits (A~B, B~C) from
    merging two reports that differ (A, C).
    Stories come in the order of their representatives; the result depends only on the set of articles.
    """
    ordered = sorted(sketches, key=representative_order)
    bands: dict[bytes, list[int]] = {}  # a band of a representative's signature -> the representatives' positions
    members: dict[int, list[str]] = {}  # a representative's position -> its copies
    for position, item in enumerate(ordered):
        keys = _band_keys(item.signature)
        candidates = sorted({found for key in keys for found in bands.get(key, ())})
        joined = next((found for found in candidates if same_story(ordered[found], item, threshold)), None)
        if joined is None:
            members[position] = []
            for key in keys:
                bands.setdefault(key, []).append(position)
        else:
            members[joined].append(item.id)
    return [Story(ordered[position].id, tuple(copies)) for position, copies in members.items()]


def copies_of(stories: Sequence[Story]) -> dict[str, str]:
    """Each copy's representative, by the copy's id, the copies of each story in their order."""
    return {copy: story.representative for story in stories for copy in story.copies}


def _band_keys(signature: np.ndarray) -> list[bytes]:
    """The signature's BANDS bands of ROWS values, each keyed with its number."""
    return [bytes([band]) + signature[band * ROWS:(band + 1) * ROWS].tobytes() for band in range(BANDS)]


def _fmix32(hashes: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer: spreads crc32's structured values before the affine permutations."""
    hashes = hashes ^ (hashes >> np.uint64(16))
    hashes = (hashes * np.uint64(0x85EBCA6B)) & _MASK
    hashes = hashes ^ (hashes >> np.uint64(13))
    hashes = (hashes * np.uint64(0xC2B2AE35)) & _MASK
    return hashes ^ (hashes >> np.uint64(16))


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The permutations' odd multipliers and offsets, from SHA-256 rather than a random generator whose stream
    may change with numpy's version: the same grouping in every process and with every numpy."""
    def word(label: str) -> int:
        return int.from_bytes(hashlib.sha256(label.encode()).digest()[:4], "little")

    multipliers = np.array([word(f"multiplier {n}") | 1 for n in range(PERMUTATIONS)], dtype=np.uint64)
    return multipliers, np.array([word(f"offset {n}") for n in range(PERMUTATIONS)], dtype=np.uint64)
