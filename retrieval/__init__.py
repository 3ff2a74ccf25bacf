"""The module developers call: `Retriever.open(index_dir).search(question)` / `.answer(question)`."""

from newsbot.index.metadata import ArticleInfo
from newsbot.retrieval.retriever import Answer, Hit, Retriever, clean_question

__all__ = ["Answer", "ArticleInfo", "Hit", "Retriever", "clean_question"]
