"""End to end with the real model: the unmodified `newsbot serve` process, the bundled corpus, the fake
Bot API on 127.0.0.1, and the seed question answered with the "5,400" sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newsbot.corpus import BUNDLED_CORPUS_DIR
from tests.conftest import SEED_QUESTION
from tests.fake_bot_api import FakeBotAPIServer, start_bot, visible_text

pytestmark = pytest.mark.model  # the model loads in the bot's process, where tests/tiers.py cannot see it


def test_the_seed_question_is_answered_with_the_5400_sentence_and_cited(tmp_path: Path) -> None:
    with FakeBotAPIServer() as api:
        bot = start_bot(api, tmp_path, env={"NEWSBOT_CORPUS_DIR": str(BUNDLED_CORPUS_DIR),
                                            "NEWSBOT_INDEX_DIR": str(tmp_path / "index")}, ready_timeout=120)
        try:
            api.telegram.push_text(77, SEED_QUESTION)
            [reply] = api.telegram.wait_for(lambda: api.telegram.sent(77), timeout=60)
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]
    shown = visible_text(reply.params["text"])
    first = re.search(r"^1\. (.*)$", shown, re.MULTILINE)
    assert first and "more than 5,400 people" in first.group(1)
    assert "Russia against sanctions, open to dialogue on Syria: Lavrov — AFP, 25 Jan 2012" in shown
