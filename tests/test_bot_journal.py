"""The update journal on its own: what survives a restart, a torn last line, and how it stays small."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import Bot

import newsbot.bot.journal
from newsbot.bot.journal import UpdateJournal
from tests.fake_bot_api import TOKEN


def _update(update_id: int) -> dict[str, object]:
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 0, "text": f"q{update_id}",
                                                "chat": {"id": 1, "type": "private"}}}


async def test_unfinished_updates_survive_a_restart_and_done_ones_are_remembered(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = UpdateJournal(path)
    await journal.received([_update(1), _update(2), _update(3)])
    await journal.done(1)
    await journal.received([_update(1), _update(3)])  # a redelivery is not taken twice
    journal.close()  # the process dies here: nothing else is written

    again = UpdateJournal(path)
    assert [u["update_id"] for u in again.unfinished()] == [2, 3]
    assert again.is_done(1) and not again.is_done(2)
    assert not await again.claim(1) and await again.claim(2)
    assert await again.received([_update(1), _update(2), _update(4)]) == [_update(4)]  # only the new one
    assert [u.update_id for u in await again.orphans(Bot(TOKEN))] == [2, 3]  # the earlier run's, once
    assert await again.orphans(Bot(TOKEN)) == []
    for update_id in (2, 3, 4):
        await again.done(update_id)
    again.close()
    assert UpdateJournal(path).unfinished() == []


async def test_a_line_torn_by_a_kill_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = UpdateJournal(path)
    await journal.received([_update(7)])
    journal.close()
    with path.open("a") as handle:
        handle.write('{"update": {"update_id": 8, "mess')  # the write the kill cut short
    assert [u["update_id"] for u in UpdateJournal(path).unfinished()] == [7]


async def test_the_journal_is_rewritten_small_as_it_grows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(newsbot.bot.journal, "REWRITE_EVERY", 50)
    monkeypatch.setattr(newsbot.bot.journal, "REMEMBERED_DONE", 20)
    path = tmp_path / "journal.jsonl"
    journal = UpdateJournal(path)
    for update_id in range(1, 1001):
        await journal.received([_update(update_id)])
        if update_id != 500:
            await journal.done(update_id)
    lines = path.read_text().splitlines()
    assert len(lines) <= 50 + 21 + 1  # what is still needed, plus what was appended since the last rewrite
    journal.close()
    restarted = UpdateJournal(path)
    assert [u["update_id"] for u in restarted.unfinished()] == [500]
    assert restarted.is_done(1000) and not restarted.is_done(1)  # only the recent ones are remembered
