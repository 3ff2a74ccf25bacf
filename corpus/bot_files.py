"""The files the bot itself writes into the corpus folder: where they go, how they are written, and which
they are. Only these may be replaced (an updated page) or deleted (an expired article); an admin's own
files are never rewritten."""

from __future__ import annotations

import os
from pathlib import Path

WEB_FOLDER = "web"  # pages added by URL (corpus/web/ingest.py)
ADDED_FOLDER = "added"  # texts pasted or uploaded with /add (bot/service.py)
BOT_FOLDERS = (WEB_FOLDER, ADDED_FOLDER)


def bot_written(article_id: str) -> bool:
    """Whether the article is a file the bot wrote (a line of a bulk .jsonl file never is)."""
    return article_id.split("/", 1)[0] in BOT_FOLDERS and "#" not in article_id


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target under a dot-name (which the corpus reader skips), then rename over it: a
    reader or a build sees the old text or the new, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_empty_folders(folder: Path, corpus_dir: Path) -> None:
    """Remove `folder` and its parents up to (not including) the corpus folder while they are empty."""
    while folder != corpus_dir and corpus_dir in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): leave it
            return
        folder = folder.parent
