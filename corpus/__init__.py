"""Articles on disk, parsed into titled, dated, sourced paragraphs and sentences with offsets."""

from __future__ import annotations

import os
from pathlib import Path

from newsbot.corpus.article import Article, Sentence
from newsbot.corpus.load import Problem, read_corpus
from newsbot.corpus.parse import ArticleFormatError, parse_article
from newsbot.corpus.sentences import article_sentences

BUNDLED_CORPUS_DIR = Path(__file__).resolve().parent / "articles"


def default_corpus_dir() -> Path:
    """`NEWSBOT_CORPUS_DIR` when set, else the bundled sample folder."""
    return Path(os.environ.get("NEWSBOT_CORPUS_DIR") or BUNDLED_CORPUS_DIR)


__all__ = ["Article", "ArticleFormatError", "BUNDLED_CORPUS_DIR", "Problem", "Sentence", "article_sentences",
           "default_corpus_dir", "parse_article", "read_corpus"]
