"""Which store holds the index: a folder of files (the default), Milvus Lite, or a Milvus server.

`NEWSBOT_STORE` names it and `parse_store` reads it, a pure function so that every entry point (the CLI,
the bot, the benchmarks) reads one setting one way and a mistake is refused with a message that says what
is accepted. A build always writes its version to the index folder first; `publish_to_store` then copies
it into Milvus when Milvus is the store, and `open_store_version` opens the current version of either.
pymilvus is imported only when Milvus is named: the files store never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from newsbot.index.errors import IndexProblem

if TYPE_CHECKING:
    from newsbot.index.version import IndexVersion

STORE = "NEWSBOT_STORE"
MILVUS_TOKEN = "NEWSBOT_MILVUS_TOKEN"
MILVUS_PORT = 19530  # Milvus's own default port
_ACCEPTED = (f"{STORE} must be empty or a folder (the index files), milvus:///path/newsbot.db (Milvus Lite, "
             "in this process), or milvus://host:19530, http://host:19530 or https://host (a Milvus server)")


class StoreAddressError(IndexProblem, ValueError):
    """`NEWSBOT_STORE` or `NEWSBOT_MILVUS_TOKEN` is malformed; the message says what is accepted."""


@dataclass(frozen=True)
class FilesStore:
    """FAISS and SQLite files in versioned folders (`index.store`); `folder` None: `default_index_dir()`."""

    folder: Path | None = None


@dataclass(frozen=True)
class MilvusLiteStore:
    """The Milvus engine embedded in this process (the milvus-lite package), its data in one local file."""

    path: Path


@dataclass(frozen=True)
class MilvusServerStore:
    """A Milvus standalone or cluster server, reached at `uri` (http or https, with a port)."""

    uri: str
    token: str | None = field(default=None, repr=False)  # a secret: never in a repr or a log


Store = FilesStore | MilvusLiteStore | MilvusServerStore


def parse_store(value: str | None, token: str | None = None) -> Store:
    """The store `NEWSBOT_STORE` names (`value`), with `NEWSBOT_MILVUS_TOKEN` (`token`) for a server.

    Empty or unset: the default folder. A value without a scheme is a folder. `milvus:///abs/path.db` or
    `milvus://./rel/path.db`: Milvus Lite in that file. `milvus://host[:port]`, `http://host[:port]` or
    `https://host[:port]`: a server, `milvus://` meaning plain http on port 19530 unless another is given.
    """
    value = (value or "").strip()
    token = (token or "").strip() or None
    if not value:
        return _files(None, token)
    if "://" not in value:
        return _files(Path(value), token)
    scheme = value.split("://", 1)[0].lower()
    if scheme not in ("milvus", "http", "https"):
        raise StoreAddressError(f"{STORE} has the unknown scheme {scheme}://; {_ACCEPTED}")
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise StoreAddressError(f"{STORE} cannot carry ?query or #fragment parts; {_ACCEPTED}")
    if scheme == "milvus" and (not parts.netloc or parts.netloc == "."):
        return _lite(value.split("://", 1)[1], token)
    return _server(scheme, parts.hostname, _port(parts), parts.path, token)


def store_from_environment(environ: Mapping[str, str] | None = None) -> Store:
    """`parse_store` of this process's `NEWSBOT_STORE` and `NEWSBOT_MILVUS_TOKEN`."""
    environ = os.environ if environ is None else environ
    return parse_store(environ.get(STORE), environ.get(MILVUS_TOKEN))


def store_folder(value: str | None) -> Path | None:
    """The index folder `NEWSBOT_STORE` names, if it names one (for `index.default_index_dir`); never raises."""
    value = (value or "").strip()
    return Path(value) if value and "://" not in value else None


def open_store_version(store: Store, index_dir: Path) -> IndexVersion:
    """The current version of the store: of the folder (`store.folder`, else `index_dir`) or of Milvus."""
    from newsbot.index.version import open_version

    if isinstance(store, FilesStore):
        return open_version(store.folder or index_dir)
    from newsbot.index.milvus_store import connect, open_milvus_version

    client = connect(store)
    try:
        return open_milvus_version(client)
    except BaseException:
        client.close()
        raise


def current_revision(store: Store, index_dir: Path) -> str | None:
    """The name of the store's current version, equal to `open_store_version(...).folder.name` while no
    build intervenes; None before the first build. Cheap (no checksums, no loading): a serving replica
    compares it with the version it holds to pick up what another process published."""
    if isinstance(store, FilesStore):
        from newsbot.index.store import current_version_name

        return current_version_name(store.folder or index_dir)
    from newsbot.index import milvus_store

    client = milvus_store.connect(store)
    try:
        return milvus_store.current_revision(client)
    finally:
        client.close()


def publish_to_store(store: Store, index_dir: Path) -> None:
    """Make the folder's current version the store's: nothing to do for files; for Milvus (unless it serves the
    version already) inserted into the live collections when it only adds articles, else copied into new ones,
    and made current there (`index.milvus_publish.publish_version`)."""
    if isinstance(store, FilesStore):
        return
    from newsbot.index.milvus_publish import publish_version

    publish_version(store, index_dir)


def _files(folder: Path | None, token: str | None) -> FilesStore:
    if token is not None:
        raise StoreAddressError(f"{MILVUS_TOKEN} is set but {STORE} names no Milvus server; {_ACCEPTED}")
    return FilesStore(folder)


def _lite(path: str, token: str | None) -> MilvusLiteStore:
    if token is not None:
        raise StoreAddressError(f"{MILVUS_TOKEN} is for a Milvus server; Milvus Lite ({STORE}={path!r} "
                                "after milvus://) takes none")
    if not path.endswith(".db") or path.endswith("/.db"):
        raise StoreAddressError(f"{STORE} names Milvus Lite, whose data file must end in .db "
                                f"(milvus:///path/newsbot.db); got {path!r}")
    return MilvusLiteStore(Path(path))


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        raise StoreAddressError(f"{STORE} has a port that is not a number from 0 to 65535; {_ACCEPTED}") from None


def _server(scheme: str, host: str | None, port: int | None, path: str, token: str | None) -> MilvusServerStore:
    if not host:
        raise StoreAddressError(f"{STORE} names a Milvus server without a host; {_ACCEPTED}")
    if path not in ("", "/"):
        raise StoreAddressError(f"{STORE} names a Milvus server with the path {path!r}; give only the host and "
                                f"port (a Milvus Lite file is milvus:///path/newsbot.db, three slashes)")
    if scheme == "milvus":
        scheme, port = "http", port or MILVUS_PORT
    address = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    return MilvusServerStore(f"{scheme}://{address}" + (f":{port}" if port else ""), token)
