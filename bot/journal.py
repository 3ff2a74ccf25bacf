"""Updates taken from Telegram, kept on disk until handled, so a killed bot neither loses nor repeats one.

Telegram forgets an update once the bot confirms it (the offset of the next getUpdates, or a 200
answer to a webhook post), and python-telegram-bot confirms a batch as soon as it has *fetched* it,
before it is answered. So a bot killed with questions in hand would lose them, and one killed after
answering but before its next poll would answer them again after a restart. The journal closes both
gaps: an update is appended before it is confirmed and marked done once answered; at start-up the bot
handles again what was taken but never done, and skips what Telegram delivers again but was done.

One JSON object a line, each appended with a single write and no fsync: the journal must survive the
process being killed, not the machine losing power. It is rewritten small at every start and whenever
it has grown by REWRITE_EVERY lines, so a long-running bot does not fill the disk with it. A line that
is not a well-formed entry (torn by a kill, or damaged otherwise) is skipped and reported, never fatal.
Update ids are per bot, so each bot (token) keeps its own journal. The journal knows only what its own
process took: when several replicas serve one bot (NEWSBOT_REDIS_URL) the journal's job moves to Redis
(bot.shared_journal), where another replica can take over what a dead one took; this file journal then only
keeps what arrives while Redis cannot be reached. Both are a `Journal`, the one interface the bot uses.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

from telegram import Bot, Update
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

REMEMBERED_DONE = 10_000  # done update ids kept, to recognise a late redelivery
REWRITE_EVERY = 50_000  # appended lines
MAX_DEPTH = 64  # nesting of a journalled update; Telegram's are about 6 deep
REPORTED_LINES = 10  # damaged line numbers named in the start-up warning


def journal_path(index_dir: Path, token: str) -> Path:
    """The bot's journal in the index folder, named by the bot's id (the token's first part): update ids
    are numbered per bot, so a bot with another token over the same folder must not read them as its own."""
    return Path(index_dir) / f"bot-updates-{token.partition(':')[0]}.jsonl"


class Journal(Protocol):
    """Which updates this process handles, kept so that none is lost and none is answered twice."""

    async def received(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Record updates just taken from Telegram, before they are confirmed to it; returns those that are
        new (the others are in hand or done already, here or at another replica, and must not be handled)."""

    async def claim(self, update_id: int) -> bool:
        """Whether this process should handle the update now: nobody has handled it or has it in hand."""

    async def done(self, update_id: int) -> None:
        """Record that an update has been handled (answered, refused or reported as failed)."""

    async def orphans(self, bot: Bot) -> list[Update]:
        """Updates taken but never handled whose taker is gone (an earlier run of this process, a replica that
        died), now this process's to handle, oldest first."""


class UpdateJournal:
    """The updates in hand, in a file: appended when taken from Telegram, marked done when handled. The
    `Journal` of one bot process."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # a replica reading its index from Milvus may never have built into its index folder
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._pending: dict[int, dict[str, Any]] = {}
        self._done: OrderedDict[int, None] = OrderedDict()
        self._load()
        self._fd = self._rewrite()
        self._appended = 0
        self._earlier: list[int] | None = sorted(self._pending)  # taken by an earlier run, until handed over

    async def received(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        new = [u for u in updates if is_update(u)
               and u["update_id"] not in self._pending and u["update_id"] not in self._done]
        if new:
            self._append([{"update": update} for update in new])
            self._pending.update((update["update_id"], update) for update in new)
        return new

    async def claim(self, update_id: int) -> bool:
        return update_id not in self._done

    async def done(self, update_id: int) -> None:
        if update_id not in self._done:
            self._append([{"done": update_id}])
            self._pending.pop(update_id, None)
            self._remember(update_id)

    async def orphans(self, bot: Bot) -> list[Update]:
        """At the first call, the updates an earlier run took and never handled (later calls: none, since
        what this process takes it handles itself)."""
        earlier, self._earlier = self._earlier or [], None
        updates, unreadable = readable_updates([self._pending[key] for key in earlier if key in self._pending], bot)
        for update_id in unreadable:
            await self.done(update_id)
        return updates

    def is_done(self, update_id: int) -> bool:
        return update_id in self._done

    def is_pending(self, update_id: int) -> bool:
        return update_id in self._pending

    def unfinished(self) -> list[dict[str, Any]]:
        """Updates taken and never handled, oldest first."""
        return [self._pending[key] for key in sorted(self._pending)]

    def close(self) -> None:
        os.close(self._fd)

    def _append(self, entries: list[dict[str, Any]]) -> None:
        os.write(self._fd, b"".join(json.dumps(entry, separators=(",", ":")).encode() + b"\n" for entry in entries))
        self._appended += len(entries)
        if self._appended >= REWRITE_EVERY:
            os.close(self._fd)
            self._fd, self._appended = self._rewrite(), 0

    def _remember(self, update_id: int) -> None:
        self._done[update_id] = None
        while len(self._done) > REMEMBERED_DONE:
            self._done.popitem(last=False)

    def _load(self) -> None:
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return
        damaged = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):  # a line torn by a kill, or damaged otherwise
                entry = None
            if isinstance(entry, dict) and is_update(entry.get("update")):
                if entry["update"]["update_id"] not in self._done:  # as received() does
                    self._pending[entry["update"]["update_id"]] = entry["update"]
            elif isinstance(entry, dict) and _is_update_id(entry.get("done")):
                self._pending.pop(entry["done"], None)
                self._remember(entry["done"])
            else:
                damaged.append(number)
        if damaged:
            named = ", ".join(map(str, damaged[:REPORTED_LINES])) + (", …" if len(damaged) > REPORTED_LINES else "")
            log.warning("%s: skipped %d damaged line(s) that are not journal entries (line %s)",
                        self.path.name, len(damaged), named)

    def _rewrite(self) -> int:
        """Replace the file by one holding only what is still needed; returns it opened for appending."""
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        entries = [{"update": update} for update in self.unfinished()] + [{"done": key} for key in self._done]
        temporary.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries), encoding="utf-8")
        os.replace(temporary, self.path)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND)


def readable_updates(entries: list[dict[str, Any]], bot: Bot) -> tuple[list[Update], list[int]]:
    """Journalled updates as Updates for `bot`, and the ids of those python-telegram-bot cannot read: each is
    reported, to be marked done and left out (it must not stop every start)."""
    updates, unreadable = [], []
    for data in entries:
        try:
            updates.append(Update.de_json(dict(data), bot))
        except Exception:  # whatever a damaged entry makes PTB raise
            log.warning("dropping journalled update %s: it cannot be read", data["update_id"])
            unreadable.append(data["update_id"])
    return updates, unreadable


class JournaledPolls(BaseRequest):
    """The getUpdates transport: each batch of updates goes into the journal before python-telegram-bot
    sees it, so before its next poll confirms the batch to Telegram."""

    def __init__(self, inner: BaseRequest, journal: Journal) -> None:
        self._inner = inner
        self._journal = journal

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        status, body = await self._inner.do_request(url, method, request_data, read_timeout, write_timeout,
                                                    connect_timeout, pool_timeout)
        if status == 200 and url.endswith("/getUpdates"):
            try:
                updates = json.loads(body)["result"]
            except (ValueError, KeyError, TypeError, RecursionError):
                return status, body  # python-telegram-bot reports what it cannot parse
            if isinstance(updates, list):
                await self._journal.received(updates)
        return status, body


def _is_update_id(value: object) -> bool:
    return type(value) is int and value >= 0  # not a bool, a float or a string of digits


def is_update(value: object) -> bool:
    """Whether a JSON value can be journalled as an update: an object with an update id, not absurdly deep."""
    return isinstance(value, dict) and _is_update_id(value.get("update_id")) and _depth(value) <= MAX_DEPTH


def _depth(value: object) -> int:
    """How deeply objects and lists nest in a JSON value, found without recursion (a hostile line must not
    exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
