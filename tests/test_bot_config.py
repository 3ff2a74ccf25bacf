"""Settings: read from the environment over .env, validated with messages that name the key, token never shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from newsbot.bot.config import DEFAULT_API_BASE_URL, ConfigError, load_settings, parse_settings
from tests.fake_bot_api import TOKEN

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def test_env_file_is_read_under_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_ADMIN_IDS=1, 2\nNEWSBOT_RATE_LIMIT_QUESTIONS=3\n")
    settings = load_settings(env_file, environ={"NEWSBOT_RATE_LIMIT_QUESTIONS": "9"})
    assert settings.token == TOKEN and settings.admin_ids == {1, 2}
    assert settings.rate_limit_questions == 9  # the environment wins
    assert settings.api_base_url == DEFAULT_API_BASE_URL
    assert settings.api_file_url == "https://api.telegram.org/file/bot"


def test_a_local_bot_api_server_gets_its_file_url_derived() -> None:
    settings = parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot"})
    assert settings.api_file_url == "http://127.0.0.1:8081/file/bot"


@pytest.mark.parametrize(("values", "named"), [
    ({"TELEGRAM_BOT_TOKEN": " "}, "TELEGRAM_BOT_TOKEN is not set"),
    ({"TELEGRAM_BOT_TOKEN": "not a token"}, "TELEGRAM_BOT_TOKEN does not look like"),
    ({"TELEGRAM_ADMIN_IDS": "12, alice"}, "TELEGRAM_ADMIN_IDS must be comma-separated numeric user ids"),
    ({"NEWSBOT_RATE_LIMIT_QUESTIONS": "lots"}, "NEWSBOT_RATE_LIMIT_QUESTIONS must be a whole number"),
    ({"NEWSBOT_RATE_LIMIT_SECONDS": "0"}, "NEWSBOT_RATE_LIMIT_SECONDS must be greater than 0"),
    ({"TELEGRAM_API_BASE_URL": "api.telegram.org"}, "TELEGRAM_API_BASE_URL must start with http"),
    ({"TELEGRAM_WEBHOOK_SECRET": "has spaces"}, "TELEGRAM_WEBHOOK_SECRET may hold only"),
    ({"NEWSBOT_MIN_CONFIDENCE": "high"}, "NEWSBOT_MIN_CONFIDENCE must be a number, not 'high'"),
    ({"NEWSBOT_MIN_CONFIDENCE": "-1"}, "NEWSBOT_MIN_CONFIDENCE must be greater than 0"),
    ({"NEWSBOT_MIN_CONFIDENCE": "nan"}, "NEWSBOT_MIN_CONFIDENCE must be a finite number"),
    ({"NEWSBOT_MIN_CONFIDENCE": "1.2"}, "NEWSBOT_MIN_CONFIDENCE is a probability, less than 1"),  # the former scale
    ({"NEWSBOT_REDIS_URL": "localhost:6379"}, "NEWSBOT_REDIS_URL must start with redis://, rediss:// or unix://"),
])
def test_bad_settings_name_the_key(values: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named) as error:
        parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, **values})
    assert TOKEN not in str(error.value)


def test_the_answer_threshold_is_the_size_default_unless_set() -> None:
    assert parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN}).min_confidence is None
    assert parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_MIN_CONFIDENCE": " "}).min_confidence is None
    assert parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_MIN_CONFIDENCE": "0.6"}).min_confidence == 0.6


def test_the_token_is_not_in_the_settings_repr() -> None:
    settings = parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "s3cret-value"})
    assert TOKEN not in repr(settings) and TOKEN.partition(":")[2] not in repr(settings)
    assert "s3cret-value" not in repr(settings)


def test_the_redis_url_is_optional_and_its_password_not_in_the_settings_repr() -> None:
    assert parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN}).redis_url is None  # one process keeps its own state
    settings = parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_REDIS_URL": " redis://:pw-123@r:6379/0 "})
    assert settings.redis_url == "redis://:pw-123@r:6379/0" and "pw-123" not in repr(settings)


@pytest.mark.parametrize(("raw", "seconds"), [("", 5), (" 0.5 ", 0.5), ("30", 30), ("3600", 3600)])
def test_the_store_check_interval_is_seconds_five_by_default(raw: str, seconds: float) -> None:
    settings = parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_STORE_CHECK_SECONDS": raw})
    assert settings.store_check == timedelta(seconds=seconds)


@pytest.mark.parametrize(("raw", "says"), [("0", "greater than 0"), ("-1", "greater than 0"), ("5s", "a number"),
                                           ("nan", "finite"), ("3601", "at most 3600")])
def test_a_bad_store_check_interval_is_refused_naming_the_key(raw: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"NEWSBOT_STORE_CHECK_SECONDS.*{says}"):
        parse_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "NEWSBOT_STORE_CHECK_SECONDS": raw})


def test_env_example_documents_every_key_the_bot_reads() -> None:
    lines = EXAMPLE.read_text().splitlines()
    keys = {line.split("=")[0] for line in lines if line and not line.startswith("#")}
    source = (Path(__file__).resolve().parents[1] / "bot" / "config.py").read_text()
    read = set(re.findall(r'"((?:TELEGRAM|NEWSBOT)_[A-Z_]+)"', source)) | {"NEWSBOT_MODEL"}
    assert read <= keys
    for number, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"{line} has no comment above it"


def test_serve_without_a_token_exits_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "NEWSBOT_"))}
    done = subprocess.run([sys.executable, "-m", "newsbot.bot", "serve", "--env-file", str(tmp_path / "none.env")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in done.stderr and "Traceback" not in done.stderr
