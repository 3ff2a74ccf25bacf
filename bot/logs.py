"""Logging for `newsbot serve`: readable lines, and the bot token never written anywhere.

httpx logs every request URL, which holds the token, at INFO; it is held at WARNING. As a
second line of defence every formatted record, tracebacks included, has the token replaced.
"""

from __future__ import annotations

import logging

REDACTED = "<bot-token>"


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then replaces each secret with a placeholder."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self._secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure_logging(secrets: list[str], *, verbose: bool = False) -> None:
    """Log to stderr at INFO (DEBUG with --verbose), with every secret redacted."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
