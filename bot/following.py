"""Every replica answers from the store's current version: a repeating job (PTB's JobQueue) asks the store
which version is current (`index.stores.current_revision`, one cheap call) and swaps in one that another
process published (`Service.follow_store`). No message between replicas is needed, so a replica that missed
one (restarting, cut off) catches up at its next check.

A store that cannot be read (Milvus down) is logged once per outage and the version in hand serves on.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram.ext import Application, ContextTypes

from newsbot.bot.service import Service
from newsbot.index.errors import IndexProblem

log = logging.getLogger(__name__)


class StoreFollower:
    """One service's checks of the store, remembering whether the last one failed (to log an outage once)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.failing = False

    async def check(self) -> bool:
        """One check; True if a newer version was swapped in. Never raises: a failure is logged when an outage
        starts and when it ends."""
        try:
            swapped = await self.service.follow_store()
        except Exception as error:  # any client error: the job must go on, and the old version with it
            if not self.failing:
                log.warning("cannot read the current index version from %s (%s); answering from %s until it can "
                            "be read again", self.service.read_from, _reason(error),
                            self.service.retriever.version_dir.name)
            self.failing = True
            return False
        if self.failing:
            log.info("the index store %s can be read again", self.service.read_from)
        self.failing = False
        return swapped


def schedule_store_checks(application: Application, service: Service, interval: timedelta) -> StoreFollower:
    """Check the store every `interval` while the bot runs (APScheduler skips a tick while a check still runs)."""
    follower = StoreFollower(service)

    async def check(_: ContextTypes.DEFAULT_TYPE) -> None:
        await follower.check()

    assert application.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    application.job_queue.run_repeating(check, interval=interval, first=interval, name="index store check")
    return follower


def _reason(error: Exception) -> str:
    """An IndexProblem's own message (written for people); of any other error its kind only."""
    return str(error) if isinstance(error, IndexProblem) else type(error).__name__
