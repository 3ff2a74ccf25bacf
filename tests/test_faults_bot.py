"""Faults around the unmodified `newsbot serve` process: Telegram API faults through the loopback fake,
the process SIGKILLed and restarted with questions in hand, a broken index at start-up, bad settings.
The hashing embedder stands in for the model; every wait is bounded."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from telegram import Update

import newsbot.index.build

from newsbot.bot.cli import main
from newsbot.bot.journal import UpdateJournal, journal_path
from newsbot.bot.retry import RetryingLimiter
from newsbot.bot.texts import SORRY
from newsbot.index.store import writer_lock
from tests.bot_harness import ADMIN, USER, Harness, in_process_bot
from tests.fake_bot_api import TOKEN, FakeBotAPIServer, FakeTelegram, start_bot, visible_text
from tests.reliability import Record

ZEBRAS = ("title: Zebras escape\nsource: Zoo News\ndate: 2024-05-01\n\n"
          "Seven zebras escaped from the city zoo on Tuesday. Keepers found the zebras grazing in a park.\n")
QUESTION = "zebras escaped zoo"


def _env(folder: Path) -> dict[str, str]:
    corpus = folder / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "zebras.txt").write_text(ZEBRAS, encoding="utf-8")
    return {"NEWSBOT_MODEL": "hashing", "NEWSBOT_CORPUS_DIR": str(corpus), "NEWSBOT_INDEX_DIR": str(folder / "index"),
            "NEWSBOT_RATE_LIMIT_QUESTIONS": "1000"}


def _serve(api: FakeBotAPIServer, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `newsbot serve` expecting it to stop by itself at start-up."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "NEWSBOT_"))}
    clean.update({"TELEGRAM_BOT_TOKEN": api.telegram.token, "TELEGRAM_API_BASE_URL": api.base_url, **env})
    return subprocess.run([Path(sys.executable).with_name("newsbot"), "serve", "--env-file", str(folder / "none")],
                          env=clean, cwd=folder, capture_output=True, text=True, timeout=60)


def _answered(telegram: FakeTelegram, chats: range) -> bool:
    return all(telegram.sent(chat) for chat in chats)


def _journal_done(folder: Path) -> set[int]:
    """The update ids the bot's journal has marked done (read from its file)."""
    path = journal_path(folder / "index", TOKEN)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return {entry["done"] for entry in map(json.loads, lines) if "done" in entry}


def _wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _counts(telegram: FakeTelegram, chats: range) -> dict[int, int]:
    return {chat: telegram.answers(chat) for chat in chats}


def _settle(telegram: FakeTelegram, quiet: float = 0.3) -> None:
    """Wait until the fake has had no call for `quiet` seconds."""
    while True:
        before = len(telegram.calls)
        time.sleep(quiet)
        if len(telegram.calls) == before:
            return


def _tally(counts: dict[int, int]) -> str:
    """What the users saw, in words: "all 25 questions answered exactly once", or how many were not."""
    once = sum(n == 1 for n in counts.values())
    if once == len(counts):
        return f"all {once} questions answered exactly once"
    twice, lost = sum(n > 1 for n in counts.values()), sum(n == 0 for n in counts.values())
    return f"{once} of {len(counts)} questions answered once, {twice} more than once, {lost} never"


def test_killed_with_questions_in_hand_then_restarted_each_is_answered_exactly_once(
        tmp_path: Path, reliability: Record) -> None:
    env = _env(tmp_path)
    answered_before, waiting, unconfirmed, while_down = range(1, 6), range(6, 16), range(16, 21), range(21, 26)
    with FakeBotAPIServer() as api:
        telegram = api.telegram
        bot = start_bot(api, tmp_path, env=env, verbose=False)
        try:
            for chat in answered_before:  # answered and confirmed before the kill
                telegram.push_text(chat, QUESTION)
            telegram.wait_for(lambda: _answered(telegram, answered_before))

            # Taken and confirmed to Telegram, not answered: every send is told to retry in an hour.
            telegram.fail_next("sendMessage", "429:3600", times=len(waiting))
            for chat in waiting:
                telegram.push_text(chat, QUESTION)
            telegram.wait_for(lambda: telegram.faults_served.count(("sendMessage", "429:3600")) == len(waiting)
                              and telegram.confirmed >= waiting[-1])

            # Answered, not confirmed: the poll that would confirm them is held.
            telegram.hold_polls()
            pushed = [telegram.push_text(chat, QUESTION) for chat in unconfirmed]
            telegram.wait_for(lambda: _answered(telegram, unconfirmed) and telegram.held_polls)
            ids = {u["update_id"] for u in pushed[-len(unconfirmed):]}
            _wait_until(lambda: ids <= _journal_done(tmp_path))  # the bot has seen its sends succeed
            assert telegram.confirmed < unconfirmed[0]
        finally:
            bot.process.kill()
            bot.process.wait(timeout=30)
        telegram.release_polls()
        assert _counts(telegram, waiting) == dict.fromkeys(waiting, 0)

        for chat in while_down:
            telegram.push_text(chat, QUESTION)
        with journal_path(tmp_path / "index", TOKEN).open("a") as journal:  # an entry that is not an update
            journal.write('{"update": {"update_id": 999999, "message": "not a message"}}\n')
        restarted = start_bot(api, tmp_path, env=env, verbose=False)
        try:
            everyone = range(1, 26)
            telegram.wait_for(lambda: _answered(telegram, everyone) and telegram.confirmed >= everyone[-1], timeout=30)
        finally:
            assert restarted.stop() == 0, restarted.log()[-3000:]  # a clean stop finishes what is in hand
        counts = _counts(telegram, range(1, 26))
        log = restarted.log()
    assert counts == dict.fromkeys(range(1, 26), 1), counts
    assert all("Seven zebras escaped" in call.text for call in telegram.sent())
    replayed = int(re.search(r"handling (\d+) updates taken before a restart", log).group(1))
    assert replayed == len(waiting)
    assert "dropping journalled update 999999: it cannot be read" in log
    reliability("Telegram faults", "`newsbot serve` SIGKILLed with 10 questions taken but unanswered (their "
                "sends held by 429 retry_after 3600) and 5 answered but not yet confirmed to Telegram; 5 more "
                "asked while it was down; an unreadable entry added to its journal; then restarted", 1,
                f"{_tally(counts)}: {replayed} from the update journal, the 5 unconfirmed ones recognised as "
                "done when Telegram delivered them again (with the journal disabled, the 10 were never "
                "answered); the unreadable entry was logged and dropped")


BURST = 60
KILL_AFTER = (10, 30, 50)  # answers Telegram has received when the bot is killed: early, midway, late in a burst


def test_killed_during_a_burst_none_is_lost_and_the_repeats_are_counted(tmp_path: Path, reliability: Record) -> None:
    """SIGKILL while answers to a burst are being sent: an answer Telegram accepted whose confirmation the bot
    had not yet journalled is sent again after the restart (the Bot API has no idempotency key); none may
    be lost. Counts what is repeated, for docs/RELIABILITY.md."""
    env = _env(tmp_path)
    repeated, in_window, lost = [], [], []
    with FakeBotAPIServer() as api:
        telegram = api.telegram
        bot = start_bot(api, tmp_path, env=env, verbose=False)
        for round_number, kill_after in enumerate(KILL_AFTER):
            chats = range(1000 * (round_number + 1), 1000 * (round_number + 1) + BURST)
            sent_before = len(telegram.sent())
            try:
                ids = {telegram.push_text(chat, QUESTION)["update_id"] for chat in chats}
                telegram.wait_for(lambda: len(telegram.sent()) - sent_before >= kill_after)
            finally:
                bot.process.kill()
                bot.process.wait(timeout=30)
            _settle(telegram)  # a send already on the wire is still taken by Telegram after the kill
            reached = {call.chat_id for call in telegram.sent()[sent_before:]}
            in_window.append(len(reached) - len(_journal_done(tmp_path) & ids))  # sent, not yet known as sent
            bot = start_bot(api, tmp_path, env=env, verbose=False)
            telegram.wait_for(lambda: _answered(telegram, chats) and telegram.confirmed >= max(ids), timeout=60)
            counts = _counts(telegram, chats)
            repeated.append(sum(n > 1 for n in counts.values()))
            lost.append(sum(n == 0 for n in counts.values()))
            assert max(counts.values()) <= 2, counts
        assert bot.stop() == 0, bot.log()[-3000:]
    assert sum(lost) == 0, lost
    assert all(r <= w for r, w in zip(repeated, in_window)), (repeated, in_window)  # only those sent, not journalled
    reliability("Telegram faults", f"`newsbot serve` SIGKILLed during a burst of {BURST} questions from {BURST} "
                f"users, after {', '.join(map(str, KILL_AFTER))} of the answers had reached Telegram, and "
                "restarted each time", len(KILL_AFTER),
                f"none lost; answered twice: {' / '.join(map(str, repeated))} ({sum(repeated)} of "
                f"{BURST * len(KILL_AFTER)}), each an answer Telegram had accepted but the bot had not yet "
                f"recorded as sent when killed ({' / '.join(map(str, in_window))} were in that window)")


def test_stopped_while_telegram_has_a_reply_wait_an_hour_it_is_answered_after_the_restart(
        tmp_path: Path, reliability: Record) -> None:
    env = _env(tmp_path)
    with FakeBotAPIServer() as api:
        telegram = api.telegram
        bot = start_bot(api, tmp_path, env=env, verbose=False)
        try:
            telegram.fail_next("sendMessage", "429:3600")
            telegram.push_text(7, QUESTION)
            telegram.wait_for(lambda: ("sendMessage", "429:3600") in telegram.faults_served)
        finally:
            started = time.monotonic()
            status = bot.stop()  # SIGTERM: a clean stop, which used to wait for the retry
            stopped_in = time.monotonic() - started
        unanswered = telegram.answers(7) == 0
        restarted = start_bot(api, tmp_path, env=env, verbose=False)
        try:
            telegram.wait_for(lambda: telegram.sent(7))
        finally:
            assert restarted.stop() == 0, restarted.log()[-3000:]
    assert status == 0 and stopped_in < 15, (status, stopped_in)
    assert unanswered and telegram.answers(7) == 1 and SORRY not in telegram.sent(7)[0].text
    assert "left for the next start" in bot.log() and "handling 1 updates taken before a restart" in restarted.log()
    reliability("Telegram faults", "`newsbot serve` stopped (SIGTERM) while Telegram had its reply wait 3600 s "
                "(429 retry_after), then started again", 1,
                f"stopped cleanly in {stopped_in:.1f} s without sending anything; the question stayed in the update "
                "journal and was answered once after the restart")


def test_damaged_journal_lines_are_skipped_and_reported_and_serve_starts(tmp_path: Path,
                                                                          reliability: Record) -> None:
    env = _env(tmp_path)
    damaged = {"an update without an id": '{"update":{"no_id":1}}',
               "a string update id": '{"update":{"update_id":"5"}}',
               "a boolean update id": '{"update":{"update_id":true}}',
               "a line nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
               "an update nested 1,000 deep": '{"update":{"update_id":6,"x":' + "[" * 1000 + "]" * 1000 + "}}",
               "a done mark that is not an id": '{"done":"7"}',
               "not JSON": "\x00\xff garbage",
               "a line torn by a kill": '{"update":{"update_id":8,"mess'}
    in_hand = {"update_id": 900_001, "message": {"message_id": 1, "date": 0, "text": QUESTION,
                                                  "chat": {"id": 77, "type": "private"},
                                                  "from": {"id": 77, "is_bot": False, "first_name": "A"}}}
    path = journal_path(tmp_path / "index", TOKEN)
    path.parent.mkdir()
    path.write_text("\n".join([*damaged.values(), json.dumps({"update": in_hand})]) + "\n", encoding="utf-8")
    with FakeBotAPIServer() as api:
        bot = start_bot(api, tmp_path, env=env, verbose=False)  # it used to crash here, at every start
        try:
            api.telegram.wait_for(lambda: api.telegram.sent(77))
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]
    [reported] = [line for line in bot.log().splitlines() if "damaged line" in line]
    assert f"skipped {len(damaged)} damaged line(s)" in reported and "(line 1, 2, 3, 4, 5, 6, 7, 8)" in reported
    assert "Seven zebras escaped" in api.telegram.sent(77)[0].text
    reliability("Bad input", f"update journal lines at start-up: {', '.join(damaged)}", len(damaged),
                "`newsbot serve` started and answered the question left in hand; it logged \""
                f"{reported.split(': ', 1)[1].replace(path.name, path.name.replace(TOKEN.partition(':')[0], '<bot id>'))}\"")


def test_two_bots_in_turn_over_one_index_folder_each_answer_all_their_questions(
        tmp_path: Path, reliability: Record) -> None:
    env = _env(tmp_path)
    tokens = (TOKEN, "987654321:ANOTHER_token_do_not_log_me_0123456")
    chats = range(1, 6)
    tallies = []
    for token in tokens:  # each fake numbers its updates from 1, as Telegram does per bot
        with FakeBotAPIServer(FakeTelegram(token)) as api:
            bot = start_bot(api, tmp_path, env=env, verbose=False)
            try:
                for chat in chats:
                    api.telegram.push_text(chat, QUESTION)
                api.telegram.wait_for(lambda: _answered(api.telegram, chats))
            finally:
                assert bot.stop() == 0, bot.log()[-3000:]
            counts = _counts(api.telegram, chats)
            assert counts == dict.fromkeys(chats, 1), counts
            tallies.append(_tally(counts))
    journals = sorted(p.name for p in (tmp_path / "index").glob("bot-updates*"))
    assert journals == sorted(journal_path(tmp_path, token).name for token in tokens)
    reliability("Telegram faults", "two bots (tokens) run in turn over one index folder, their update ids the "
                "same (1 to 5)", 2, f"the first bot: {tallies[0]}; the second: {tallies[1]} (none taken for a "
                "repeat of the first bot's); each kept its own journal")


FAULTS = [("sendMessage", "429", 2), ("sendMessage", "500", 2), ("sendMessage", "502", 2), ("sendMessage", "drop", 2),
          ("getUpdates", "cut", 1), ("getUpdates", "502", 1), ("getUpdates", "drop", 1), ("getUpdates", "429", 1)]
# No sendChatAction faults here: "typing…" is sent only for answers slower than bot.replies.TYPING_AFTER,
# and these are quick; test_timeouts_are_retried_and_answered_once forces one and fails it.


def test_telegram_faults_every_question_is_answered_exactly_once_and_the_bot_stays_up(
        tmp_path: Path, reliability: Record) -> None:
    env = _env(tmp_path)
    chats = range(100, 130)
    with FakeBotAPIServer() as api:
        telegram = api.telegram
        bot = start_bot(api, tmp_path, env=env)  # debug logs: everything the bot could leak
        try:
            for method, fault, times in FAULTS:
                telegram.fail_next(method, fault, times)
            for chat in chats:
                telegram.push_text(chat, QUESTION)
            telegram.wait_for(lambda: _answered(telegram, chats) and telegram.confirmed >= 30
                              and not telegram.faults_pending(), timeout=60)
            assert bot.process.poll() is None  # still up
            telegram.push_text(999, QUESTION)  # and still answering
            telegram.wait_for(lambda: telegram.sent(999))

            # The documented limit: Telegram processed a send, then the connection broke before its response.
            # The bot cannot tell this from a send that never arrived, and the Bot API has no idempotency
            # key; it retries (a lost answer is worse than a repeated one), so the user sees it twice.
            telegram.fail_next("sendMessage", "cut")
            telegram.push_text(200, QUESTION)
            telegram.wait_for(lambda: telegram.answers(200) >= 2)
            telegram.push_text(201, QUESTION)
            telegram.wait_for(lambda: telegram.sent(201))
        finally:
            assert bot.stop() == 0, bot.log()[-3000:]
    assert telegram.answers(200) == 2 and telegram.answers(201) == 1
    reliability("Telegram faults", "sendMessage processed by Telegram, then the connection cut mid-response", 1,
                "answered twice (the known limit: the Bot API has no idempotency key; the bot prefers a repeat "
                "to a loss); the next question answered once")
    counts = _counts(telegram, chats)
    assert counts == dict.fromkeys(chats, 1), counts
    assert all(SORRY not in call.text for call in telegram.sent())
    log = bot.log()
    assert "retrying" in log and TOKEN not in log and TOKEN.partition(":")[2] not in log
    served = sorted(set(telegram.faults_served) - {("sendMessage", "cut")})
    assert served == sorted({(m, f) for m, f, _ in FAULTS})
    injected = sum(times for _, _, times in FAULTS)
    reliability("Telegram faults", "30 questions at once while the fake Bot API answers sendMessage with 429 "
                "(retry_after), 500, 502 and dropped connections; getUpdates failing four times running (a "
                "response cut off mid-body after the updates were taken, 502, a dropped connection, 429)", injected,
                "every question answered exactly once; no \"something went wrong\"; the bot stayed up and "
                "answered the next question; its debug log recorded the faults and never the token")


def test_serve_refuses_to_start_from_a_broken_index(tmp_path: Path, reliability: Record) -> None:
    env = _env(tmp_path)
    subprocess.run([Path(sys.executable).with_name("newsbot"), "index", "--model", "hashing", "--corpus-dir",
                    env["NEWSBOT_CORPUS_DIR"], "--index-dir", env["NEWSBOT_INDEX_DIR"]], check=True,
                   capture_output=True, timeout=60)
    vectors = next(Path(env["NEWSBOT_INDEX_DIR"]).glob("versions/*/vectors.faiss"))
    vectors.write_bytes(vectors.read_bytes()[:100])
    with FakeBotAPIServer() as api:
        done = _serve(api, tmp_path, env)
        assert not api.telegram.calls  # it never asked Telegram anything, let alone polled
    log = done.stderr
    assert done.returncode == 2
    assert "newsbot: the index file" in log and "run `newsbot index`" in log and "Traceback" not in log
    reliability("Index faults", "`newsbot serve` started on an index with a truncated vectors.faiss", 1,
                "exited with status 2 and one line saying which file is damaged and to run `newsbot index`; "
                "it never polled Telegram")


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("TELEGRAM_BOT_TOKEN", "", "TELEGRAM_BOT_TOKEN is not set"),
    ("TELEGRAM_BOT_TOKEN", "12345", "TELEGRAM_BOT_TOKEN does not look like a bot token"),
    ("TELEGRAM_ADMIN_IDS", "12,@alice", "TELEGRAM_ADMIN_IDS must be comma-separated numeric user ids"),
    ("NEWSBOT_INDEX_DIR", "{file}", "NEWSBOT_INDEX_DIR"),
    ("NEWSBOT_INDEX_DIR", "{file}/index", "NEWSBOT_INDEX_DIR"),
    ("NEWSBOT_CORPUS_DIR", "{missing}", "NEWSBOT_CORPUS_DIR"),
    ("NEWSBOT_RATE_LIMIT_SECONDS", "soon", "NEWSBOT_RATE_LIMIT_SECONDS must be a number"),
    ("NEWSBOT_MIN_CONFIDENCE", "sure", "NEWSBOT_MIN_CONFIDENCE must be a number, not 'sure'"),
])
def test_bad_settings_stop_serve_at_start_naming_the_key(tmp_path: Path, setting: str, value: str, named: str,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], reliability: Record) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    for key in [k for k in os.environ if k.startswith(("TELEGRAM_", "NEWSBOT_"))]:
        monkeypatch.delenv(key)
    for key, given in {**_env(tmp_path), "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
                       setting: value.format(file=tmp_path / "a-file", missing=tmp_path / "nowhere")}.items():
        monkeypatch.setenv(key, given)
    assert main(["serve", "--env-file", str(tmp_path / "none")]) == 2  # before any model, index or network
    stderr = capsys.readouterr().err
    assert named in stderr and "Traceback" not in stderr
    assert TOKEN.partition(":")[2] not in stderr
    reliability("Bad input", f"setting {setting}={value.format(file='<a file>', missing='<missing>') or '(empty)'}",
                1, f"`newsbot serve` exited 2 at start-up: \"{stderr.strip().removeprefix('newsbot: ').replace(str(tmp_path), '…')}\"")


# --- in-process: the real handlers, FakeRequest (no sockets) ---

async def test_a_reindex_while_the_cli_builds_and_two_admins_at_once(bot: Harness, reliability: Record) -> None:
    version = bot.service.retriever.version_dir
    with writer_lock(bot.service.index_dir):  # `newsbot index` running in another process
        await bot.say("/reindex force", chat_id=ADMIN)
    shown = visible_text(bot.telegram.sent(ADMIN, "editMessageText")[-1].text)
    assert "another index build is running" in shown and "previous index" in shown
    assert bot.service.retriever.version_dir == version

    for _ in range(2):  # two admins (or one, twice) at the same moment
        bot.telegram.push_text(ADMIN, "/reindex force")
    updates = [Update.de_json(u, bot.app.bot) for u in bot.telegram.pop_updates()]
    await asyncio.gather(*(bot.app.process_update(u) for u in updates))
    texts = [visible_text(c.text) for m in ("sendMessage", "editMessageText") for c in bot.telegram.sent(ADMIN, m)]
    assert sum("Index rebuilt" in t for t in texts) == 1 and sum("already running" in t for t in texts) == 1
    assert bot.service.retriever.version_dir != version
    reliability("Index faults", "`/reindex` while `newsbot index` holds the lock; two `/reindex` at the same moment",
                3, "the first was refused with \"another index build is running\" and the old index kept; of the "
                "two at once one rebuilt and the other was told a rebuild is already running")


async def test_a_full_disk_during_reindex_is_reported_to_the_admin(bot: Harness, monkeypatch: pytest.MonkeyPatch,
                                                                    reliability: Record) -> None:
    def full(index_dir: Path) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(index_dir))

    monkeypatch.setattr(newsbot.index.build, "new_staging_dir", full)
    await bot.say("/reindex force", chat_id=ADMIN)
    shown = visible_text(bot.telegram.sent(ADMIN, "editMessageText")[-1].text)
    assert "is full" in shown and "free some space" in shown and "previous index" in shown
    [answer] = await bot.say("zebras?")
    assert "Seven zebras" in answer.text
    reliability("Index faults", "disk full during `/reindex` (ENOSPC simulated)", 1,
                "the admin was told \"the disk holding … is full …; free some space …\" and that the previous "
                "index keeps answering; it did")


async def test_timeouts_are_retried_and_answered_once(bot: Harness, reliability: Record,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsbot.bot.replies.TYPING_AFTER", 0.0)  # "typing…" at once, so its fault is served
    bot.telegram.fail_next("sendMessage", "timeout", times=2)
    bot.telegram.fail_next("sendChatAction", "timeout")
    replies = await bot.say("zebras?")
    assert [r.text.count("Seven zebras") > 0 for r in replies] == [True]
    assert bot.telegram.faults_served.count(("sendMessage", "timeout")) == 2
    assert ("sendChatAction", "timeout") in bot.telegram.faults_served
    reliability("Telegram faults", "sendMessage timing out twice running, sendChatAction once", 3,
                "retried with back-off; answered exactly once")


async def test_a_long_retry_after_is_waited_in_full_with_the_question_kept_in_the_journal(
        tmp_path: Path, corpus_dir: Path, reliability: Record) -> None:
    journal = UpdateJournal(tmp_path / "journal.jsonl")
    waits: list[tuple[float, bool]] = []
    update_id = 0

    async def recorded(seconds: float) -> None:  # the test's clock: Telegram's wait is recorded, not spent
        waits.append((seconds, [u["update_id"] for u in journal.unfinished()] == [update_id]))

    async with in_process_bot(tmp_path, corpus_dir, journal=journal,
                              retry=RetryingLimiter(sleep=recorded)) as bot:
        bot.telegram.fail_next("sendMessage", "429:3600", times=8)  # beyond the old cap (60 s) and attempts (6)
        data = bot.telegram.push_text(USER, "zebras?")
        update_id = data["update_id"]
        await journal.received(bot.telegram.pop_updates())  # as the poll does
        await bot.app.process_update(Update.de_json(data, bot.app.bot))
        replies = bot.telegram.sent(USER)
    assert waits == [(3600.0, True)] * 8
    assert len(replies) == 1 and "Seven zebras" in replies[0].text
    assert journal.is_done(update_id) and journal.unfinished() == []
    journal.close()
    reliability("Telegram faults", "sendMessage answered 429 with retry_after 3600 s, 8 times running (the old "
                "cap was 60 s and 6 attempts)", len(waits),
                f"waited {len(waits)} × {waits[0][0]:.0f} s as Telegram asked (on the test's clock), the question "
                f"unfinished in the update journal during {sum(kept for _, kept in waits)} of the waits; then "
                "answered once and marked done")
