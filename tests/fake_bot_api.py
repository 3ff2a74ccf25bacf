"""A fake Telegram Bot API for tests and benchmarks: one state machine, two transports.

- `FakeTelegram` holds chats, queued updates and every call the bot made, and answers Bot API
  methods the way Telegram does, including its checks that matter here: HTML must be well
  formed with supported tags and escaped `<`/`&`, and a message's visible text may hold at
  most 4096 UTF-16 units. Faults can be injected per method: 429 with retry_after, 400, 5xx, a
  connection dropped before the call is processed, one cut off mid-response *after* it was processed
  (the bot cannot know whether it took effect), and a timeout. Pending updates stay queued until a
  getUpdates offset confirms them, as on Telegram, and polls can be held so a test can kill the bot
  between answering updates and confirming them.
- `FakeBotAPIServer` serves it over HTTP on 127.0.0.1 for the unmodified bot process
  (`newsbot serve` with TELEGRAM_API_BASE_URL pointed at it). It uses the standard library's
  ThreadingHTTPServer: no extra dependency, it runs beside any event loop (the tests' or none),
  and a long-polling getUpdates simply blocks its own thread.
- `FakeRequest` plugs the same state machine into python-telegram-bot in-process as a
  `BaseRequest`, with no sockets at all.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

TOKEN = "123456789:TEST_token_do_not_log_me_0123456789"
BOT_USERNAME = "newsbot_test_bot"
MAX_TEXT_UTF16 = 4096
MAX_POLL_SECONDS = 2.0  # a long poll is cut short so tests can stop quickly
TIMEOUT_SECONDS = 20.0  # how long a "timeout" fault keeps an HTTP request waiting (the bot gives up first)
T = TypeVar("T")

_TAG = re.compile(r"<(/?)([a-z-]+)((?:\s+[a-z-]+=\"[^\"<>]*\")*)\s*>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-f]{1,6});", re.IGNORECASE)
_SUPPORTED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                   "blockquote", "tg-spoiler"}


class HtmlRejected(ValueError):
    """What Telegram says when it cannot parse a message's entities."""


@dataclass
class Call:
    """One Bot API call the bot made, with its form parameters decoded where they are JSON."""

    method: str
    params: dict[str, Any]
    result: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))


def visible_text(markup: str) -> str:
    """The text Telegram shows for an HTML message; raises HtmlRejected as Telegram would."""
    stack: list[str] = []
    position = 0
    pieces = []
    for match in _TAG.finditer(markup):
        pieces.append(markup[position:match.start()])
        position = match.end()
        closing, name = match.group(1), match.group(2).lower()
        if name not in _SUPPORTED_TAGS:
            raise HtmlRejected(f"Bad Request: can't parse entities: unsupported start tag \"{name}\"")
        if closing:
            if not stack or stack.pop() != name:
                raise HtmlRejected(f"Bad Request: can't parse entities: unexpected end tag \"{name}\"")
        else:
            stack.append(name)
    pieces.append(markup[position:])
    if stack:
        raise HtmlRejected(f"Bad Request: can't parse entities: can't find end tag corresponding to start tag "
                           f"\"{stack[-1]}\"")
    text = "".join(pieces)
    if "<" in text or ">" in text:
        raise HtmlRejected("Bad Request: can't parse entities: unexpected < or > in the text")
    for ampersand in re.finditer("&", text):
        if not _ENTITY.match(text, ampersand.start()):
            raise HtmlRejected("Bad Request: can't parse entities: unsupported entity")
    return html.unescape(text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeTelegram:
    """The Bot API's state and behaviour, thread-safe (the HTTP server calls it from many threads)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.bot_user = {"id": int(token.partition(":")[0]), "is_bot": True, "first_name": "Newsbot", "username": BOT_USERNAME,
                         "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.faults_served: list[tuple[str, str]] = []
        self.rejected: list[str] = []  # the 400s Telegram's own checks (HTML, length, empty) gave
        self.delivered_at: dict[int, float] = {}
        self._changed = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message: dict[int, int] = {}
        self._texts: dict[tuple[int, int], tuple[str, object]] = {}  # the bot's messages: text and buttons
        self._faults: dict[str, list[str]] = {}
        self._files: dict[str, bytes] = {}
        self._stopping = False
        self._holding_polls = False
        self.held_polls = 0
        self.confirmed = 0  # the highest update id a getUpdates offset has confirmed

    # --- what tests do ---

    def push_text(self, chat_id: int, text: str, *, user_id: int | None = None, chat_type: str = "private",
                  reply_to_bot: bool = False) -> dict[str, Any]:
        """A user sends a text message; returns the update queued for the bot."""
        message = self._message(chat_id, user_id, chat_type)
        message.update(text=text, **_entities(text, "entities"))
        if reply_to_bot:
            message["reply_to_message"] = {**self._message(chat_id, None, chat_type, from_bot=True), "text": "earlier"}
        return self._push({"message": message})

    def push_edit(self, sent: dict[str, Any], text: str) -> dict[str, Any]:
        """The user edits the message of update `sent` (push_text's) to `text`: an edited_message update."""
        message = {key: value for key, value in sent["message"].items() if key != "entities"}
        message.update(text=text, edit_date=int(time.time()), **_entities(text, "entities"))
        return self._push({"edited_message": message})

    def push_document(self, chat_id: int, file_name: str, content: bytes, *, user_id: int | None = None,
                      caption: str = "/add", chat_type: str = "private") -> dict[str, Any]:
        file_id = f"file-{len(self._files) + 1}"
        with self._changed:
            self._files[file_id] = content
        message = self._message(chat_id, user_id, chat_type)
        message.update(document={"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                                 "mime_type": "text/plain", "file_size": len(content)},
                       caption=caption, **_entities(caption, "caption_entities"))
        return self._push({"message": message})

    def push_callback(self, chat_id: int, data: str, message_id: int, *, user_id: int | None = None,
                      chat_type: str = "private") -> dict[str, Any]:
        user = _user(user_id or chat_id)
        message = {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id, chat_type),
                   "from": self.bot_user, "text": "earlier answer"}
        return self._push({"callback_query": {"id": f"cq{self._next_update}", "from": user, "chat_instance": "ci",
                                              "data": data, "message": message}})

    def pop_updates(self) -> list[dict[str, Any]]:
        """Take the queued updates (for in-process tests, which feed them to the Application directly)."""
        with self._changed:
            updates, self._updates = self._updates, []
            return updates

    def fail_next(self, method: str, fault: str, times: int = 1) -> None:
        """The next `times` calls of `method` fail with `fault`: "400", "429" (or "429:SECONDS" for another
        retry_after), "500", "502", "drop" (no response, the call not processed), "cut" (the call processed,
        then the connection closed mid-response) or "timeout" (no answer until the bot gives up)."""
        with self._changed:
            self._faults.setdefault(method, []).extend([fault] * times)

    def hold_polls(self) -> None:
        """From now on getUpdates calls wait, their offsets not applied, until release_polls()."""
        with self._changed:
            self._holding_polls = True

    def release_polls(self) -> None:
        """Let held polls go; their offsets are dropped, as if the requests had never arrived (the bot that
        sent them has been killed meanwhile)."""
        with self._changed:
            self._holding_polls = False
            self._changed.notify_all()

    def faults_pending(self) -> int:
        """Injected faults not yet served."""
        with self._changed:
            return sum(len(faults) for faults in self._faults.values())

    def answers(self, chat_id: int) -> int:
        """How many messages the bot sent to a chat."""
        return len(self.sent(chat_id))

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method and (chat_id is None or c.chat_id == chat_id)]

    def wait_for(self, check: Callable[[], T], timeout: float = 20.0) -> T:
        """Wait until `check()` is truthy (re-checked on every call the bot makes); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = check()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    methods = [c.method for c in self.calls[-20:]]
                    raise AssertionError(f"timed out after {timeout} s; the last calls were {methods}")
                self._changed.wait(remaining)

    def calls_since(self, index: int, timeout: float) -> list[Call]:
        """The calls after the first `index`, waiting up to `timeout` s for at least one."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.calls) > index, timeout)
            return self.calls[index:]

    def wait_until_stopped(self, seconds: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._stopping, seconds)

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()

    # --- what the bot does ---

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | str:
        """Answer one API call: (HTTP status, JSON body), or "drop", "cut" or "timeout" for a transport fault
        ("cut": the call has been processed; the connection must be closed mid-response)."""
        with self._changed:
            faults = self._faults.get(method)
            fault = faults.pop(0) if faults else None
            if fault:
                self.faults_served.append((method, fault))
                self._changed.notify_all()
        if fault in ("drop", "timeout"):
            return fault
        if fault == "cut":
            self.handle(method, params)
            return "cut"
        if fault and fault.startswith("429"):
            wait = int(fault.partition(":")[2] or 1)
            return 429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {wait}",
                         "parameters": {"retry_after": wait}}
        if fault == "400":
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: can't parse entities: injected by the test"}
        if fault in ("500", "502"):
            return int(fault), {"ok": False, "error_code": int(fault), "description": "Internal Server Error"}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        try:
            result = self._answer(method, params)
        except HtmlRejected as error:
            with self._changed:
                self.rejected.append(str(error))
            return 400, {"ok": False, "error_code": 400, "description": str(error)}
        if result is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        with self._changed:
            self.calls.append(Call(method, params, result))
            self._changed.notify_all()
        return 200, {"ok": True, "result": result}

    def file(self, path: str) -> bytes | None:
        with self._changed:
            return self._files.get(path.removeprefix("documents/"))

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.bot_user
        if method in ("deleteWebhook", "setWebhook", "setMyCommands", "sendChatAction", "answerCallbackQuery"):
            return True
        if method in ("sendMessage", "editMessageText"):
            text = str(params.get("text", ""))
            shown = visible_text(text) if params.get("parse_mode") == "HTML" else text
            if not shown.strip():
                raise HtmlRejected("Bad Request: message text is empty")
            if utf16_len(shown.strip()) > MAX_TEXT_UTF16:
                raise HtmlRejected("Bad Request: message is too long")
            chat_id = int(params["chat_id"])
            message_id = int(params["message_id"]) if method == "editMessageText" else self._message_id(chat_id)
            content = (shown.strip(), params.get("reply_markup"))
            with self._changed:
                if method == "editMessageText" and self._texts.get((chat_id, message_id)) == content:
                    raise HtmlRejected("Bad Request: message is not modified: specified new message content and "
                                       "reply markup are exactly the same as a current content and reply markup "
                                       "of the message")
                self._texts[(chat_id, message_id)] = content
            return {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id, "private"),
                    "from": self.bot_user, "text": shown}
        if method == "getFile":
            file_id = str(params["file_id"])
            with self._changed:
                size = len(self._files[file_id]) if file_id in self._files else None
            if size is None:
                raise HtmlRejected("Bad Request: invalid file_id")
            return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size,
                    "file_path": f"documents/{file_id}"}
        return None

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), MAX_POLL_SECONDS)
        with self._changed:
            if self._holding_polls:
                self.held_polls += 1
                self._changed.notify_all()
                self._changed.wait_for(lambda: not self._holding_polls or self._stopping)
                return []
            allowed = params.get("allowed_updates")  # like Telegram, drop the kinds the bot did not ask for

            def pending() -> list[dict[str, Any]]:
                self._updates = [u for u in self._updates if u["update_id"] >= offset
                                 and (not allowed or any(kind in u for kind in allowed))]
                return self._updates

            self.confirmed = max(self.confirmed, offset - 1)
            while not pending() and not self._stopping and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            batch = self._updates[:int(params.get("limit") or 100)]
            now = time.monotonic()
            for update in batch:
                self.delivered_at.setdefault(update["update_id"], now)
            self.calls.append(Call("getUpdates", params))
            self._changed.notify_all()
            return batch

    def _push(self, content: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            update = {"update_id": self._next_update, **content}
            self._next_update += 1
            self._updates.append(update)
            self._changed.notify_all()
            return update

    def _message(self, chat_id: int, user_id: int | None, chat_type: str, *, from_bot: bool = False
                 ) -> dict[str, Any]:
        message_id = self._message_id(chat_id)
        sender = self.bot_user if from_bot else _user(user_id or chat_id)
        return {"message_id": message_id, "date": int(time.time()), "chat": _chat(chat_id, chat_type), "from": sender}

    def _message_id(self, chat_id: int) -> int:
        with self._changed:  # a Condition's lock is re-entrant
            self._next_message[chat_id] = self._next_message.get(chat_id, 0) + 1
            return self._next_message[chat_id]


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}


def _chat(chat_id: int, chat_type: str) -> dict[str, Any]:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    return {"id": chat_id, "type": chat_type, "title": "News group"}


def _entities(text: str, key: str) -> dict[str, Any]:
    """A leading /command and every @mention, with offsets in UTF-16 units as Telegram sends them."""
    entities = []
    command = re.match(r"/\w+(@\w+)?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for mention in re.finditer(r"@\w+", text):
        if command and mention.start() < command.end():
            continue
        entities.append({"type": "mention", "offset": utf16_len(text[:mention.start()]),
                         "length": utf16_len(mention.group())})
    return {key: entities} if entities else {}


def decode_params(pairs: dict[str, str]) -> dict[str, Any]:
    """PTB sends nested objects as JSON strings inside the form; decode those."""
    decoded: dict[str, Any] = {}
    for key, value in pairs.items():
        if value[:1] in "[{":
            try:
                decoded[key] = json.loads(value)
                continue
            except ValueError:
                pass
        decoded[key] = value
    return decoded


class FakeRequest(BaseRequest):
    """In-process transport for python-telegram-bot: each call goes straight to a FakeTelegram."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        path = unquote(urlsplit(url).path)
        if "/file/bot" in path:
            content = self.telegram.file(path.split("/", 4)[-1])
            return (200, content) if content is not None else (404, b"")
        params = decode_params(request_data.json_parameters if request_data else {})
        answer = self.telegram.handle(path.rsplit("/", 1)[-1], params)
        if answer == "timeout":
            raise TimedOut("Timed out")
        if isinstance(answer, str):
            raise NetworkError("httpx.RemoteProtocolError: Server disconnected without sending a response.")
        status, body = answer
        return status, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    disable_nagle_algorithm = True  # headers and body go out as two writes; Nagle would hold the body ~40 ms
    server: FakeBotAPIServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        telegram = self.server.telegram
        prefix, path = f"/file/bot{telegram.token}/", unquote(self.path)  # PTB quotes the token's colon
        content = telegram.file(path[len(prefix):]) if path.startswith(prefix) else None
        if content is None:
            self._reply(404, b'{"ok":false,"error_code":404,"description":"Not Found"}')
        else:
            self._reply(200, content, "application/octet-stream")

    def do_POST(self) -> None:  # noqa: N802
        telegram = self.server.telegram
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        prefix = f"/bot{telegram.token}/"
        if not self.path.startswith(prefix):
            self._reply(401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}')
            return
        pairs = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        answer = telegram.handle(self.path[len(prefix):], decode_params(pairs))
        if answer == "timeout":  # nothing until the bot gives up waiting (or the fake stops)
            telegram.wait_until_stopped(TIMEOUT_SECONDS)
        if isinstance(answer, str):  # a dropped connection: no response, or half of one
            if answer == "cut":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"ok\":tr")
            self.close_connection = True
            return
        status, payload = answer
        self._reply(status, json.dumps(payload).encode())

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: paths hold the token
        pass


class FakeBotAPIServer(ThreadingHTTPServer):
    """The fake over HTTP on 127.0.0.1 (a free port); use as a context manager so it always stops."""

    daemon_threads = True

    def __init__(self, telegram: FakeTelegram | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.telegram = telegram or FakeTelegram()
        self._thread = threading.Thread(target=self.serve_forever, name="fake-bot-api", daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-reply (e.g. the bot stopping during a long poll) is normal here."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/bot"

    def __enter__(self) -> FakeBotAPIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.telegram.stop()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


@dataclass
class BotProcess:
    """An unmodified `newsbot serve` process talking to a fake Bot API; its log goes to a file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM (a clean shutdown), then SIGKILL if it hangs; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def start_bot(api: FakeBotAPIServer, folder: Path, *, env: dict[str, str], args: list[str] | None = None,
              ready_timeout: float = 60.0, verbose: bool = True) -> BotProcess:
    """Start `newsbot serve` against `api` with `env` on top of a clean environment; wait until it
    polls (or, in webhook mode, has set its webhook). Verbose (debug) logs by default, so that
    tests see everything the bot could leak."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "NEWSBOT_"))}
    clean.update({"TELEGRAM_BOT_TOKEN": api.telegram.token, "TELEGRAM_API_BASE_URL": api.base_url,
                  "PYTHONUNBUFFERED": "1", **env})
    newsbot = Path(sys.executable).with_name("newsbot")
    log_path = folder / f"newsbot-{len(list(folder.glob('newsbot-*.log')))}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(newsbot), "serve", *(["-v"] if verbose else []), "--env-file",
                                    str(folder / "absent.env"), *(args or [])], cwd=folder, env=clean, stdout=log, stderr=subprocess.STDOUT)
    bot = BotProcess(process, log_path)
    ready = "setWebhook" if args and "--webhook-url" in args else "getUpdates"
    try:
        api.telegram.wait_for(lambda: process.poll() is not None or api.telegram.sent(method=ready),
                              timeout=ready_timeout)
    except AssertionError:
        bot.stop()
        raise
    if process.poll() is not None:
        raise AssertionError(f"newsbot serve exited with {process.returncode}:\n{bot.log()[-3000:]}")
    return bot
