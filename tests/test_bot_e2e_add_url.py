"""`/add URL` end to end: the unmodified `newsbot serve` process against the fake Bot API, adding pages from a
web site on 127.0.0.1 that the test serves (NEWSBOT_ALLOW_PRIVATE_URLS=1), with the model-free `hashing`
embedder. One bot process and one site serve the whole module; the tests run in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.bot.texts import ADMIN_ONLY
from tests.fake_bot_api import BotProcess, FakeBotAPIServer, FakeTelegram, start_bot, visible_text
from tests.reliability import Record
from tests.web_pages import article_page, story
from tests.web_server import LocalSite, local_site, send

ADMIN = 1
USER = 7
ZEBRAS = ("title: Zebras escape\nsource: Zoo News\ndate: 2024-05-01\n\n"
          "Seven zebras escaped from the city zoo on Tuesday. Keepers found the zebras grazing in a park.\n")
FLOODS_QUESTION = "How many people have died in the floods?"

Served = tuple[FakeBotAPIServer, BotProcess, Path, LocalSite]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("e2e-add-url")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "zebras.txt").write_text(ZEBRAS, encoding="utf-8")
    routes = {"/floods": send(200, article_page("Floods kill 5,400 in the north", story("floods"))),
              "/quake": send(200, article_page("Earthquake shakes the coast", story("earthquake", "300"))),
              "/missing": send(404, b"not here"),
              "/user-link": send(200, article_page("Never fetched", story("never")))}
    with local_site(routes) as site, FakeBotAPIServer() as api:
        bot = start_bot(api, folder, env={"NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus),
                                          "NEWSBOT_INDEX_DIR": str(folder / "index"), "TELEGRAM_ADMIN_IDS": str(ADMIN),
                                          "NEWSBOT_ALLOW_PRIVATE_URLS": "1", "NEWSBOT_MIN_CONFIDENCE": "0.01"})
        try:
            yield api, bot, corpus, site
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]


def _outcome(telegram: FakeTelegram, text: str) -> str:
    """Send `text` as the admin and wait for the /add status message's final text."""
    before = len(telegram.sent(ADMIN, "editMessageText"))
    telegram.push_text(ADMIN, text, user_id=ADMIN)
    edits = telegram.wait_for(lambda: [c for c in telegram.sent(ADMIN, "editMessageText")[before:]
                                       if "⏳" not in c.text], timeout=60)
    return visible_text(edits[0].text)


def _ask(telegram: FakeTelegram, chat_id: int, text: str) -> str:
    before = len(telegram.sent(chat_id))
    telegram.push_text(chat_id, text, user_id=chat_id)
    return visible_text(telegram.wait_for(lambda: telegram.sent(chat_id)[before:])[0].text)


def _web_files(corpus: Path) -> list[str]:
    return sorted(p.relative_to(corpus).as_posix() for p in (corpus / "web").rglob("*.txt")) \
        if (corpus / "web").exists() else []


def test_a_non_admin_is_refused_and_the_link_is_never_fetched(served: Served, reliability: Record) -> None:
    api, _, corpus, site = served
    assert _ask(api.telegram, USER, f"/add {site.url}/user-link") == ADMIN_ONLY
    assert not [r for r in site.requests if r.path == "/user-link"] and _web_files(corpus) == []
    reliability("Security", "`/add URL` from a user who is not an admin", 1,
                "refused with the admin-only reply; the page is not fetched, nothing stored")


def test_an_admin_adds_links_each_reported_in_order_then_answerable(served: Served, reliability: Record) -> None:
    api, _, corpus, site = served
    floods, missing, quake = f"{site.url}/floods", f"{site.url}/missing", f"{site.url}/quake"
    reply = _outcome(api.telegram, f"/add {floods} {missing}\n{quake}")
    lines = reply.splitlines()
    assert lines[:3] == [f"✅ {floods}: added “Floods kill 5,400 in the north”",
                         f"❌ {missing}: HTTP 404 Not Found. Nothing was stored.",
                         f"✅ {quake}: added “Earthquake shakes the coast”"]
    assert "The index holds 3 articles" in reply
    assert len(_web_files(corpus)) == 2
    assert story("floods")[0] in _ask(api.telegram, 20, FLOODS_QUESTION)
    reliability("Bad input", "`/add` with a link answering 404 among two article links", 1,
                "the two articles added and answerable; the 404 reported on its line, nothing stored for it")


def test_the_same_link_again_is_unchanged_and_a_changed_page_is_updated(served: Served) -> None:
    api, _, corpus, site = served
    floods = f"{site.url}/floods"
    assert _outcome(api.telegram, f"/add {floods}").startswith(
        f"➖ {floods}: unchanged since I stored it as “Floods kill 5,400 in the north”")
    site.routes["/floods"] = send(200, article_page("Flood toll rises to 6,100", story("floods", "6,100")))
    assert _outcome(api.telegram, f"/add {floods}").startswith(f"🔄 {floods}: updated “Flood toll rises to 6,100”")
    answer = _ask(api.telegram, 21, FLOODS_QUESTION)
    assert "6,100" in answer and "5,400" not in answer
    assert len(_web_files(corpus)) == 2


def test_the_same_txt_uploaded_three_times_is_stored_once(served: Served) -> None:
    api, _, corpus, _ = served
    telegram = api.telegram
    article = b"title: Otters open a bakery\n\nThe otters of the river opened a bakery on Monday.\n"
    replies = []
    for _ in range(3):
        before = len(telegram.sent(ADMIN, "editMessageText"))
        telegram.push_document(ADMIN, "otters.txt", article, user_id=ADMIN)
        replies.append(telegram.wait_for(lambda: [c.text for c in telegram.sent(ADMIN, "editMessageText")[before:]
                                                  if "⏳" not in c.text])[0])
    assert "Added “Otters open a bakery”" in replies[0]
    assert all("already stored as “Otters open a bakery”" in r for r in replies[1:])
    assert [p.name for p in (corpus / "added").iterdir()] == ["otters.txt"]
    assert _ask(telegram, 22, "What did the otters open?").count("opened a bakery") == 1


def test_a_page_republishing_a_stored_story_is_said_to_join_it(served: Served) -> None:
    api, _, corpus, site = served
    site.routes["/wire-copy"] = send(200, article_page("Floods: toll passes 6,100", story("floods", "6,100")[:2],
                                                       site="Other Paper"))
    reply = _outcome(api.telegram, f"/add {site.url}/wire-copy")
    assert reply.splitlines()[0] == (f"✅ {site.url}/wire-copy: added “Floods: toll passes 6,100”, a republished copy "
                                     "of “Flood toll rises to 6,100”: answers from it name Example News, Other Paper")
    assert "republished copy grouped with its story" in reply
    assert "Example News, Other Paper" in _ask(api.telegram, 23, FLOODS_QUESTION)
