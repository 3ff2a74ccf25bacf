"""The bot's settings, read once from the environment and a `.env` file, validated at start-up.

The environment wins over `.env`. Every error names the key at fault and never echoes the token.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from dotenv import dotenv_values

from newsbot.index.stores import MILVUS_TOKEN, STORE, FilesStore, Store, StoreAddressError, parse_store, store_folder

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
# The rate limit's defaults (bot.ratelimit: a burst of 20, then one every 3 s). A person's busiest minute
# is a question, "More results" up to nine times (30 results), a rephrasing or two and a few /sources
# pages: about 15 requests; 20 leaves room. After it one every 3 s is faster than anyone reads an answer
# or types a question, and a script held to it costs the bot 20 answers a minute (~0.1 s of CPU).
RATE_LIMIT_BURST = 20
RATE_LIMIT_SECONDS = 60
_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MIN_CONFIDENCE = "NEWSBOT_MIN_CONFIDENCE"
FEED_INTERVAL = "NEWSBOT_FEED_INTERVAL"
# How often `newsbot serve` polls its feeds: news sites add a few stories an hour, and a quarter hour keeps the
# bot that current for one small request per feed (a 304 when nothing changed).
DEFAULT_FEED_INTERVAL = timedelta(minutes=15)
MIN_FEED_INTERVAL = timedelta(seconds=1)  # the tests' schedule; a real one is minutes
MAX_FEED_INTERVAL = timedelta(days=1)  # the longest backoff too: a feed is tried at least daily
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)?$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
MAX_ARTICLE_AGE_DAYS = "NEWSBOT_MAX_ARTICLE_AGE_DAYS"
REDIS_URL = "NEWSBOT_REDIS_URL"
STORE_CHECK_SECONDS = "NEWSBOT_STORE_CHECK_SECONDS"
# How often a serving replica asks the store which index version is current (bot.following): one cheap call
# (reading CURRENT; two small Milvus requests), so a version another replica published answers everywhere
# within seconds of the build that made it.
DEFAULT_STORE_CHECK = timedelta(seconds=5)
MAX_STORE_CHECK = timedelta(hours=1)
REPLICA_LEASE = "NEWSBOT_REPLICA_LEASE_SECONDS"
# With Redis, how long a replica stays known after its last sign of life (it renews every third of it, so one
# renewal missed under load does not drop it): half a minute is how long a killed replica's questions wait for
# another replica to answer them, about what a load balancer's health checks take to notice it.
DEFAULT_REPLICA_LEASE_SECONDS = 30.0


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the key and says how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Everything `newsbot serve` needs. The token is left out of repr so it cannot leak into logs."""

    token: str = field(repr=False)
    admin_ids: frozenset[int]
    api_base_url: str
    api_file_url: str
    corpus_dir: Path | None
    index_dir: Path | None
    model: str | None
    rate_limit_questions: int
    rate_limit_seconds: float
    webhook_secret: str | None = field(default=None, repr=False)
    min_confidence: float | None = None  # None: the default for the index's size (retrieval.confidence)
    feed_interval: timedelta = DEFAULT_FEED_INTERVAL
    max_article_age_days: int | None = None  # None: keep every article (corpus/retention.py)
    redis_url: str | None = field(default=None, repr=False)  # None: one replica, its state in the process
    replica_lease_seconds: float = DEFAULT_REPLICA_LEASE_SECONDS
    store: Store = FilesStore()  # NEWSBOT_STORE (index/stores.py)
    store_check: timedelta = DEFAULT_STORE_CHECK  # NEWSBOT_STORE_CHECK_SECONDS (bot/following.py)


def load_settings(env_file: Path | str | None = ".env", environ: Mapping[str, str] | None = None) -> Settings:
    """Read `.env` (if present) under the environment and validate the merged values."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return parse_settings(values)


def parse_settings(values: Mapping[str, str]) -> Settings:
    """Validate raw key/value pairs into Settings."""
    token = values.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather and put it in the "
                          "environment or in .env (see .env.example)")
    if not _TOKEN.match(token):
        raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token (expected digits, a colon, "
                          "then letters); copy it again from @BotFather")
    base_url = values.get("TELEGRAM_API_BASE_URL", "").strip() or DEFAULT_API_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("TELEGRAM_API_BASE_URL must start with http:// or https://, "
                          f"e.g. {DEFAULT_API_BASE_URL}")
    secret = values.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
    if secret is not None and not _SECRET.match(secret):
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET may hold only letters, digits, _ and -, at most 256 of them")
    return Settings(
        token=token,
        admin_ids=_admin_ids(values.get("TELEGRAM_ADMIN_IDS", "")),
        api_base_url=base_url,
        api_file_url=values.get("TELEGRAM_API_FILE_URL", "").strip() or file_url_for(base_url),
        corpus_dir=_path(values.get("NEWSBOT_CORPUS_DIR")),
        index_dir=_path(values.get("NEWSBOT_INDEX_DIR")) or store_folder(values.get(STORE)),
        model=values.get("NEWSBOT_MODEL", "").strip() or None,
        rate_limit_questions=int(_number(values, "NEWSBOT_RATE_LIMIT_QUESTIONS", str(RATE_LIMIT_BURST), integer=True)),
        rate_limit_seconds=_number(values, "NEWSBOT_RATE_LIMIT_SECONDS", str(RATE_LIMIT_SECONDS)),
        webhook_secret=secret,
        min_confidence=min_confidence(values),
        feed_interval=feed_interval(values),
        max_article_age_days=max_article_age_days(values),
        redis_url=redis_url(values),
        replica_lease_seconds=_number(values, REPLICA_LEASE, str(DEFAULT_REPLICA_LEASE_SECONDS)),
        store=_store(values),
        store_check=store_check(values),
    )


def _store(values: Mapping[str, str]) -> Store:
    try:
        return parse_store(values.get(STORE), values.get(MILVUS_TOKEN))
    except StoreAddressError as error:
        raise ConfigError(str(error)) from None


def min_confidence(values: Mapping[str, str], key: str = MIN_CONFIDENCE) -> float | None:
    """`NEWSBOT_MIN_CONFIDENCE`, the confidence an answer needs; None (unset) means the default,
    which follows the index's size (`retrieval.confidence.default_min_confidence`)."""
    if not values.get(key, "").strip():
        return None
    value = _number(values, key, "")
    if value >= 1:  # a probability; a value from the former score scale (e.g. 0.95 was fine, 1.2 was not)
        raise ConfigError(f"{key} is a probability, less than 1 (the default starts at 0.30), not {value:g}")
    return value


def feed_interval(values: Mapping[str, str]) -> timedelta:
    """`NEWSBOT_FEED_INTERVAL`: "15m", "900s", "1h", or a number of minutes; 15 minutes when unset."""
    raw = values.get(FEED_INTERVAL, "").strip()
    if not raw:
        return DEFAULT_FEED_INTERVAL
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{FEED_INTERVAL} is a duration such as 15m, 900s or 1h (a bare number is minutes), "
                          f"not {raw[:30]!r}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "m").lower()]
    if not MIN_FEED_INTERVAL.total_seconds() <= seconds <= MAX_FEED_INTERVAL.total_seconds():
        raise ConfigError(f"{FEED_INTERVAL} must be between 1 second and 1 day, not {raw[:30]!r}")
    return timedelta(seconds=seconds)


def max_article_age_days(values: Mapping[str, str]) -> int | None:
    """`NEWSBOT_MAX_ARTICLE_AGE_DAYS`, a whole number of days above 0; None (unset) keeps every article."""
    if not values.get(MAX_ARTICLE_AGE_DAYS, "").strip():
        return None
    return int(_number(values, MAX_ARTICLE_AGE_DAYS, "", integer=True))


def store_check(values: Mapping[str, str]) -> timedelta:
    """`NEWSBOT_STORE_CHECK_SECONDS`, how often a replica checks the store for a version another process published:
    a number of seconds above 0, at most an hour; 5 when unset."""
    if not values.get(STORE_CHECK_SECONDS, "").strip():
        return DEFAULT_STORE_CHECK
    seconds = _number(values, STORE_CHECK_SECONDS, "")
    if seconds > MAX_STORE_CHECK.total_seconds():
        raise ConfigError(f"{STORE_CHECK_SECONDS} must be at most {MAX_STORE_CHECK.total_seconds():.0f} (an hour), "
                          f"not {seconds:g}")
    return timedelta(seconds=seconds)


def redis_url(values: Mapping[str, str]) -> str | None:
    """`NEWSBOT_REDIS_URL`, the Redis that replicas of one bot share (redis://, rediss:// or unix://); None
    (unset) keeps the rate limits and the update journal in the one process. The URL may hold a password,
    so the message never repeats it."""
    raw = values.get(REDIS_URL, "").strip()
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{REDIS_URL} must start with redis://, rediss:// or unix://, "
                          "e.g. redis://localhost:6379/0")
    return raw


def check_folders(corpus_dir: Path, index_dir: Path) -> None:
    """Refuse at start-up the folders the bot could not use, naming the setting that chose them."""
    if not corpus_dir.is_dir():
        raise ConfigError(f"NEWSBOT_CORPUS_DIR (or --corpus-dir) is {corpus_dir}, which is not a folder; "
                          "point it at the folder of articles")
    if not os.access(corpus_dir, os.R_OK | os.X_OK):
        raise ConfigError(f"NEWSBOT_CORPUS_DIR (or --corpus-dir) is {corpus_dir}, which cannot be read")
    existing = next(p for p in (index_dir, *index_dir.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(f"NEWSBOT_INDEX_DIR (or --index-dir) is {index_dir}, but {existing} is not a folder")
    if not os.access(existing, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"NEWSBOT_INDEX_DIR (or --index-dir) is {index_dir}, but {existing} cannot be written "
                          "(the bot keeps rebuilt indexes and its update journal there)")


def file_url_for(base_url: str) -> str:
    """Telegram serves files beside the API: `.../bot` -> `.../file/bot`."""
    root, _, _ = base_url.rstrip("/").rpartition("/bot")
    return f"{root}/file/bot" if root else base_url.rstrip("/") + "/file/bot"


def _admin_ids(raw: str) -> frozenset[int]:
    ids = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if not re.fullmatch(r"-?\d{1,20}", part):
            raise ConfigError(f"TELEGRAM_ADMIN_IDS must be comma-separated numeric user ids; {part[:30]!r} is not one "
                              "(ask @userinfobot for yours)")
        ids.add(int(part))
    return frozenset(ids)


def _number(values: Mapping[str, str], key: str, default: str, *, integer: bool = False) -> float:
    raw = values.get(key, "").strip() or default
    try:
        number = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigError(f"{key} must be a {'whole ' if integer else ''}number, not {raw[:30]!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{key} must be a finite number, not {raw[:30]!r}")
    if number <= 0:
        raise ConfigError(f"{key} must be greater than 0")
    return number


def _path(raw: str | None) -> Path | None:
    return Path(raw).expanduser() if raw and raw.strip() else None
