"""Body F1 of web article extractors on the hand-written pages of tests/data/web, by the ScrapingHub
article-extraction benchmark's measure: each page's body as a multiset of word 4-gram shingles,
precision and recall of the extracted shingles against the expected ones, per page, then averaged.

It decided which extractor corpus/web/extract.py uses: trafilatura (the product's own path, with its
refusals and title handling) against readability-lxml (when installed: `pip install readability-lxml`),
a widely used alternative. The fixtures are few and written by hand, so the table is a check that the
chosen extractor keeps the article and drops the boilerplate, not a ranking to publish.

With `--benchmark DIR` (a copy of github.com/scrapinghub/article-extraction-benchmark: html/*.html.gz and
ground-truth.json, 181 real news and blog pages) it also measures the whole path of `newsbot add URL
--dry-run`: each page served from 127.0.0.1 (no charset in the header, as many servers send it), fetched,
decoded and extracted by `fetch_article`, a refused page scoring an empty body; scored as the benchmark's
evaluate.py does (precision averaged over the pages with a prediction, recall over all, F1 of the two means).
No setting was fitted to those pages.

    python -m benchmarks.research.extraction [--write] [--benchmark DIR]   (--write: the tables into docs/QUALITY.md)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from statistics import mean

from benchmarks.report import provenance, table, write_block
from newsbot.corpus.web.extract import NotAnArticleError, extract_article
from tests.web_server import local_site, send

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "web"
PAGE = ROOT / "docs" / "QUALITY.md"
SHINGLE = 4
_WORD = re.compile(r"\w+")


def shingles(text: str, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """The benchmark's unit: word n-grams as written (its evaluate.py keeps case), counted (a text shorter
    than n is one shingle)."""
    words = _WORD.findall(text)
    if len(words) < n:
        return Counter([tuple(words)]) if words else Counter()
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def precision_recall(expected: str, extracted: str) -> tuple[float, float]:
    """One page's shingle precision and recall; an empty side scores 1 only when the other is empty too."""
    truth, found = shingles(expected), shingles(extracted)
    common = sum((truth & found).values())
    precision = common / sum(found.values()) if found else float(not truth)
    recall = common / sum(truth.values()) if truth else float(not found)
    return precision, recall


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def article_pages() -> list[tuple[str, str, str]]:
    """(name, html, expected body) of each fixture that holds an article."""
    expected = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
    return [(name, (FIXTURES / f"{name}.html").read_text(encoding="utf-8"), "\n\n".join(page["body"]))
            for name, page in expected.items() if "body" in page]


def newsbot_body(html: str, url: str) -> str:
    try:
        return "\n\n".join(extract_article(html, url).paragraphs)
    except NotAnArticleError:
        return ""


def readability_body(html: str, url: str) -> str:
    from lxml import html as lxml_html
    from readability import Document  # type: ignore[import-not-found]

    summary = Document(html, url=url).summary(html_partial=True)
    return lxml_html.fromstring(summary).text_content() if summary.strip() else ""


def extractors() -> dict[str, Callable[[str, str], str]]:
    found: dict[str, Callable[[str, str], str]] = {"trafilatura (newsbot)": newsbot_body}
    try:
        import readability  # type: ignore[import-not-found]  # noqa: F401
        found["readability-lxml"] = readability_body
    except ImportError:
        print("readability-lxml is not installed: measuring trafilatura alone", file=sys.stderr)
    return found


def measure() -> list[tuple[str, float, float, float]]:
    """(extractor, mean precision, mean recall, mean per-page F1) over the article fixtures."""
    rows = []
    pages = article_pages()
    for name, extract in extractors().items():
        scores = [precision_recall(body, extract(html, f"https://fixture.example/{page}"))
                  for page, html, body in pages]
        rows.append((name, mean(p for p, _ in scores), mean(r for _, r in scores), mean(f1(p, r) for p, r in scores)))
    return rows


def measure_public(folder: Path) -> tuple[float, float, float, list[str]]:
    """(precision, recall, F1, refused page URLs) of newsbot's fetch and extraction on the public benchmark."""
    from newsbot.corpus.web.ingest import PageRefused, fetch_article

    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    routes = {f"/{key}": send(200, gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()), "text/html")
              for key in truth}
    scores, refused = [], []
    os.environ["NEWSBOT_ALLOW_PRIVATE_URLS"] = "1"  # the pages come from 127.0.0.1
    with local_site(routes) as site:
        for key, page in truth.items():
            try:
                body = "\n\n".join(fetch_article(f"{site.url}/{key}").paragraphs)
            except PageRefused:
                body, refused = "", [*refused, page["url"]]
            scores.append((precision_recall(page["articleBody"], body), bool(body)))
    precision = mean(p for (p, _), predicted in scores if predicted)
    recall = mean(r for (_, r), _ in scores)
    return precision, recall, f1(precision, recall), refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the tables into docs/QUALITY.md")
    parser.add_argument("--benchmark", type=Path, help="a copy of scrapinghub/article-extraction-benchmark")
    args = parser.parse_args()
    if args.benchmark:
        precision, recall, score, refused = measure_public(args.benchmark)
        public = "\n\n".join([
            provenance("python -m benchmarks.research.extraction --write --benchmark DIR"),
            table(["path", "pages", "precision", "recall", "body F1", "refused"],
                  [("`newsbot add --dry-run` (fetch + trafilatura)", "181", f"{precision:.3f}", f"{recall:.3f}",
                    f"{score:.3f}", str(len(refused)))], "lrrrrr"),
            "ScrapingHub article-extraction benchmark, pages served from 127.0.0.1; published trafilatura "
            "body F1 0.958." + (f" Refused: {', '.join(refused)}." if refused else ""),
        ])
        print(public)
        if args.write:
            write_block(PAGE, "quality-extraction-public", public)
    rows = measure()
    text = "\n\n".join([
        provenance("python -m benchmarks.research.extraction --write"),
        table(["extractor", "precision", "recall", "body F1"],
              [(name, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}") for name, p, r, f in rows], "lrrr"),
        f"{len(article_pages())} hand-written article pages (tests/data/web); word {SHINGLE}-gram shingles, "
        "per page, averaged.",
    ])
    print(text)
    if args.write:
        write_block(PAGE, "quality-extraction", text)


if __name__ == "__main__":
    main()
