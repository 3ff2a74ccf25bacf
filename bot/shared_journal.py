"""The update journal in Redis, when several replicas serve one bot (NEWSBOT_REDIS_URL): who handles update N.

A webhook's 200 tells Telegram to forget the update, so an update must be kept somewhere every replica can
read before that answer: a replica killed after answering 200 would otherwise take its questions with it.
This is the robust queue consumer's pattern:

- received: the update's JSON goes into a `pending` hash, and its key `update:N` names the replica holding
  it (SET NX, in one Lua script with the hash): of two deliveries of one update, to two replicas or one,
  the first is handled and the second is acknowledged and skipped;
- done: once handled, `update:N` says "done" for DONE_SECONDS (a late redelivery is skipped) and the JSON
  is deleted;
- lease: a holder's lease on its updates is its presence key (bot.replicas), renewed while it serves. Every
  replica looks, at start and every takeover interval, for pending updates whose holder's key has expired
  (killed, or stopped with updates in hand) and claims each with a compare-and-set script, so exactly one
  replica takes each over and handles it. An update taken over MAX_TAKEOVERS times, each holder dying with
  it (an update that kills the process?), is dropped with an error in the log instead of killing the next.

Updates not received here (tests deliver them directly) are claimed at handling time with the same key.

While Redis cannot be reached updates go into this replica's file journal instead (bot.journal), with one
warning per outage: they are handled here, and one left unanswered by a kill is handled when a replica
restarts over the same index folder. Nothing is dropped; during the outage another replica cannot recognise
a redelivery, so a repeat may be answered twice.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis
from telegram import Bot, Update

from newsbot.bot.journal import Journal, UpdateJournal, is_update, readable_updates
from newsbot.bot.replicas import Replica
from newsbot.bot.shared import SharedState

log = logging.getLogger(__name__)

# Telegram retries an unacknowledged webhook for minutes, not hours; an hour covers that, and costs Redis
# about 160 bytes per update (benchmarks/research/shared_journal_cost.py: some 60 MB at 100 updates/s, 600 MB
# at 1,000). A holder's key lasts as long: an update in hand for an hour is taken over as if its holder were gone.
DONE_SECONDS = 3600.0
MAX_TAKEOVERS = 3
DONE = "done"
_FALLBACK = "updates are journalled in this replica's own file and handled here"

# KEYS: pending hash, then update:N for each update; ARGV: holder, the keys' expiry (ms), then each update's id
# and JSON.
# Returns 1 for each update stored as new, 0 for one in hand or done already.
RECEIVE_SCRIPT = """
local stored = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then
    redis.call('HSET', KEYS[1], ARGV[2 * i - 1], ARGV[2 * i])
    stored[i - 1] = 1
  else
    stored[i - 1] = 0
  end
end
return stored
"""
# KEYS: update:N, pending hash, takeovers hash; ARGV: id, done ms.
DONE_SCRIPT = """
redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""
# KEYS: update:N, pending hash, takeovers hash; ARGV: id, the holder seen gone ('' for none), new holder,
# the key's expiry (ms), MAX_TAKEOVERS. Returns nil if another replica took it or it was done meanwhile, {1, json} when
# taken over, {0, json} when dropped after too many takeovers.
TAKE_OVER_SCRIPT = """
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[2] then return nil end
local update = redis.call('HGET', KEYS[2], ARGV[1])
if not update then return nil end
if redis.call('HINCRBY', KEYS[3], ARGV[1], 1) > tonumber(ARGV[5]) then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[4])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return {0, update}
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return {1, update}
"""


class SharedJournal:
    """The `Journal` of a replica among several: pending updates in Redis, held under this replica's lease."""

    def __init__(self, shared: SharedState, replica: Replica, fallback: UpdateJournal, *,
                 done_seconds: float = DONE_SECONDS) -> None:
        self._shared = shared
        self._replica = replica
        self._fallback = fallback
        self._done_ms = int(done_seconds * 1000)
        self._pending = shared.key("pending")
        self._takeovers = shared.key("takeovers")
        self._held: set[int] = set()  # received or taken over here, not yet screened: no round trip to claim
        self._receive = shared.client.register_script(RECEIVE_SCRIPT)
        self._done = shared.client.register_script(DONE_SCRIPT)
        self._take_over = shared.client.register_script(TAKE_OVER_SCRIPT)

    async def received(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        valid = [update for update in updates if is_update(update)]
        if not valid:
            return []
        keys = [self._pending, *(self._update_key(update["update_id"]) for update in valid)]
        args: list[Any] = [self._replica.id, self._done_ms]
        for update in valid:
            args += [update["update_id"], json.dumps(update, separators=(",", ":"))]
        stored = await self._shared.call(lambda client: self._receive(keys=keys, args=args, client=client), _FALLBACK)
        if stored is None:  # Redis is down: the file journal keeps them
            new = await self._fallback.received(valid)
        else:
            new = [update for update, fresh in zip(valid, stored) if fresh]
        self._held.update(update["update_id"] for update in new)
        return new

    async def claim(self, update_id: int) -> bool:
        if update_id in self._held:
            self._held.discard(update_id)
            return True
        if self._fallback.is_done(update_id):
            return False
        key = self._update_key(update_id)

        async def take(client: Redis) -> bool:
            return await client.set(key, self._replica.id, nx=True, px=self._done_ms) is not None  # None: known

        taken = await self._shared.call(take, _FALLBACK)
        return taken is None or taken  # Redis down: handle it (a repeat may be answered twice, none is lost)

    async def done(self, update_id: int) -> None:
        if self._fallback.is_pending(update_id):
            await self._fallback.done(update_id)
        keys = [self._update_key(update_id), self._pending, self._takeovers]
        await self._shared.call(lambda client: self._done(keys=keys, args=[update_id, self._done_ms], client=client),
                                _FALLBACK)

    async def orphans(self, bot: Bot) -> list[Update]:
        """What this replica's earlier runs left in its file journal (at the first call), and the pending updates
        of replicas that are gone, each taken over here by exactly one replica."""
        earlier = await self._fallback.orphans(bot)
        taken = await self._shared.call(self._take_over_orphans, _FALLBACK) or []
        entries, unreadable = [], []
        for update_id, raw in taken:
            try:
                entry = json.loads(raw)
            except (ValueError, RecursionError):
                entry = None
            if is_update(entry):
                entries.append(entry)
            else:
                log.warning("dropping journalled update %s: it cannot be read", update_id)
                unreadable.append(update_id)
        updates, not_updates = readable_updates(entries, bot)
        for update_id in unreadable + not_updates:
            await self.done(update_id)
        self._held.update(update.update_id for update in updates)
        return earlier + updates

    async def _take_over_orphans(self, client: Redis) -> list[tuple[int, bytes]]:
        """The pending updates of replicas gone, taken over here: (id, the JSON stored)."""
        ids = sorted(int(update_id) for update_id in await client.hkeys(self._pending))
        if not ids:
            return []
        holders = [value.decode() if value is not None else "" for value in
                   await client.mget([self._update_key(update_id) for update_id in ids])]
        others = sorted({holder for holder in holders if holder not in ("", DONE, self._replica.id)})
        keys = [self._replica.key_of(other) for other in others]
        alive = dict(zip(others, await client.mget(keys))) if others else {}
        taken = []
        for update_id, holder in zip(ids, holders):
            if holder == self._replica.id or holder == DONE or alive.get(holder) is not None:
                continue
            keys = [self._update_key(update_id), self._pending, self._takeovers]
            args = [update_id, holder, self._replica.id, self._done_ms, MAX_TAKEOVERS]
            result = await self._take_over(keys=keys, args=args, client=client)
            if result is None:
                continue  # another replica took it over, or its holder finished it meanwhile
            if int(result[0]):
                log.info("taking over update %s from a replica that is gone (%s)", update_id, holder or "expired")
                taken.append((update_id, result[1]))
            else:
                log.error("dropping update %s: taken over %d times from replicas that died with it", update_id,
                          MAX_TAKEOVERS)
        return taken

    def _update_key(self, update_id: int) -> str:
        return self._shared.key("update", update_id)


def pick_journal(file_journal: UpdateJournal, shared: SharedState | None, replica: Replica | None) -> Journal:
    """The journal `serve` uses: in Redis when replicas share one, else the file journal of the one process."""
    if shared is None or replica is None:
        return file_journal
    return SharedJournal(shared, replica, file_journal)
