"""OpenCode sessions: `${OPENCODE_DATA_DIR:-${XDG_DATA_HOME:-~/.local/share}/opencode}`.

Current builds keep everything in SQLite (`opencode.db`, or `opencode-<channel>.db`):
tables `session` (id, directory, parent_id, ...), `message` and `part` (id, session_id,
time_created, and the JSON document in `data`). Older builds wrote the same documents as
files: `storage/session/<project>/<session>.json`, `storage/message/<session>/<msg>.json`,
`storage/part/<msg>/<part>.json`. The database is opened read-only; a session found in
both is read from the database.

Accounting (formats.md §3): an assistant message's `step-finish` parts are its API calls,
each with its own `tokens` and `cost`; the message's own `tokens` are only the last step's,
so they count only for a message without step parts (never both). `tokens.input` excludes
the cache; reasoning is billed as output and reported apart, unless `tokens.total` shows
the log already counted it inside `output`. A recorded cost of 0 means OpenCode did not
know the price, and is not kept.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.logfile import RecordKinds, as_dict, as_float, as_int, as_str, ms_ts
from tokentrail.model import (
    AgentCommit,
    Compaction,
    ParseIssues,
    Prompt,
    Request,
    Session,
    SessionRef,
    Usage,
    cwd_inside,
    estimate_result_tokens,
)
from tokentrail.toolcalls import (
    commits_in_output,
    first_line_of,
    is_git_commit,
    tool_call,
)

AGENT = "opencode"
KNOWN_RECORD_TYPES = frozenset(
    {
        "user",
        "assistant",
        "text",
        "tool",
        "file",
        "reasoning",
        "step-start",
        "step-finish",
        "compaction",
        "patch",
        "snapshot",
        "agent",
        "subtask",
        "retry",
    }
)


def data_dir() -> Path:
    explicit = os.environ.get("OPENCODE_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "opencode"


def databases(folder: Path) -> list[Path]:
    """`opencode.db` first, then channel databases (`opencode-beta.db`, ...)."""
    try:
        channel = sorted(folder.glob("opencode-*.db"))
    except OSError:
        channel = []
    main = folder / "opencode.db"
    return [p for p in [main, *channel] if p.is_file()]


def connect(db: Path) -> sqlite3.Connection:
    """Read-only: tokentrail never writes an agent's store, even by accident."""
    con = sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True, timeout=5)
    con.row_factory = sqlite3.Row
    return con


def _load(value: Any) -> dict[str, Any]:
    if isinstance(value, (str, bytes)):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return as_dict(value)


def _stat(path: Path) -> tuple[int, float]:
    try:
        st = path.stat()
    except OSError:
        return 0, 0.0
    return st.st_size, st.st_mtime


class OpenCodeAdapter:
    name = AGENT
    env_var = "OPENCODE_DATA_DIR"  # moves the logs (tokentrail doctor, missing-folder warning)
    parser_version = "opencode/1"  # bump when parse() output changes (cache key)

    def roots(self) -> list[Path]:
        return [data_dir()]

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        folder = data_dir()
        seen: set[str] = set()
        failures = []
        for db in databases(folder):
            try:
                refs = list(_db_sessions(db, repo))
            except sqlite3.Error as exc:
                failures.append(f"{db}: {exc}")
                continue
            for ref in refs:
                if ref.id not in seen:
                    seen.add(ref.id)
                    yield ref
        for ref in _file_sessions(folder / "storage", repo):
            if ref.id not in seen:
                seen.add(ref.id)
                yield ref
        if failures:
            raise RuntimeError("cannot read OpenCode database " + "; ".join(failures))

    def parse(self, ref: SessionRef) -> Session:
        if ref.path.suffix == ".db":
            return _parse_db(ref)
        return _parse_files(ref)


def _db_sessions(db: Path, repo: Path | None) -> Iterator[SessionRef]:
    wal = db.with_name(db.name + "-wal")
    extra = (wal,) if wal.is_file() else ()
    size, mtime = _stat(db)
    con = connect(db)
    try:
        rows = [dict(row) for row in con.execute("SELECT * FROM session")]
    finally:
        con.close()
    for row in rows:
        session_id = as_str(row.get("id"))
        if session_id is None:
            continue
        cwd = as_str(row.get("directory"))
        if repo is not None and not (cwd and cwd_inside(cwd, repo)):
            continue
        updated = row.get("time_updated")
        yield SessionRef(
            agent=AGENT,
            id=session_id,
            path=db,
            extra_paths=extra,
            cwd_hint=cwd,
            size=size // max(len(rows), 1),
            mtime=updated / 1000 if isinstance(updated, (int, float)) and updated else mtime,
        )


def _file_sessions(storage: Path, repo: Path | None) -> Iterator[SessionRef]:
    try:
        infos = sorted((storage / "session").glob("*/*.json"))
    except OSError:
        return
    for info_path in infos:
        try:
            info = _load(info_path.read_bytes())
        except OSError:
            continue
        session_id = as_str(info.get("id")) or info_path.stem.removeprefix("ses_")
        cwd = as_str(info.get("directory"))
        if repo is not None and not (cwd and cwd_inside(cwd, repo)):
            continue
        messages = sorted((storage / "message" / session_id).glob("*.json"))
        parts: list[Path] = []
        for message in messages:
            message_id = _message_id(message)
            parts.extend(sorted((storage / "part" / message_id).glob("*.json")))
        paths = [info_path, *messages, *parts]
        stats = [_stat(p) for p in paths]
        yield SessionRef(
            agent=AGENT,
            id=session_id,
            path=info_path,
            extra_paths=tuple(paths[1:]),
            cwd_hint=cwd,
            size=sum(s for s, _ in stats),
            mtime=max(m for _, m in stats),
        )


def _message_id(path: Path) -> str:
    """A message file's `id` (file names and ids can differ, parts go by the id)."""
    try:
        return as_str(_load(path.read_bytes()).get("id")) or path.stem
    except OSError:
        return path.stem


@dataclass
class _Doc:
    """One message with its parts, from either store."""

    id: str
    info: dict[str, Any]
    parts: list[dict[str, Any]] = field(default_factory=list)


def _parse_db(ref: SessionRef) -> Session:
    session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
    try:
        con = connect(ref.path)
        try:
            info = next(
                (dict(r) for r in con.execute("SELECT * FROM session WHERE id = ?", (ref.id,))),
                {},
            )
            messages = [
                dict(r)
                for r in con.execute("SELECT * FROM message WHERE session_id = ?", (ref.id,))
            ]
            part_rows = [
                dict(r) for r in con.execute("SELECT * FROM part WHERE session_id = ?", (ref.id,))
            ]
        finally:
            con.close()
    except sqlite3.Error as exc:
        session.issues.warnings.append(f"{ref.path}: cannot read session {ref.id}: {exc}")
        return session
    docs = {str(m["id"]): _Doc(str(m["id"]), _load(m.get("data"))) for m in messages}
    for row in sorted(part_rows, key=lambda r: (_created(r), str(r["id"]))):
        doc = docs.get(str(row.get("message_id")))
        if doc is not None:
            doc.parts.append({"id": str(row["id"]), **_load(row.get("data"))})
    session.parent_id = as_str(info.get("parent_id"))
    _Builder(session, ref.cwd_hint or as_str(info.get("directory"))).run(docs.values())
    return session


def _created(row: dict[str, Any]) -> float:
    value = row.get("time_created")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _parse_files(ref: SessionRef) -> Session:
    session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
    info = _read(ref.path, session.issues)
    docs: dict[str, _Doc] = {}
    part_files: list[Path] = []
    for path in ref.extra_paths:
        if path.parent.parent.name == "message":
            data = _read(path, session.issues)
            message_id = as_str(data.get("id")) or path.stem
            docs[message_id] = _Doc(message_id, data)
        else:
            part_files.append(path)
    for path in part_files:
        doc = docs.get(path.parent.name)
        if doc is not None:
            doc.parts.append({"id": path.stem, **_read(path, session.issues)})
    session.parent_id = as_str(info.get("parentID"))
    _Builder(session, ref.cwd_hint or as_str(info.get("directory"))).run(docs.values())
    return session


def _read(path: Path, issues: ParseIssues) -> dict[str, Any]:
    try:
        return as_dict(orjson.loads(path.read_bytes()))
    except OSError as exc:
        issues.warnings.append(f"{path}: cannot open ({exc.strerror or exc})")
    except orjson.JSONDecodeError:
        issues.bad_lines += 1
        issues.warnings.append(f"{path}: not valid JSON; skipped")
    return {}


def opencode_usage(tokens: dict[str, Any]) -> Usage:
    """Our split of a message's or a step's `tokens` (see the module docstring)."""
    cache = as_dict(tokens.get("cache"))
    inp, out = as_int(tokens.get("input")), as_int(tokens.get("output"))
    read, write = as_int(cache.get("read")), as_int(cache.get("write"))
    reasoning = as_int(tokens.get("reasoning"))
    total = tokens.get("total")
    inside = total is not None and reasoning > 0 and as_int(total) == inp + read + write + out
    return Usage(
        input=inp,
        cache_read=read,
        cache_write_5m=write,
        output=out if inside else out + reasoning,
        reasoning=reasoning,
    )


def _cost(value: Any) -> float | None:
    cost = as_float(value) if isinstance(value, (int, float)) else None
    return cost if cost else None


class _Builder:
    """Messages (oldest first) and their parts into requests, tool calls and prompts."""

    def __init__(self, session: Session, cwd: str | None) -> None:
        self.session = session
        self.cwd = cwd
        self.kinds = RecordKinds(AGENT, KNOWN_RECORD_TYPES)
        session.note_place(cwd, None)

    def run(self, docs: Iterable[_Doc]) -> None:
        ordered = sorted(
            docs, key=lambda d: (as_int(as_dict(d.info.get("time")).get("created")), d.id)
        )
        for doc in ordered:
            role = doc.info.get("role")
            if not self.kinds.see(role):
                continue
            ts = ms_ts(as_dict(doc.info.get("time")).get("created"))
            self.session.note_time(ts)
            for part in doc.parts:
                self.kinds.see(part.get("type"))
            if role == "user":
                chars = sum(
                    len(str(p.get("text") or ""))
                    for p in doc.parts
                    if p.get("type") == "text" and not p.get("synthetic")
                )
                self.session.prompts.append(Prompt(ts, chars))
            else:
                self._assistant(doc, ts)
        self.kinds.report(self.session.paths[0], self.session.issues)

    def _assistant(self, doc: _Doc, ts: datetime | None) -> None:
        info = doc.info
        model_ref = as_dict(info.get("model"))
        model = as_str(info.get("modelID")) or as_str(model_ref.get("modelID")) or "unknown"
        provider = as_str(info.get("providerID")) or as_str(model_ref.get("providerID"))
        path = info.get("path")
        cwd = as_str(as_dict(path).get("cwd")) or as_str(path) or self.cwd
        self.session.note_place(cwd, None)
        steps = [p for p in doc.parts if p.get("type") == "step-finish"]
        calls = [(f"{doc.id}:{p.get('id')}", p) for p in steps if isinstance(p.get("tokens"), dict)]
        if not calls and isinstance(info.get("tokens"), dict):
            calls = [(doc.id, info)]
        first = len(self.session.requests)
        for key, source in calls:
            self.session.requests.append(
                Request(
                    key=f"opencode:{key}",
                    timestamp=ts,
                    model=model,
                    usage=opencode_usage(as_dict(source.get("tokens"))),
                    cwd=cwd,
                    provider=provider,
                    agent_cost_usd=_cost(source.get("cost")),
                )
            )
        last = len(self.session.requests) - 1
        step = 0
        for part in doc.parts:
            kind = part.get("type")
            index = max(min(first + step, last), 0)
            if kind == "step-finish":
                step += 1
            elif kind == "tool":
                self._tool(part, index, ts)
            elif kind == "compaction":
                trigger = "auto" if part.get("auto") else "manual"
                self.session.compactions.append(Compaction(ts, trigger, None, index))

    def _tool(self, part: dict[str, Any], index: int, ts: datetime | None) -> None:
        state = as_dict(part.get("state"))
        name = as_str(part.get("tool")) or "?"
        output = state.get("output") if state.get("status") != "error" else state.get("error")
        text = output if isinstance(output, str) else ""
        exit_code = as_dict(state.get("metadata")).get("exit")
        when = ms_ts(as_dict(state.get("time")).get("start")) or ts
        call = tool_call(
            as_str(part.get("callID")) or str(part.get("id")),
            name,
            as_dict(state.get("input")),
            index,
            when,
            result_chars=len(text),
            result_tokens=estimate_result_tokens(len(text)),
            is_error=state.get("status") == "error"
            or (isinstance(exit_code, int) and exit_code != 0),
        )
        if call.is_error:
            call.error_head = first_line_of(text)
        self.session.tool_calls.append(call)
        if is_git_commit(call.command):
            for branch, sha in commits_in_output(text):
                self.session.commits.append(AgentCommit(sha, branch, when, index, call.id))


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    register(OpenCodeAdapter())
