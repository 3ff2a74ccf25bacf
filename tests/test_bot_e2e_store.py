"""End to end: the unmodified `newsbot serve` process reads its store. On Milvus Lite it builds and publishes at
its start, answers, and answers an /add at once; on the files store it picks up a version that a `newsbot index`
run by another process wrote to its folder, without a restart or /reindex. The fake Bot API is on 127.0.0.1; the
`hashing` embedder stands in for the model."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_bot_api import FakeBotAPIServer, start_bot, visible_text

ADMIN = 1
ZEBRAS = ("title: Zebras escape\nsource: Zoo News\ndate: 2024-05-01\n\n"
          "Seven zebras escaped from the city zoo on Tuesday. Keepers found the zebras grazing in a park.\n")
OTTERS = "title: Otters open a bakery\n\nThe otters baked rye bread for the whole harbour.\n"


def _ask(api: FakeBotAPIServer, chat_id: int, text: str) -> str:
    before = len(api.telegram.sent(chat_id))
    api.telegram.push_text(chat_id, text)
    return visible_text(api.telegram.wait_for(lambda: api.telegram.sent(chat_id)[before:])[0].text)


def _env(folder: Path, store: str) -> dict[str, str]:
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "zebras.txt").write_text(ZEBRAS, encoding="utf-8")
    return {"NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus), "NEWSBOT_INDEX_DIR": str(folder / "index"),
            "NEWSBOT_STORE": store, "NEWSBOT_STORE_CHECK_SECONDS": "0.2", "TELEGRAM_ADMIN_IDS": str(ADMIN)}


def test_serve_on_milvus_lite_answers_and_publishes_an_add(tmp_path: Path) -> None:
    pytest.importorskip("milvus_lite")
    with FakeBotAPIServer() as api:
        bot = start_bot(api, tmp_path, env=_env(tmp_path, f"milvus://{tmp_path / 'store' / 'newsbot.db'}"))
        try:
            assert "Seven zebras escaped" in _ask(api, 10, "How many zebras escaped from the zoo?")
            api.telegram.push_text(ADMIN, f"/add {OTTERS}", user_id=ADMIN)
            api.telegram.wait_for(lambda: [c for c in api.telegram.sent(ADMIN, "editMessageText") if "Added" in c.text])
            assert "The otters baked rye bread" in _ask(api, 11, "What did the otters bake?")
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]
    log = bot.log()
    assert "Traceback" not in log and "cannot read the current index version" not in log


def test_serve_picks_up_a_version_newsbot_index_wrote_from_another_process(tmp_path: Path) -> None:
    env = _env(tmp_path, "")
    with FakeBotAPIServer() as api:
        bot = start_bot(api, tmp_path, env=env)
        try:
            assert "otters" not in _ask(api, 10, "What did the otters bake?")
            (tmp_path / "corpus" / "otters.txt").write_text(OTTERS, encoding="utf-8")
            subprocess.run([str(Path(sys.executable).with_name("newsbot")), "index", "--corpus-dir", env["NEWSBOT_CORPUS_DIR"],
                            "--index-dir", env["NEWSBOT_INDEX_DIR"], "--model", "hashing"], check=True,
                           capture_output=True, timeout=120)
            deadline = time.monotonic() + 20
            while "The otters baked rye bread" not in (reply := _ask(api, 11, "What did the otters bake?")):
                assert time.monotonic() < deadline, f"the new version was not picked up: {reply}"
                time.sleep(0.2)
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]
    assert "published by another process, swapped in" in bot.log()
