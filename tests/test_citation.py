from datetime import date

from newsbot.bot.citation import Citation, cite
from newsbot.bot.console import citation as console_citation
from newsbot.bot.texts import citation as telegram_citation
from newsbot.index.metadata import ArticleInfo


def test_an_article_is_cited_from_the_parts_it_has() -> None:
    assert cite(ArticleInfo("a", "Quake", "Reuters", date(2024, 3, 5), "https://e.org/q")) == Citation(
        "Quake", "Reuters, 5 Mar 2024", "https://e.org/q")
    assert cite(ArticleInfo("a", "Quake", None, None, "ftp://e.org/q")) == Citation("Quake", None, None)


def test_the_console_and_telegram_cite_alike() -> None:
    article = ArticleInfo("a", "Quake", "Reuters", date(2024, 3, 5), "https://e.org/q")
    assert console_citation(article) == "Quake (Reuters, 5 Mar 2024) https://e.org/q"
    assert "".join(span.plain for span in telegram_citation(article)) == "Quake — Reuters, 5 Mar 2024 · https://e.org/q"
    unlinkable = ArticleInfo("a", "Quake", "Reuters", date(2024, 3, 5), "javascript:alert(1)")
    assert console_citation(unlinkable) == "Quake (Reuters, 5 Mar 2024)"
    assert "".join(span.plain for span in telegram_citation(unlinkable)) == "Quake — Reuters, 5 Mar 2024"
