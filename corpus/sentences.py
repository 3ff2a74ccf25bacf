"""An article's answer candidates: its sentences, with offsets into `Article.body`."""

from __future__ import annotations

from newsbot.corpus.article import PARAGRAPH_SEPARATOR, Article, Sentence
from newsbot.corpus.segment import split_sentences


def article_sentences(article: Article) -> list[Sentence]:
    """Segment each paragraph on its own, so no sentence spans two paragraphs."""
    sentences: list[Sentence] = []
    offset = 0
    for number, paragraph in enumerate(article.paragraphs):
        for start, end in split_sentences(paragraph):
            sentences.append(Sentence(paragraph[start:end], number, offset + start, offset + end))
        offset += len(paragraph) + len(PARAGRAPH_SEPARATOR)
    return sentences
