"""The local store: AI calls that no agent log on this machine holds.

`tokentrail log` (a custom agent's calls), `tokentrail import otel` (Claude Code and Codex
OpenTelemetry exports) and `tokentrail import trace` (JSONL traces) write here; a built-in
adapter reads it back like any agent's logs, so nothing else in tokentrail knows about it.

Layout: `<data dir>/sessions/<agent>/<session>.jsonl`, one JSON object per line
(`v`, `kind` = call | tool | commit, `key`, `session`, ...). Every record has a stable
`key`; a record whose key is already in its session file is never written again, and the
reader counts a key once, so importing the same export twice changes nothing.

Writers append whole lines with O_APPEND under an exclusive lock on the session file, so
concurrent `tokentrail log` processes never interleave or lose a line.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from tokentrail.errors import TokentrailError

STORE_VERSION = 1
RECORD_KINDS = frozenset({"call", "tool", "commit"})
_AGENT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_SAFE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def data_dir() -> Path:
    """`$TOKENTRAIL_DATA_DIR`, else `$XDG_DATA_HOME/tokentrail`, else
    `~/.local/share/tokentrail`."""
    explicit = os.environ.get("TOKENTRAIL_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "tokentrail"


def sessions_root() -> Path:
    return data_dir() / "sessions"


def is_agent_name(name: str) -> bool:
    """An agent name is a folder name and a column value: lowercase, short, no slashes."""
    return bool(_AGENT_NAME.fullmatch(name))


def check_agent_name(name: str) -> str:
    if not is_agent_name(name):
        raise TokentrailError(
            "bad_agent_name",
            f"agent name {name!r} must be 1-64 lowercase letters, digits, '.', '_' or '-' "
            "and start with a letter or digit",
            exit_code=2,
        )
    return name


def session_file(agent: str, session_id: str) -> Path:
    """The file of one session. Ids that are not safe file names are hashed (the real id
    is on every line)."""
    name = session_id
    if not _SAFE_FILE.fullmatch(name) or name.endswith(".jsonl"):
        name = "id-" + hashlib.sha256(session_id.encode()).hexdigest()[:32]
    return sessions_root() / check_agent_name(agent) / f"{name}.jsonl"


def record_key(prefix: str, *parts: Any) -> str:
    """A stable key from the parts that make a record unique (sorted JSON, hashed)."""
    blob = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)
    return f"{prefix}:{hashlib.sha256(blob).hexdigest()[:32]}"


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    """The file opened for appending, under an exclusive lock where the OS has one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl
        except ImportError:  # Windows: O_APPEND of whole lines still keeps lines whole
            yield fd
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def existing_keys(path: Path) -> set[str]:
    keys: set[str] = set()
    try:
        with path.open("rb") as fh:
            for line in fh:
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("key"), str):
                    keys.add(rec["key"])
    except OSError:
        pass
    return keys


def append(records: Iterable[Mapping[str, Any]], *, dedup: bool = True) -> tuple[int, int]:
    """Write records to their session files; (written, already there). Each record needs
    `agent`, `session`, `kind` and `key`."""
    by_file: dict[Path, list[Mapping[str, Any]]] = {}
    for rec in records:
        by_file.setdefault(session_file(str(rec["agent"]), str(rec["session"])), []).append(rec)
    written = skipped = 0
    for path, group in by_file.items():
        try:
            with _locked(path) as fd:
                known = existing_keys(path) if dedup else set()
                lines = []
                for rec in group:
                    if rec["key"] in known:
                        skipped += 1
                        continue
                    known.add(str(rec["key"]))
                    lines.append(orjson.dumps({"v": STORE_VERSION, **rec}) + b"\n")
                _write_all(fd, b"".join(lines))
                written += len(lines)
        except OSError as exc:
            raise TokentrailError(
                "store_write_failed", f"cannot write {path}: {exc.strerror or exc}"
            ) from None
    return written, skipped
