"""End to end over real sockets: the unmodified `newsbot serve` process against the fake Bot API, following a feed
served from 127.0.0.1 by tests/web_server.py: admins' /feeds, /feeds add and /feeds remove, a non-admin refused,
and the scheduled poll (every 2 s here) indexing a feed's new entry while the bot answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.bot.texts import ADMIN_ONLY, FEEDS_USAGE, NO_FEEDS, SORRY
from tests.fake_bot_api import BotProcess, FakeBotAPIServer, start_bot, visible_text
from tests.feeds import Item, conditional, rss20
from tests.web_pages import article_page, story
from tests.web_server import LocalSite, local_site, send

ADMIN = 1
ZEBRAS = ("title: Zebras escape\nsource: Zoo News\ndate: 2024-05-01\n\n"
          "Seven zebras escaped from the city zoo on Tuesday. Keepers found the zebras grazing in a park.\n")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeBotAPIServer, BotProcess, LocalSite, list]]:
    folder = tmp_path_factory.mktemp("e2e-feeds")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "zebras.txt").write_text(ZEBRAS, encoding="utf-8")
    items: list[Item] = []
    with local_site({}) as site, FakeBotAPIServer() as api:
        site.routes["/feed"] = conditional(lambda: rss20(items, title="Disaster Desk"))
        for topic in ("wildfire", "avalanche"):
            site.routes[f"/{topic}"] = send(200, article_page(f"The {topic} report", story(topic)))
        bot = start_bot(api, folder, env={"NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus),
                                          "NEWSBOT_INDEX_DIR": str(folder / "index"), "TELEGRAM_ADMIN_IDS": str(ADMIN),
                                          "NEWSBOT_RATE_LIMIT_QUESTIONS": "1000", "NEWSBOT_FEED_INTERVAL": "2s",
                                          "NEWSBOT_ALLOW_PRIVATE_URLS": "1"})
        try:
            yield api, bot, site, items
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]


def _ask(api: FakeBotAPIServer, chat_id: int, text: str, *, user_id: int | None = None, replies: int = 1) -> str:
    """Send a message and wait for the bot's `replies` next messages to that chat; the last one's text."""
    before = len(api.telegram.sent(chat_id))
    api.telegram.push_text(chat_id, text, user_id=user_id)
    return api.telegram.wait_for(lambda: api.telegram.sent(chat_id)[before:][replies - 1:])[0].text


def _answered_eventually(api: FakeBotAPIServer, chat_id: int, question: str, expected: str, timeout: float) -> float:
    """Ask until the answer holds `expected`; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if expected in visible_text(_ask(api, chat_id, question)):
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"no answer with {expected!r} within {timeout} s")


def test_a_non_admin_is_refused_every_feeds_command(served, reliability) -> None:
    api, bot, site, _ = served
    for command in ("/feeds", f"/feeds add {site.url}/feed", f"/feeds remove {site.url}/feed"):
        assert _ask(api, 30, command) == ADMIN_ONLY
    api.telegram.wait_for(lambda: "refused /feeds from non-admin user id 30" in bot.log(), timeout=10)
    reliability("Security", "/feeds, /feeds add and /feeds remove from a non-admin", 3,
                "refused with the admin-only reply and logged; nothing followed")


def test_an_admin_follows_a_feed_whose_new_entries_the_scheduled_poll_indexes(served) -> None:
    api, bot, site, items = served
    assert NO_FEEDS in _ask(api, ADMIN, "/feeds", user_id=ADMIN)
    refused = _ask(api, ADMIN, f"/feeds add {site.url}/wildfire", user_id=ADMIN, replies=2)
    assert refused == f"❌ I cannot follow {site.url}/wildfire: content type 'text/html' is not a feed (RSS or Atom). " \
                      "Nothing was added."
    items.append(Item("The wildfire report", f"{site.url}/wildfire"))
    added = _ask(api, ADMIN, f"/feeds add {site.url}/feed", user_id=ADMIN, replies=2)
    assert added.startswith(f"✅ Following “Disaster Desk” ({site.url}/feed): 1 entry now.") and "every 2 seconds" in added
    _answered_eventually(api, 60, "How many people have died in the wildfire?", "died in the wildfire", timeout=60)
    items.append(Item("The avalanche report", f"{site.url}/avalanche"))  # the feed changes between polls
    _answered_eventually(api, 60, "How many people have died in the avalanche?", "died in the avalanche", timeout=60)
    pages = [r.path for r in site.requests if r.path in ("/wildfire", "/avalanche")]
    assert pages.count("/avalanche") == 1 and pages.count("/wildfire") == 2  # once by /feeds add's check above, once polled
    listing = visible_text(_ask(api, ADMIN, "/feeds", user_id=ADMIN))
    assert "I follow 1 feed, polled every 2 seconds:" in listing and "Disaster Desk" in listing
    assert "2 entries seen, 2 articles added" in listing and "last success: never" not in listing
    assert "feed poll: " in bot.log()


def test_an_admin_removes_a_feed_and_a_second_remove_says_it_is_not_followed(served) -> None:
    api, _, site, _ = served
    url = f"{site.url}/feed"
    if "Disaster Desk" not in _ask(api, ADMIN, "/feeds", user_id=ADMIN):
        _ask(api, ADMIN, f"/feeds add {url}", user_id=ADMIN, replies=2)
    assert _ask(api, ADMIN, f"/feeds remove {url}", user_id=ADMIN) == \
        f"✅ I no longer follow {url}; the articles it brought stay."
    assert _ask(api, ADMIN, f"/feeds remove {url}", user_id=ADMIN).startswith(f"❌ I do not follow {url}.")
    assert NO_FEEDS in _ask(api, ADMIN, "/feeds", user_id=ADMIN)
    assert _ask(api, ADMIN, "/feeds frobnicate", user_id=ADMIN) == FEEDS_USAGE
    assert all(SORRY not in c.text for c in api.telegram.sent())
