"""Bad input: hostile article files, questions, uploads. Each is reported by name or handled safely, the
rest still works, nothing outside the corpus folder is read or written, and no reply breaks Telegram's rules.
Property-based (hypothesis) where the input space is large; the hashing embedder stands in for the model."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telegram import Bot, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from newsbot.bot.cli import main
from newsbot.bot.journal import UpdateJournal
from newsbot.bot.ratelimit import MAX_WAITING
from newsbot.bot.render import render, text_blocks
from newsbot.bot.texts import ADMIN_ONLY, QUEUE_FULL, SORRY
from newsbot.corpus import BUNDLED_CORPUS_DIR, Article, Problem, read_corpus
from newsbot.index import build_index
from newsbot.index.hashing_embedder import HashingEmbedder
from newsbot.retrieval import Answer, Retriever
from tests.bot_harness import ADMIN, USER, Harness, in_process_bot
from tests.fake_bot_api import BOT_USERNAME, MAX_TEXT_UTF16, TOKEN, utf16_len, visible_text
from tests.reliability import Record

T = TypeVar("T")
GOOD = "title: Otters open a bakery\nsource: Wire\ndate: 2024-05-01\n\nThe otters baked rye bread on Monday.\n"


class Opened:
    """Every file this process opens while watching (an audit hook: it sees opens by any library)."""

    paths: list[tuple[str, bool]] | None = None  # (real path, opened for writing)

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.paths is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wxa+")) or bool(
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            cls.paths.append((os.path.realpath(os.fsdecode(args[0])), writing))


sys.addaudithook(Opened.hook)  # audit hooks cannot be removed; this one does nothing unless watching


def _hostile_files(corpus: Path, outside: Path) -> dict[str, str]:
    """Write the hostile files; returns each name and what should become of it ("" = read as an article)."""
    (outside / "secret.txt").write_text("Secret\n\nThe launch code is 0000.", encoding="utf-8")
    (outside / "folder").mkdir()
    (outside / "folder" / "inside.txt").write_text("Hidden\n\nDo not index this either.", encoding="utf-8")
    files: dict[str, bytes] = {
        "empty.txt": b"",
        "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "invalid-utf8.txt": b"Title\n\nBad \xff\xfe bytes.",
        "latin1.txt": "Café au lait\n\nUn café.".encode("latin-1"),
        "utf16.txt": "Title\n\nUTF-16 text.".encode("utf-16"),
        "nul bytes.txt": b"Title\n\nA\x00B.",
        "million lines.txt": b"Title\n\n" + b"a.\n" * 1_000_000,
        "only punctuation.txt": b"!!! ??? ...\n\n" + b"?!., ;: -- " * 500,
        "page.txt": b"<html><head><title>x</title><script>alert(1)</script></head>\n\n<body><p>Hello &amp; bye.</p>"
                    b"</body></html>",
        "rtl.txt": "عنوان الخبر\n\nقال المتحدث إن الاجتماع سيعقد غدا. זה משפט בעברית.".encode(),
        "mixed scripts.txt": "Заголовок 标题 タイトル\n\nНовости дня. 今天的新闻。 Ελληνικά νέα.".encode(),
        "emoji.txt": "🦭🦭🦭\n\n🦭 🐧 🦦. 🎉🎉🎉!".encode(),
        "späte nachricht ü 名前.txt": "Späte Nachricht\n\nEin Satz über Züge.".encode(),
        "bulk.jsonl": b'{"title": "Good line", "body": "A fine line."}\n{not json\n\x00\x01\n{"title": "No body"}\n',
    }
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    with open(corpus / "fifty megabytes.txt", "wb") as sparse:
        sparse.truncate(50_000_000)
    os.symlink(outside / "secret.txt", corpus / "link out.txt")
    os.symlink("../outside/secret.txt", corpus / "relative link.txt")
    os.symlink(outside / "folder", corpus / "linked folder")
    os.symlink(corpus / "nowhere.txt", corpus / "broken link.txt")
    os.mkfifo(corpus / "named pipe.txt")
    (corpus / "a folder.txt").mkdir()
    return {"empty.txt": "empty", "binary.txt": "binary", "invalid-utf8.txt": "not UTF-8", "latin1.txt": "not UTF-8",
            "utf16.txt": "binary", "nul bytes.txt": "binary", "million lines.txt": "too long",
            "only punctuation.txt": "", "page.txt": "", "rtl.txt": "", "mixed scripts.txt": "", "emoji.txt": "",
            "späte nachricht ü 名前.txt": "", "bulk.jsonl:2": "not valid JSON", "bulk.jsonl:3": "binary",
            "bulk.jsonl:4": "body", "bulk.jsonl:1": "", "fifty megabytes.txt": "larger than 5 MB",
            "link out.txt": "outside the corpus", "relative link.txt": "outside the corpus",
            "broken link.txt": "cannot be read", "named pipe.txt": "not a regular file",
            "linked folder/": "a link to a folder"}


def test_hostile_article_files_are_reported_by_name_and_the_rest_indexes(tmp_path: Path, reliability: Record) -> None:
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    expected = {**_hostile_files(corpus, outside), "good.txt": ""}

    Opened.paths = []
    try:
        items = list(read_corpus(corpus))
        report = build_index(corpus, tmp_path / "index", HashingEmbedder())
    finally:
        opened, Opened.paths = Opened.paths, None
    found = {item.path if isinstance(item, Problem) else item.id: item for item in items}
    assert set(found) == set(expected)  # one outcome per file; nothing from the linked folder
    for name, reason in expected.items():
        if reason:
            assert isinstance(found[name], Problem) and reason in found[name].reason, (name, found[name])
        else:
            assert isinstance(found[name], Article), (name, found[name])
    assert not [path for path, _ in opened if path.startswith(str(outside.resolve()))]  # not even opened
    index_dir = str((tmp_path / "index").resolve())
    assert not [path for path, writing in opened if writing and not path.startswith(index_dir)]
    retriever = Retriever.open(tmp_path / "index", embedder=HashingEmbedder())
    assert retriever.search("otters baked rye bread", k=1)[0].article.id == "good.txt"
    assert "launch code" not in " ".join(h.text for h in retriever.search("launch code secret", k=20))
    assert report.articles == len([r for r in expected.values() if not r])
    reliability("Bad input", "article files: empty, binary, invalid UTF-8, Latin-1, UTF-16, NUL bytes, 50 MB, "
                "a million short lines, only punctuation, HTML, right-to-left, mixed scripts, emoji, names with "
                "spaces and unicode, bad JSON Lines lines, links out of the folder (absolute, relative `..`, a "
                "linked folder), a broken link, a named pipe, a folder named .txt", len(expected) + 1,
                f"{len([r for r in expected.values() if r])} reported by name with the reason, "
                f"{report.articles} indexed (HTML, RTL, emoji, punctuation-only read as text, escaped when shown); "
                "the good article answered; no file outside the corpus folder was opened")


NAMES = st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1,
                max_size=40).filter(lambda n: n not in (".", "..") and not n.startswith(".") and len(n.encode()) < 200)
CONTENTS = st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(str.encode),
                     st.lists(st.sampled_from(["title: T", "date: 2024-13-45", "url: javascript:x", "", "Word.",
                                               "<b>", "\u202e", "🦭", "\r", "\x0c"]), max_size=40)
                     .map(lambda lines: "\n".join(lines).encode()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.dictionaries(NAMES.map(lambda n: n + ".txt"), CONTENTS, min_size=1, max_size=4))
def test_any_files_each_become_one_article_or_one_named_problem(tmp_path: Path, files: dict[str, bytes]) -> None:
    corpus = tmp_path / f"corpus-{abs(hash(tuple(files)))}"
    corpus.mkdir()
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    items = list(read_corpus(corpus))
    named = sorted(item.path if isinstance(item, Problem) else item.id for item in items)
    assert named == sorted(files)  # exactly one outcome per file, under its own name
    assert all(item.reason for item in items if isinstance(item, Problem))
    shutil.rmtree(corpus)
    _files_tried.append(len(files))


_files_tried: list[int] = []


def test_any_files_property_is_recorded(reliability: Record) -> None:
    assert _files_tried, "the file property ran first"
    reliability("Bad input", "random article files (hypothesis): any bytes, any text, header-like lines, "
                "unicode names with spaces", sum(_files_tried),
                "each file became exactly one article or one problem under its own name; nothing raised")


# --- settings and files the command line cannot use ---

SQUAD_RECORD = {"id": "a", "title": "T", "paragraphs": [{"context": "One. Two.", "reqa_sentence_spans": [[0, 4], [5, 9]],
                                                         "qas": [{"question": "q?", "answers": [{"text": "One",
                                                                                                  "answer_start": 0}]}]}]}
BAD_DATASETS = {
    "not JSON": b"this is not JSON\n",
    "JSON but not an article": b'{"id": 1}\n',
    "an article without reqa_sentence_spans": json.dumps({**SQUAD_RECORD, "paragraphs": [
        {"context": "One.", "qas": []}]}).encode(),
    "JSON nested 100,000 deep": b"[" * 100_000,
    "not UTF-8": b"\xff\xfe\x00\x01",
    "empty": b"",
}


def test_settings_and_files_the_cli_cannot_use_are_one_line_with_status_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], reliability: Record) -> None:
    monkeypatch.setenv("NEWSBOT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("NEWSBOT_CORPUS_DIR", str(BUNDLED_CORPUS_DIR))
    dataset = tmp_path / "squad.jsonl"
    dataset.write_text(json.dumps(SQUAD_RECORD), encoding="utf-8")
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    settings = {"NEWSBOT_BACKEND=bogus": ({"NEWSBOT_BACKEND": "bogus"}, "bogus"),
                "NEWSBOT_MODEL=/nonexistent": ({"NEWSBOT_MODEL": "/nonexistent"}, "/nonexistent"),
                "NEWSBOT_MODEL=/nonexistent with NEWSBOT_BACKEND=torch": (
                    {"NEWSBOT_MODEL": "/nonexistent", "NEWSBOT_BACKEND": "torch"}, "/nonexistent"),
                "NEWSBOT_MODEL=<a folder without a model>": ({"NEWSBOT_MODEL": str(not_a_model)}, str(not_a_model)),
                "NEWSBOT_MODEL=all-MiniLM-L6-v2#bogus": ({"NEWSBOT_MODEL": "all-MiniLM-L6-v2#bogus"}, "bogus")}
    runs: list[tuple[list[str], dict[str, str], str]] = [
        (command, environment, named) for environment, named in settings.values()
        for command in (["index"], ["ask", "question"], ["eval", str(dataset)])]
    for number, data in enumerate(BAD_DATASETS.values()):
        (tmp_path / f"bad{number}.jsonl").write_bytes(data)
        runs.append((["eval", "--model", "hashing", str(tmp_path / f"bad{number}.jsonl")], {}, f"bad{number}.jsonl"))
    lines = []
    for command, environment, named in runs:
        with monkeypatch.context() as scoped:
            for key, value in environment.items():
                scoped.setenv(key, value)
            status = main(command)
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1 and err.startswith("newsbot: "), (command, environment, err)
        assert "unexpected" not in err and named in err, (command, environment, err)
        lines.append(err.strip().replace(str(tmp_path), "…"))
    reliability("Bad input", f"settings the command line cannot use ({', '.join(settings)}) on `newsbot index`, "
                f"`ask` and `eval`; `newsbot eval` on datasets that are {', '.join(BAD_DATASETS)}", len(runs),
                f"exit status 2 and one line naming the setting or the file every time (e.g. \"{lines[0]}\", "
                f"\"{lines[-len(BAD_DATASETS)]}\"); never \"unexpected error\"")


# --- questions, through the real handlers (in-process, FakeRequest) ---

class LoopThread:
    """An event loop on its own thread, so synchronous hypothesis tests can drive the async bot."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoopThread, Harness]]:
    folder = tmp_path_factory.mktemp("questions")
    corpus = folder / "corpus"
    shutil.copytree(BUNDLED_CORPUS_DIR, corpus)
    loop = LoopThread()
    running = in_process_bot(folder, corpus, NEWSBOT_RATE_LIMIT_QUESTIONS="1000000")
    harness = loop.run(running.__aenter__())
    try:
        yield loop, harness
    finally:
        loop.run(running.__aexit__(None, None, None))
        loop.close()


QUESTIONS = st.one_of(
    st.text(max_size=400),
    st.text(st.sampled_from(" \t\n\r\u00a0\u2003\u200b"), max_size=30),
    st.text(st.characters(whitelist_categories=("So", "Sk", "Mn")), min_size=1, max_size=300),
    st.text(st.characters(whitelist_categories=("Cc", "Cf")), min_size=1, max_size=60),
    st.lists(st.sampled_from(["<b>", "</b>", "<i>", "<a href='javascript:x'>", "&", "&amp;", "&#0;", "<", ">",
                              "<tg-spoiler>", "```", "*", "_", "[x](y)", "<script>", "</pre>", "Lavrov", "Syria"]),
             min_size=1, max_size=30).map(" ".join),
    st.tuples(st.sampled_from(["/", "/start", "/reindex", "/add", "/stats", "/more", "/sources", "/x" * 40]),
              st.sampled_from(["", f"@{BOT_USERNAME}", "@other_bot"]), st.text(max_size=60)).map("".join),
    st.sampled_from(["x" * 10_000, "Syria " * 2_000, "🦭" * 5_000, "\u202e" * 10_000, ("مرحبا " * 1700)[:10_000]]),
)
_asked: list[int] = []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=QUESTIONS, group=st.booleans())
def test_any_question_gets_a_polite_reply_within_telegrams_limits(live: tuple[LoopThread, Harness], question: str,
                                                                  group: bool) -> None:
    loop, bot = live
    telegram = bot.telegram
    rejected = len(telegram.rejected)
    chat = -100777 if group else USER
    text = f"@{BOT_USERNAME} {question}" if group else question
    replies = loop.run(bot.say(text, chat_id=chat, user_id=USER, chat_type="group" if group else "private"))
    _asked.append(1)
    targeted = re.match(r"/[A-Za-z0-9_]{1,32}@([A-Za-z0-9_]+)", text)
    if targeted and targeted.group(1).lower() != BOT_USERNAME.lower():
        assert replies == [], repr(question[:80])  # a command for another bot is not ours to answer
    elif not group or question.strip() or question.startswith("/"):
        assert replies or (group and question.startswith("/")), repr(question[:80])
    assert len(telegram.rejected) == rejected, telegram.rejected[rejected:]  # Telegram accepted every reply...
    for reply in replies:
        assert reply.params.get("parse_mode") == "HTML"  # ...as HTML, with no plain-text fallback needed
        assert utf16_len(visible_text(reply.text).strip()) <= MAX_TEXT_UTF16
        assert SORRY not in reply.text and "Traceback" not in reply.text
    command = question.split()[0] if question.split() and question[:1] == "/" else ""
    if command.removesuffix(f"@{BOT_USERNAME}") in ("/reindex", "/stats") and not group:
        assert replies[0].text == ADMIN_ONLY  # a user typing an admin command is refused


def test_any_question_property_is_recorded(reliability: Record) -> None:
    assert _asked, "the question property ran first"
    reliability("Bad input", "questions (hypothesis): empty, whitespace, 10,000 characters, only emoji, control "
                "and format characters, HTML-breaking markup, strings that look like commands, in private and in "
                "groups", len(_asked),
                "a reply every time (or silence where the bot was not addressed: group chatter, commands for another "
                "bot); Telegram's checks "
                "(well-formed HTML, ≤ 4096 UTF-16 units, not empty) accepted every one as HTML; never \"something "
                "went wrong\"")


# --- commands with any arguments, and buttons with any data their pattern allows ---

ARGUMENTS = st.one_of(
    st.text(st.characters(whitelist_categories=("Nd", "No", "Nl")), min_size=1, max_size=12),  # ², ٣, Ⅻ, ３
    st.integers().map(str),
    st.floats().map(str),
    st.sampled_from(["²", "-1", "0", "+3", "1e9", "9" * 60, "３", "force", "FORCE", "page 2", ""]),
    st.text(max_size=40),
)
_commanded: list[int] = []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), argument=ARGUMENTS)
def test_any_command_argument_or_button_gets_a_polite_reply(live: tuple[LoopThread, Harness], data: st.DataObject,
                                                            argument: str) -> None:
    loop, bot = live
    telegram = bot.telegram
    handlers = [h for h in bot.app.handlers[0] if isinstance(h, (CommandHandler, CallbackQueryHandler))]
    handler = data.draw(st.sampled_from(handlers))
    calls, rejected = len(telegram.calls), len(telegram.rejected)
    if isinstance(handler, CommandHandler):
        telegram.push_text(USER, f"/{data.draw(st.sampled_from(sorted(handler.commands)))} {argument}".rstrip())
    else:
        telegram.push_callback(USER, data.draw(st.from_regex(handler.pattern, fullmatch=True)), message_id=1)
    loop.run(bot.deliver())
    _commanded.append(1)
    shown = [c for c in telegram.calls[calls:] if c.method in ("sendMessage", "editMessageText")]
    unchanged = [r for r in telegram.rejected[rejected:] if "not modified" in r]  # a page button for the page shown
    noticed = [c.params["text"] for c in telegram.calls[calls:] if c.method == "answerCallbackQuery" and c.params.get("text")]
    assert shown or unchanged or noticed, [c.method for c in telegram.calls[calls:]]  # a rating: a button's notice
    assert not any(SORRY in text for text in noticed)
    for reply in shown:
        assert reply.params.get("parse_mode") == "HTML" and visible_text(reply.text).strip()
        assert SORRY not in reply.text and "Traceback" not in reply.text


def test_any_command_argument_property_is_recorded(reliability: Record) -> None:
    assert _commanded, "the command property ran first"
    reliability("Bad input", "every command (found from the Application's handlers) followed by arguments "
                "(hypothesis): digits of any script (², ٣, Ⅻ, ３), signs, huge numbers, floats, any text; every "
                "button with any data its pattern allows (ratings of answers never sent included)", len(_commanded),
                "a reply every time (a notice for a rating), accepted by Telegram's checks as HTML; never "
                "\"something went wrong\"")


# --- questions sent back to back ---

WAITING_REPLY = visible_text(render(text_blocks(QUEUE_FULL))[0].html)
_bursts: list[int] = []


@pytest.fixture(scope="module")
def queued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoopThread, Harness, dict[str, float]]]:
    """A bot whose answers take as long as the test says (`delays` by question), to shuffle their finishing order."""
    folder = tmp_path_factory.mktemp("queued")
    (folder / "corpus").mkdir()
    loop = LoopThread()
    running = in_process_bot(folder, folder / "corpus", NEWSBOT_RATE_LIMIT_QUESTIONS="1000000")
    harness = loop.run(running.__aenter__())
    delays: dict[str, float] = {}

    async def answer(question: str, k: int, history: tuple[str, ...] = ()) -> Answer:
        await asyncio.sleep(delays[question])
        return Answer(question, found=False, hits=(), message=f"Reply to {question}")

    harness.service.answer = answer  # type: ignore[method-assign]
    try:
        yield loop, harness, delays
    finally:
        loop.run(running.__aexit__(None, None, None))
        loop.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(st.tuples(st.sampled_from([701, 702, 703]), st.sampled_from([0.0, 0.001, 0.005, 0.02])),
                         min_size=1, max_size=12))
def test_questions_sent_back_to_back_are_each_answered_once_in_order(
        queued: tuple[LoopThread, Harness, dict[str, float]], messages: list[tuple[int, float]]) -> None:
    loop, bot, delays = queued
    telegram = bot.telegram
    before = {user: len(telegram.sent(user)) for user, _ in messages}
    asked: dict[int, list[str]] = {}
    for user, delay in messages:
        question = f"question {len(delays)}"
        delays[question] = delay
        asked.setdefault(user, []).append(question)
        telegram.push_text(user, question)

    async def together() -> None:  # as one poll delivers them: handled concurrently
        updates = [Update.de_json(u, bot.app.bot) for u in telegram.pop_updates()]
        await asyncio.gather(*(bot.app.process_update(u) for u in updates))

    loop.run(together())
    _bursts.append(len(messages))
    for user, questions in asked.items():
        replies = [visible_text(c.text) for c in telegram.sent(user)[before[user]:]]
        assert len(replies) == len(questions), replies  # one reply each
        answered = [r for r in replies if r != WAITING_REPLY]
        assert answered == [f"Reply to {q}" for q in questions[:MAX_WAITING + 1]], replies  # in the order sent


def test_back_to_back_property_is_recorded(reliability: Record) -> None:
    assert _bursts, "the back-to-back property ran first"
    reliability("Bad input", f"questions sent back to back (hypothesis: {len(_bursts)} bursts of 1 to 12 messages "
                "from 1 to 3 users, each answer taking 0 to 20 ms, so later ones would finish first)", sum(_bursts),
                f"every question got one reply; each user's first {MAX_WAITING + 1} (one answered, "
                f"{MAX_WAITING} waiting) were answered in the order sent; any beyond were told \"{WAITING_REPLY}\"")


# --- the update journal, whatever its lines hold ---

def _entry(update_id: int) -> dict[str, object]:
    return {"update": {"update_id": update_id, "message": {"message_id": 1, "date": 0, "text": "hi",
                                                           "chat": {"id": 1, "type": "private"}}}}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                         max_size=4), max_leaves=20)
IDS = st.integers(0, 50)
GOOD_LINES = st.one_of(IDS.map(lambda i: ("update", i, json.dumps(_entry(i)))),
                       IDS.map(lambda i: ("done", i, json.dumps({"done": i}))))
DAMAGED_LINES = st.one_of(
    JSON.filter(lambda v: not (isinstance(v, dict) and ({"update", "done"} & set(v)))).map(json.dumps),
    st.sampled_from(['{"update":{"no_id":1}}', '{"update":{"update_id":"5"}}', '{"update":{"update_id":true}}',
                     '{"update":{"update_id":-1}}', '{"update":{"update_id":1.5}}', '{"done":"7"}', '{"done":null}',
                     '{"update":[]}', "[" * 50_000 + "]" * 50_000, '{"update":{"update_id":3,"x":' + "[" * 100 + "]" * 100 + "}}",
                     '{"update":{"update_id":4,"message":"not a message"}}'[:30]]),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
).map(lambda line: ("damaged", None, line))
_journals: list[int] = []


@pytest.fixture(scope="module")
def offline_bot() -> Bot:
    return Bot(TOKEN)  # only for reading updates: it never connects


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(st.one_of(GOOD_LINES, DAMAGED_LINES), max_size=15))
def test_any_journal_opens_and_keeps_exactly_its_unfinished_updates(offline_bot: Bot,
                                                                     lines: list[tuple[str, int | None, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "journal.jsonl"
        path.write_bytes("\n".join(line.replace("\n", " ").replace("\r", " ") for _, _, line in lines)
                         .encode("utf-8", "surrogatepass"))
        pending: dict[int, None] = {}
        done = set()
        for kind, update_id, _ in lines:  # what the journal should make of it: the well-formed lines, in order
            if kind == "update" and update_id not in done:  # one already answered is not taken again
                pending[update_id] = None
            elif kind == "done":
                pending.pop(update_id, None)
                done.add(update_id)
        journal = UpdateJournal(path)
        assert [u["update_id"] for u in journal.unfinished()] == sorted(pending)
        replayed = asyncio.run(journal.orphans(offline_bot))
        assert [u.update_id for u in replayed] == [u["update_id"] for u in journal.unfinished()] == sorted(pending)
        journal.close()
        assert [u["update_id"] for u in UpdateJournal(path).unfinished()] == sorted(pending)  # rewritten clean
    _journals.append(len(lines))


def test_any_journal_property_is_recorded(reliability: Record) -> None:
    assert _journals, "the journal property ran first"
    reliability("Bad input", f"update journals (hypothesis: {len(_journals)} files): well-formed entries mixed with "
                "any JSON, updates without an id or with a string, boolean, negative or fractional one, done marks "
                "that are not ids, lines nested 50,000 deep, torn lines, any bytes", sum(_journals),
                "every journal opened; exactly the well-formed updates not marked done were handed back, in order, "
                "and stayed so after the journal was rewritten; nothing raised")


# --- /add uploads ---

UPLOADS = [
    ("report.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "only .txt files"),
    ("program.exe", b"MZ\x90\x00", "only .txt files"),
    ("notes", b"title: x\n\nBody.", "only .txt files"),
    ("story.txt.exe", b"title: x\n\nBody.", "only .txt files"),
    ("huge.txt", b"title: Huge\n\n" + b"word " * 250_000, "larger than 1 MB"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
    ("nul.txt", b"title: x\n\nA\x00B.", "binary"),
    ("latin1.txt", "title: Café\n\nUn café.".encode("latin-1"), "not UTF-8"),
    ("utf16.txt", "title: x\n\nBody.".encode("utf-16"), "not UTF-8"),
    ("empty.txt", b"", "empty"),
    ("blank.txt", b" \n\n\t\n", "empty"),
    ("title-only.txt", b"title: Only a title\n\n", "no body text"),
    ("lines.txt", b"Title\n\n" + b"a\n" * 300_000, "too long"),
]


async def test_bad_uploads_are_refused_with_a_reason_and_nothing_is_written(
        tmp_path: Path, corpus_dir: Path, reliability: Record) -> None:
    async with in_process_bot(tmp_path, corpus_dir) as bot:
        before = sorted(str(p) for p in tmp_path.rglob("*"))
        version = bot.service.retriever.version_dir
        for name, data, reason in UPLOADS:
            bot.telegram.push_document(ADMIN, name, data, user_id=ADMIN)
            await bot.deliver()
            last = bot.telegram.sent(ADMIN, "editMessageText")[-1:] + bot.telegram.sent(ADMIN)[-1:]
            replies = " ".join(visible_text(call.text) for call in last)
            assert reason in replies and ("could not" in replies), (name, replies)
        assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # not a file more (nor less)
        assert bot.service.retriever.version_dir == version

        bot.telegram.push_document(ADMIN, "../../../../../tmp/evil name.txt", GOOD.encode(), user_id=ADMIN)
        await bot.deliver()  # a path in the file name is only a name: stored inside the corpus folder
        added = [p for p in tmp_path.rglob("*") if str(p) not in before and p.is_file()]
        assert [p.relative_to(corpus_dir).as_posix() for p in added if p.suffix == ".txt"] == ["added/evil-name.txt"]
        assert not Path("/tmp/evil name.txt").exists()
    reliability("Bad input", "`/add` uploads: .pdf, .exe, no extension, .txt.exe, over 1 MB, a PNG, NUL bytes, Latin-1, "
                "UTF-16, empty, blank, title only, 300,000 lines; a file name holding `../../` (a valid article)",
                len(UPLOADS) + 1, f"each of the {len(UPLOADS)} refused with its reason and not a file written "
                "or the index changed; the `../` name was stored as added/evil-name.txt inside the corpus folder")
