"""End to end over a real socket: the unmodified `newsbot serve` process against the fake Bot API on
127.0.0.1, with the model-free `hashing` embedder (the model is not the point here; see
test_bot_e2e_model.py for the real one). One bot process serves the whole module."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.bot.texts import ADMIN_ONLY, SORRY
from tests.fake_bot_api import BotProcess, FakeBotAPIServer, start_bot, visible_text
from tests.local_services import free_port

ADMIN = 1
ZEBRAS = ("title: Zebras escape\nsource: Zoo News\ndate: 2024-05-01\n\n"
          "Seven zebras escaped from the city zoo on Tuesday. Keepers found the zebras grazing in a park.\n")


def _corpus(folder: Path, extra_articles: int) -> Path:
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "zebras.txt").write_text(ZEBRAS, encoding="utf-8")
    for number in range(extra_articles):  # enough text that a forced rebuild takes a moment
        sentences = " ".join(f"Council {number} discussed budget item {item} at length." for item in range(30))
        (corpus / f"council-{number:03}.txt").write_text(f"title: Council {number}\n\n{sentences}\n", encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeBotAPIServer, BotProcess, Path]]:
    folder = tmp_path_factory.mktemp("e2e")
    corpus = _corpus(folder, extra_articles=150)
    with FakeBotAPIServer() as api:
        bot = start_bot(api, folder, env={"NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus),
                                          "NEWSBOT_INDEX_DIR": str(folder / "index"), "TELEGRAM_ADMIN_IDS": str(ADMIN),
                                          "NEWSBOT_RATE_LIMIT_QUESTIONS": "1000"})
        try:
            yield api, bot, corpus
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]


def _ask(api: FakeBotAPIServer, chat_id: int, text: str, *, user_id: int | None = None) -> str:
    """Send a message and wait for the bot's next sendMessage to that chat."""
    before = len(api.telegram.sent(chat_id))
    api.telegram.push_text(chat_id, text, user_id=user_id)
    return api.telegram.wait_for(lambda: api.telegram.sent(chat_id)[before:])[0].text


def test_a_question_is_answered_with_its_citation(served: tuple[FakeBotAPIServer, BotProcess, Path]) -> None:
    api, _, _ = served
    reply = _ask(api, 10, "How many zebras escaped from the zoo?")
    assert "Seven zebras escaped from the city zoo on Tuesday." in visible_text(reply)  # the answer is in bold
    assert "<b>Zebras escape</b> — Zoo News, 1 May 2024" in reply


def test_an_edited_question_is_answered_in_the_earlier_reply(served: tuple[FakeBotAPIServer, BotProcess, Path]) -> None:
    """The bot asks Telegram for edited messages too (allowed_updates; the fake drops the kinds not asked for)."""
    api, _, _ = served
    sent = api.telegram.push_text(11, "qwertyuiop asdfghjkl")
    [first] = api.telegram.wait_for(lambda: api.telegram.sent(11))
    api.telegram.push_edit(sent, "How many zebras escaped from the zoo?")
    [edit] = api.telegram.wait_for(lambda: api.telegram.sent(11, "editMessageText"))
    assert edit.params["message_id"] == str(first.result["message_id"]) and "Seven zebras" in edit.text
    assert len(api.telegram.sent(11)) == 1


def test_reindex_by_an_admin_while_other_chats_keep_asking(served: tuple[FakeBotAPIServer, BotProcess, Path]) -> None:
    api, _, _ = served
    telegram = api.telegram
    chats = range(100, 110)
    telegram.push_text(ADMIN, "/reindex force")
    asked: dict[int, int] = {}
    while not [c for c in telegram.sent(ADMIN, "editMessageText") if "Index rebuilt" in c.text]:
        for chat in chats:  # another round of questions while the rebuild has not reported back
            telegram.push_text(chat, "zebras escaped zoo")
            asked[chat] = asked.get(chat, 0) + 1
        telegram.wait_for(lambda: all(len(telegram.sent(c)) == asked[c] for c in chats))
    answers = [c.text for chat in chats for c in telegram.sent(chat)]
    assert len(answers) == sum(asked.values())
    assert [text for text in answers if "Seven zebras escaped" not in text] == []
    [status] = [c for c in telegram.sent(ADMIN) if "Rebuilding the index" in c.text]
    edits = telegram.sent(ADMIN, "editMessageText")
    assert {e.params["message_id"] for e in edits} == {str(status.result["message_id"])}  # one message, edited
    assert "151 articles" in edits[-1].text


def test_reindex_by_a_non_admin_is_refused_and_logged(served: tuple[FakeBotAPIServer, BotProcess, Path]) -> None:
    api, bot, _ = served
    assert _ask(api, 30, "/reindex") == ADMIN_ONLY
    api.telegram.wait_for(lambda: "refused /reindex from non-admin user id 30" in bot.log(), timeout=10)


@pytest.mark.parametrize("fault", ["429", "500", "drop"])
def test_a_failed_send_is_retried_as_telegram_asks_and_answered_once(
        served: tuple[FakeBotAPIServer, BotProcess, Path], fault: str) -> None:
    api, _, _ = served
    chat = {"429": 40, "500": 41, "drop": 42}[fault]
    api.telegram.fail_next("sendMessage", fault)
    reply = _ask(api, chat, "zebras escaped zoo")
    assert ("sendMessage", fault) in api.telegram.faults_served
    assert "Seven zebras escaped" in reply
    assert len(api.telegram.sent(chat)) == 1


def test_a_failed_poll_is_retried_and_no_update_lost(served: tuple[FakeBotAPIServer, BotProcess, Path]) -> None:
    api, _, _ = served
    api.telegram.fail_next("getUpdates", "502")
    api.telegram.fail_next("getUpdates", "drop")
    api.telegram.wait_for(lambda: {("getUpdates", "502"), ("getUpdates", "drop")} <= set(api.telegram.faults_served))
    reply = _ask(api, 43, "zebras escaped zoo")
    assert "Seven zebras escaped" in reply and len(api.telegram.sent(43)) == 1


def test_an_admin_adds_an_uploaded_article_answerable_at_once(
        served: tuple[FakeBotAPIServer, BotProcess, Path]) -> None:
    api, _, corpus = served
    telegram = api.telegram
    telegram.push_document(ADMIN, "otters.txt", b"title: Otters open a bakery\n\nThe otters baked rye bread.\n",
                           user_id=ADMIN)
    telegram.wait_for(lambda: [c for c in telegram.sent(ADMIN, "editMessageText") if "Added" in c.text])
    assert (corpus / "added" / "otters.txt").read_text().startswith("title: Otters open a bakery")
    assert "The otters baked rye bread." in _ask(api, 50, "otters baked bread")


def test_the_token_is_never_logged_even_when_things_fail(served: tuple[FakeBotAPIServer, BotProcess, Path]) -> None:
    api, bot, _ = served
    log = bot.log()
    assert "retrying" in log or "retry" in log  # the faults above were logged...
    token = api.telegram.token
    assert token not in log and token.partition(":")[2] not in log  # ...without the token,
    assert "/file/bot<bot-token>" in log  # which PTB's debug log of its file URL would have shown
    assert all(SORRY not in c.text for c in api.telegram.sent())


def test_webhook_mode_checks_the_secret_and_has_a_health_endpoint(tmp_path: Path) -> None:
    port = free_port()
    corpus = _corpus(tmp_path, extra_articles=0)
    with FakeBotAPIServer() as api:
        bot = start_bot(api, tmp_path, env={"NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus),
                                            "NEWSBOT_INDEX_DIR": str(tmp_path / "index"),
                                            "TELEGRAM_WEBHOOK_SECRET": "hook-secret"},
                        args=["--webhook-url", f"http://127.0.0.1:{port}/telegram", "--listen", "127.0.0.1",
                              "--port", str(port)])
        try:
            [registered] = api.telegram.sent(method="setWebhook")
            assert registered.params["secret_token"] == "hook-secret"
            assert not api.telegram.sent(method="getUpdates")
            update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "zebras escaped zoo",
                                                  "chat": {"id": 60, "type": "private"},
                                                  "from": {"id": 60, "is_bot": False, "first_name": "A"}}}
            with pytest.raises(urllib.error.HTTPError) as refused:
                _post(port, update, secret="wrong")
            assert refused.value.code == 403
            assert _post(port, update, secret="hook-secret") == 200
            reply = api.telegram.wait_for(lambda: api.telegram.sent(60))[0]
            assert "Seven zebras escaped" in reply.text
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as health:
                assert json.load(health)["status"] == "ok"
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]


def _post(port: int, update: dict[str, object], *, secret: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/telegram", data=json.dumps(update).encode(),
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": secret})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status
