"""The many-story corpus: the bundled article among the 48 SQuAD dev articles, as a corpus folder.

A news bot holds many stories at once; questions about one of them must still be answered from it
(tests/test_many_stories.py, benchmarks/research/stories.py). The SQuAD articles are written as plain
header-format article files, so the product's own reader and segmenter index them as they would any news.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from newsbot.corpus import BUNDLED_CORPUS_DIR

# Questions about the bundled article (and a few of SQuAD's own) with the sentence each must return
MANY_STORY_QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "many_stories.json"


def write_many_story_corpus(records: Iterable[dict], folder: Path) -> Path:
    """Copy the bundled corpus into `folder` and add one article file per SQuAD record; returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for article in BUNDLED_CORPUS_DIR.glob("*.txt"):
        shutil.copyfile(article, folder / article.name)
    for record in records:
        title = record["title"].replace("_", " ")  # Wikipedia page names
        body = "\n\n".join(paragraph["context"].strip() for paragraph in record["paragraphs"])
        (folder / f"{record['id']}.txt").write_text(f"title: {title}\nsource: Wikipedia\n\n{body}\n", encoding="utf-8")
    return folder
