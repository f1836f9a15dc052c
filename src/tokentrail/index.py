"""The persistent index: every session tokentrail has parsed, as rows in one SQLite file
in the user cache dir, so a log is read once and every later run only looks things up.

What it holds, per session (keyed by agent, session id and main file):
- the state of its files when they were read (path, device, inode, size, mtime) and the
  parser and tool versions that read them: a session whose files and parser are unchanged
  is never read again;
- one row per billed request (tokens by kind, model, time, branch, cwd, subagent, its price
  under the built-in prices): `sessions` totals and `report`/`check` attribution read these;
- the session's listing row (what `sessions` prints) and its exact cost sum, so listing
  thousands of sessions is one query;
- a compact encoding of the rest of the session (tool calls, prompts, compactions, agent
  commits): the detectors need whole sessions, and decoding these is much cheaper than
  parsing the log again;
- an adapter's resume token (adapters that can read only what was appended to a log);
- the detectors' findings for the session, keyed by everything they depend on (the
  session's content, prices, thresholds, the detector plugins and their versions), so a
  hook run does not run the detectors again over sessions that did not change.

Sessions whose logs were deleted (Claude Code deletes transcripts after 30 days by default)
keep their listing row and request rows, not their content: `sessions`, `report` and
`rollup` still count them (`history.keep_deleted: false` in .tokentrail.yml turns this
off and drops them).

Trust: the file starts with our application id and schema version; a schema change
rebuilds it; every stored blob and every session's request rows carry a checksum that is
verified when they are read. Anything that does not verify, and any SQLite error, makes
the caller drop the index and rebuild it from the logs: it is never trusted half-way.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tokentrail import __version__
from tokentrail.cache import LEGACY_FOLDER, cache_root, index_path
from tokentrail.model import (
    AgentCommit,
    Compaction,
    ParseIssues,
    Prompt,
    Request,
    Session,
    ToolCall,
    Usage,
)

SCHEMA = 1
APPLICATION_ID = 0x746B7472  # "tktr"
BUSY_TIMEOUT_S = 30.0
_CHUNK = 500  # values per `IN (...)` list


class IndexCorrupt(Exception):
    """Something stored did not verify: the index must be rebuilt, never trusted."""


def _model_shape() -> str:
    """The fields of every model class the index encodes: a change rebuilds the index
    (and the codec test fails until the encoding below knows the new field)."""
    parts = []
    for cls in (Session, Request, Usage, ToolCall, Prompt, Compaction, AgentCommit, ParseIssues):
        parts.append(cls.__name__ + "(" + ",".join(f.name for f in fields(cls)) + ")")
    return hashlib.sha1(";".join(parts).encode()).hexdigest()[:16]


SHAPE = f"{SCHEMA}:{_model_shape()}:{__version__}"

_DDL = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    sid TEXT NOT NULL,
    path TEXT NOT NULL,
    digest TEXT NOT NULL,
    pricing TEXT NOT NULL,
    resume BLOB,
    head BLOB NOT NULL,
    row BLOB NOT NULL,
    body BLOB,
    units TEXT,
    issues BLOB,
    places TEXT NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0,
    gone INTEGER NOT NULL DEFAULT 0,
    checksum INTEGER NOT NULL,
    rows_checksum INTEGER NOT NULL,
    UNIQUE (agent, sid, path)
);
CREATE INDEX sessions_path ON sessions (path);
CREATE TABLE requests (
    session INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    keyhash INTEGER,
    key TEXT,
    ts TEXT,
    model TEXT NOT NULL,
    input INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL,
    output INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    web_search_requests INTEGER NOT NULL,
    branch TEXT,
    cwd TEXT,
    subagent TEXT,
    file_index INTEGER NOT NULL,
    output_lower_bound INTEGER NOT NULL,
    cost_usd REAL,
    price_source TEXT,
    PRIMARY KEY (session, idx)
) WITHOUT ROWID;
CREATE INDEX requests_keyhash ON requests (keyhash) WHERE keyhash IS NOT NULL;
CREATE TABLE detections (
    session INTEGER NOT NULL,
    ctx TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (session, ctx)
) WITHOUT ROWID;
CREATE TABLE memo (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""
_REQUEST_COLUMNS = (
    "session, idx, keyhash, key, ts, model, input, cache_read, cache_write_5m, cache_write_1h, "
    "output, reasoning, web_search_requests, branch, cwd, subagent, file_index, "
    "output_lower_bound, cost_usd, price_source"
)


# -- encoding: lossless, and cheap to decode (hot path of every hook run) ---------------


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def keyhash(agent: str, key: str) -> int:
    """64-bit hash of a request's dedup key (a collision only costs an exact check)."""
    digest = hashlib.blake2b(f"{agent}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def request_rows(session_id: int, session: Session) -> list[tuple[Any, ...]]:
    rows = []
    for i, r in enumerate(session.requests):
        u = r.usage
        rows.append(
            (
                session_id,
                i,
                keyhash(session.agent, r.key) if r.key is not None else None,
                r.key,
                _iso(r.timestamp),
                r.model,
                u.input,
                u.cache_read,
                u.cache_write_5m,
                u.cache_write_1h,
                u.output,
                u.reasoning,
                u.web_search_requests,
                r.branch,
                r.cwd,
                r.subagent,
                r.file_index,
                int(r.output_lower_bound),
                r.cost_usd,
                r.price_source,
            )
        )
    return rows


def _request(row: Sequence[Any]) -> Request:
    return Request(
        row[3],
        _ts(row[4]),
        row[5],
        Usage(row[6], row[7], row[8], row[9], row[10], row[11], row[12]),
        row[13],
        row[14],
        row[15],
        row[16],
        bool(row[17]),
        row[18],
        row[19],
    )


def rows_checksum(rows: Iterable[Sequence[Any]]) -> int:
    """Checksum of a session's request rows (without the session id, which may change)."""
    return zlib.crc32(orjson.dumps([list(r[1:]) for r in rows]))


def encode_head(session: Session) -> bytes:
    issues = session.issues
    return orjson.dumps(
        {
            "agent": session.agent,
            "id": session.id,
            "cwd": session.cwd,
            "cwds": session.cwds,
            "branches": session.branches,
            "start": _iso(session.start),
            "end": _iso(session.end),
            "parent_id": session.parent_id,
            "paths": [str(p) for p in session.paths],
            "subagent_files": session.subagent_files,
            "issues": [issues.bad_lines, issues.truncated_lines, issues.warnings],
            "commits": [
                [c.sha, c.branch, _iso(c.timestamp), c.request_index, c.tool_call_id]
                for c in session.commits
            ],
        }
    )


def encode_body(session: Session) -> bytes:
    return orjson.dumps(
        {
            "tool_calls": [
                [
                    c.id,
                    c.name,
                    c.request_index,
                    _iso(c.timestamp),
                    c.summary,
                    c.command,
                    list(c.files),
                    c.result_chars,
                    c.result_tokens,
                    c.is_error,
                    c.error_head,
                    c.subagent,
                    c.writes,
                ]
                for c in session.tool_calls
            ],
            "prompts": [[_iso(p.timestamp), p.chars] for p in session.prompts],
            "compactions": [
                [_iso(c.timestamp), c.trigger, c.pre_tokens, c.request_index]
                for c in session.compactions
            ],
        }
    )


def decode_session(head: bytes, body: bytes | None) -> Session:
    """A session without its requests (added by the caller), from its head and body."""
    h = orjson.loads(head)
    bad, truncated, warnings = h["issues"]
    session = Session(
        agent=h["agent"],
        id=h["id"],
        paths=tuple(Path(p) for p in h["paths"]),
        cwd=h["cwd"],
        cwds=h["cwds"],
        branches=h["branches"],
        start=_ts(h["start"]),
        end=_ts(h["end"]),
        parent_id=h["parent_id"],
        issues=ParseIssues(bad, truncated, warnings),
        subagent_files=h["subagent_files"],
        commits=[AgentCommit(c[0], c[1], _ts(c[2]), c[3], c[4]) for c in h["commits"]],
    )
    if body is not None:
        b = orjson.loads(body)
        session.tool_calls = [
            ToolCall(
                c[0],
                c[1],
                c[2],
                _ts(c[3]),
                c[4],
                c[5],
                tuple(c[6]),
                c[7],
                c[8],
                c[9],
                c[10],
                c[11],
                c[12],
            )
            for c in b["tool_calls"]
        ]
        session.prompts = [Prompt(_ts(p[0]), p[1]) for p in b["prompts"]]
        session.compactions = [
            Compaction(_ts(c[0]), c[1], c[2], c[3]) for c in b["compactions"]
        ]
    return session


def _checksum(*blobs: bytes | str | None) -> int:
    crc = 0
    for blob in blobs:
        data = blob.encode() if isinstance(blob, str) else (blob or b"")
        crc = zlib.crc32(data + b"\0", crc)
    return crc


# -- the index file ---------------------------------------------------------------------


@dataclass(slots=True)
class Known:
    """What the index holds about one session, enough to decide whether to read it."""

    id: int
    digest: str
    pricing: str
    has_resume: bool
    gone: bool


@dataclass(slots=True)
class Listed:
    """One session as `sessions` lists it, straight from the index."""

    id: int
    agent: str
    sid: str
    path: str
    row: dict[str, Any]
    units: int | None
    shared: bool
    gone: bool
    issues: ParseIssues | None


@dataclass(slots=True)
class Stored:
    """What parsing one session left in the index."""

    id: int
    issues: ParseIssues


def _temporary_index() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="tokentrail-index-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder / "index.sqlite3"


class Index:
    """One connection to the index file. Not shared across processes: a forked worker
    opens its own (`Index(path)`)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or index_path() or _temporary_index()
        self.db: sqlite3.Connection | None = None
        self.rebuilt = False
        self.open()

    # connection ------------------------------------------------------------------------

    def open(self) -> None:
        """Open the file, creating or rebuilding it when it is missing, from another
        schema, or not an index at all."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connect()
            if not self._valid():
                self._recreate()
        except sqlite3.DatabaseError:
            self._recreate()

    def _connect(self) -> None:
        self.db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self.db.execute("PRAGMA synchronous=NORMAL")

    def _valid(self) -> bool:
        assert self.db is not None
        app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            if app_id == 0 and self._empty():
                self._create()
                return True
            return False
        row = self.db.execute("SELECT v FROM meta WHERE k = 'shape'").fetchone()
        return row is not None and row[0] == SHAPE

    def _empty(self) -> bool:
        assert self.db is not None
        return int(self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]) == 0

    def _create(self) -> None:
        assert self.db is not None
        self.db.execute("PRAGMA journal_mode=WAL")
        with self.transaction():
            if not self._empty():  # another process created it first
                return
            for statement in _DDL.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.db.execute(f"PRAGMA user_version = {SCHEMA}")
            self.db.execute("INSERT INTO meta VALUES ('shape', ?)", (SHAPE,))

    def _recreate(self) -> None:
        """Drop the file (and its WAL) and start empty."""
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.rebuilt = True
        self._connect()
        self._create()

    def rebuild(self) -> None:
        """After a check failed or SQLite reported damage: start from an empty index."""
        self._recreate()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def transaction(self) -> _Transaction:
        assert self.db is not None
        return _Transaction(self.db)

    def _select(self, sql: str, ids: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """`sql` with `{}` standing for an `IN (...)` list, run over `ids` in chunks."""
        assert self.db is not None
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            yield from self.db.execute(sql.format(marks), tuple(chunk))

    # what is known ---------------------------------------------------------------------

    def known(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], Known]:
        """The index's entries for these (agent, session id, main path) keys."""
        paths = sorted({path for _, _, path in keys})
        out: dict[tuple[str, str, str], Known] = {}
        for row in self._select(
            "SELECT agent, sid, path, id, digest, pricing, resume IS NOT NULL, gone "
            "FROM sessions WHERE path IN ({})",
            paths,
        ):
            known = Known(row[3], row[4], row[5], bool(row[6]), bool(row[7]))
            out[(row[0], row[1], row[2])] = known
        return out

    def candidates(
        self, agents: Sequence[str], repo: Path | None
    ) -> list[tuple[int, str, str, str, bool]]:
        """(id, agent, session id, main path, gone) of these agents' sessions; with `repo`,
        only those that may have run inside it (a superset: callers check exactly)."""
        assert self.db is not None
        marks = ",".join("?" * len(agents))
        sql = f"SELECT id, agent, sid, path, gone FROM sessions WHERE agent IN ({marks})"
        args: tuple[Any, ...] = tuple(agents)
        if repo is not None:
            sql += " AND instr(places, ?) > 0"
            args = (*args, str(repo))
        return [(r[0], r[1], r[2], r[3], bool(r[4])) for r in self.db.execute(sql, args)]

    # writing ---------------------------------------------------------------------------

    def store(
        self,
        session: Session,
        key: tuple[str, str, str],
        digest: str,
        pricing: str,
        resume: bytes | None,
        row: dict[str, Any],
        units: int | None,
    ) -> int:
        """Replace the entry `key` (agent, session id, main path, as discovery named it)
        with this parse of it."""
        assert self.db is not None
        db = self.db
        head, body = encode_head(session), encode_body(session)
        row_blob = orjson.dumps(row)
        units_text = None if units is None else str(units)
        issues = session.issues
        issues_blob = (
            orjson.dumps([issues.bad_lines, issues.truncated_lines, issues.warnings])
            if issues.bad_lines or issues.truncated_lines or issues.warnings
            else None
        )
        checksum = _checksum(head, row_blob, body, units_text, issues_blob)
        places = "\n".join(_resolved(cwd) for cwd in session.cwds)
        with self.transaction():
            old = db.execute(
                "SELECT id FROM sessions WHERE agent = ? AND sid = ? AND path = ?", key
            ).fetchone()
            values = (
                digest, pricing, resume, head, row_blob, body, units_text, issues_blob, places
            )
            if old is None:
                sid = db.execute(
                    "INSERT INTO sessions (agent, sid, path, digest, pricing, resume, head, "
                    "row, body, units, issues, places, checksum, rows_checksum) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
                    (*key, *values),
                ).lastrowid
                assert sid is not None
            else:
                sid = int(old[0])
                db.execute("DELETE FROM requests WHERE session = ?", (sid,))
                db.execute("DELETE FROM detections WHERE session = ?", (sid,))
                db.execute(
                    "UPDATE sessions SET digest = ?, pricing = ?, resume = ?, head = ?, "
                    "row = ?, body = ?, units = ?, issues = ?, places = ?, shared = 0, "
                    "gone = 0 WHERE id = ?",
                    (*values, sid),
                )
            rows = request_rows(sid, session)
            db.executemany(
                f"INSERT INTO requests ({_REQUEST_COLUMNS}) VALUES ({','.join('?' * 20)})",
                rows,
            )
            db.execute(
                "UPDATE sessions SET checksum = ?, rows_checksum = ? WHERE id = ?",
                (checksum, rows_checksum(rows), sid),
            )
            self._mark_shared(sid, [r[2] for r in rows if r[2] is not None])
        return sid

    def _mark_shared(self, sid: int, hashes: list[int]) -> None:
        """Flag this session and any other holding one of its request keys: only flagged
        sessions need the exact cross-session dedup when totals are listed."""
        assert self.db is not None
        others: set[int] = set()
        for start in range(0, len(hashes), _CHUNK):
            chunk = hashes[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            others.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT DISTINCT session FROM requests WHERE keyhash IN ({marks}) "
                    "AND session != ?",
                    (*chunk, sid),
                )
            )
        if len(set(hashes)) != len(hashes):
            others.add(sid)  # a key twice in one session: the later copy is dropped too
        if others:
            self.db.executemany(
                "UPDATE sessions SET shared = 1 WHERE id = ?", [(i,) for i in (*others, sid)]
            )

    def reprice(
        self, sid: int, session: Session, pricing: str, row: dict[str, Any], units: int | None
    ) -> None:
        """New prices for a stored session (genai-prices or a price plugin changed)."""
        assert self.db is not None
        db = self.db
        current = db.execute(
            "SELECT head, body, issues FROM sessions WHERE id = ?", (sid,)
        ).fetchone()
        if current is None:
            return
        row_blob = orjson.dumps(row)
        units_text = None if units is None else str(units)
        checksum = _checksum(current[0], row_blob, current[1], units_text, current[2])
        rows = request_rows(sid, session)
        with self.transaction():
            db.execute("DELETE FROM detections WHERE session = ?", (sid,))
            db.executemany(
                "UPDATE requests SET cost_usd = ?, price_source = ? WHERE session = ? "
                "AND idx = ?",
                [(r[18], r[19], sid, r[1]) for r in rows],
            )
            db.execute(
                "UPDATE sessions SET pricing = ?, row = ?, units = ?, checksum = ?, "
                "rows_checksum = ? WHERE id = ?",
                (pricing, row_blob, units_text, checksum, rows_checksum(rows), sid),
            )

    def mark_gone(self, ids: Sequence[int], keep: bool) -> None:
        """The logs of these sessions were deleted: keep their rows (not their content),
        or forget them when history is not kept."""
        assert self.db is not None
        db = self.db
        with self.transaction():
            for sid in ids:
                db.execute("DELETE FROM detections WHERE session = ?", (sid,))
                if not keep:
                    db.execute("DELETE FROM requests WHERE session = ?", (sid,))
                    db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
                    continue
                current = db.execute(
                    "SELECT head, row, units, issues FROM sessions WHERE id = ?", (sid,)
                ).fetchone()
                if current is None:
                    continue
                checksum = _checksum(current[0], current[1], None, current[2], current[3])
                db.execute(
                    "UPDATE sessions SET gone = 1, body = NULL, resume = NULL, digest = '', "
                    "checksum = ? WHERE id = ?",
                    (checksum, sid),
                )

    def forget_gone(self) -> int:
        """Drop every session kept after its logs were deleted."""
        assert self.db is not None
        with self.transaction():
            ids = [r[0] for r in self.db.execute("SELECT id FROM sessions WHERE gone = 1")]
            for sid in ids:
                self.db.execute("DELETE FROM requests WHERE session = ?", (sid,))
                self.db.execute("DELETE FROM detections WHERE session = ?", (sid,))
                self.db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
        return len(ids)

    # reading ---------------------------------------------------------------------------

    def listed(self, ids: Sequence[int]) -> list[Listed]:
        out = []
        for r in self._select(
            "SELECT id, agent, sid, path, row, units, shared, gone, issues, head, body, "
            "checksum FROM sessions WHERE id IN ({})",
            list(ids),
        ):
            if _checksum(r[9], r[4], r[10], r[5], r[8]) != r[11]:
                raise IndexCorrupt(f"session {r[2]}: stored data does not verify")
            issues = None
            if r[8] is not None:
                bad, truncated, warnings = orjson.loads(r[8])
                issues = ParseIssues(bad, truncated, warnings)
            out.append(
                Listed(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    orjson.loads(r[4]),
                    None if r[5] is None else int(r[5]),
                    bool(r[6]),
                    bool(r[7]),
                    issues,
                )
            )
        return out

    def shared_keys(self, ids: Sequence[int]) -> dict[int, list[tuple[int, int, str]]]:
        """(idx, keyhash, key) of the keyed requests of these sessions."""
        out: dict[int, list[tuple[int, int, str]]] = {}
        for r in self._select(
            "SELECT session, idx, keyhash, key FROM requests WHERE keyhash IS NOT NULL "
            "AND session IN ({}) ORDER BY session, idx",
            list(ids),
        ):
            out.setdefault(r[0], []).append((r[1], r[2], r[3]))
        return out

    def sessions(self, ids: Sequence[int], *, body: bool = True) -> dict[int, Session]:
        """Whole sessions (requests with their stored prices), checked as they are read."""
        heads: dict[int, Session] = {}
        sums: dict[int, tuple[int, int]] = {}
        column = "body" if body else "NULL"
        for r in self._select(
            f"SELECT id, agent, sid, head, {column}, row, units, issues, checksum, "
            "rows_checksum, body FROM sessions WHERE id IN ({})",
            list(ids),
        ):
            if body and _checksum(r[3], r[5], r[10], r[6], r[7]) != r[8]:
                raise IndexCorrupt(f"session {r[2]}: stored data does not verify")
            heads[r[0]] = decode_session(r[3], r[4])
            sums[r[0]] = (r[9], 0)
        rows: dict[int, list[tuple[Any, ...]]] = {}
        for row in self._select(
            f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE session IN ({{}}) "
            "ORDER BY session, idx",
            list(heads),
        ):
            rows.setdefault(row[0], []).append(row)
        for sid, session in heads.items():
            mine = rows.get(sid, [])
            if rows_checksum(mine) != sums[sid][0]:
                raise IndexCorrupt(f"session {session.id}: request rows do not verify")
            session.requests = [_request(r) for r in mine]
        return heads

    def resume_token(self, sid: int) -> bytes | None:
        assert self.db is not None
        row = self.db.execute("SELECT resume FROM sessions WHERE id = ?", (sid,)).fetchone()
        return None if row is None else row[0]

    # detector results and other memos --------------------------------------------------

    def detections(self, keys: Sequence[tuple[int, str]]) -> dict[int, bytes]:
        """Stored detector results for (session, context) pairs, by session; one that does
        not verify is as good as none."""
        wanted = dict(keys)
        out: dict[int, bytes] = {}
        for r in self._select(
            "SELECT session, ctx, data FROM detections WHERE session IN ({})", list(wanted)
        ):
            blob = bytes(r[2])
            if wanted.get(r[0]) == r[1] and blob[4:] and zlib.crc32(blob[4:]) == int.from_bytes(
                blob[:4], "big"
            ):
                out[r[0]] = blob[4:]
        return out

    def put_detections(self, items: Sequence[tuple[int, str, bytes]]) -> None:
        assert self.db is not None
        if not items:
            return
        with self.transaction():
            for sid, ctx, data in items:
                blob = zlib.crc32(data).to_bytes(4, "big") + data
                self.db.execute("DELETE FROM detections WHERE session = ?", (sid,))
                self.db.execute("INSERT INTO detections VALUES (?, ?, ?)", (sid, ctx, blob))

    def memo(self, kind: str, key: str) -> bytes | None:
        assert self.db is not None
        row = self.db.execute(
            "SELECT value FROM memo WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def put_memo(self, kind: str, key: str, value: bytes) -> None:
        assert self.db is not None
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO memo VALUES (?, ?, ?)", (kind, key, value))

    # housekeeping ----------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        assert self.db is not None
        count = self.db.execute
        size = sum(
            Path(f"{self.path}{s}").stat().st_size
            for s in ("", "-wal", "-shm")
            if Path(f"{self.path}{s}").exists()
        )
        return {
            "path": str(self.path),
            "bytes": size,
            "schema": SCHEMA,
            "sessions": count("SELECT count(*) FROM sessions").fetchone()[0],
            "sessions_kept_after_deletion": count(
                "SELECT count(*) FROM sessions WHERE gone = 1"
            ).fetchone()[0],
            "requests": count("SELECT count(*) FROM requests").fetchone()[0],
            "detector_results": count("SELECT count(*) FROM detections").fetchone()[0],
            "memos": count("SELECT count(*) FROM memo").fetchone()[0],
        }


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (or ROLLBACK on error): writers queue, readers never wait."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")


def clear() -> list[str]:
    """Delete the index (and the cache of earlier versions); what was removed."""
    root = cache_root()
    if root is None:
        return []
    removed = []
    path = index_path()
    assert path is not None
    for suffix in ("", "-wal", "-shm", "-journal"):
        target = Path(f"{path}{suffix}")
        if target.exists():
            target.unlink()
            removed.append(str(target))
    legacy = root / LEGACY_FOLDER
    if legacy.is_dir():
        shutil.rmtree(legacy, ignore_errors=True)
        removed.append(str(legacy))
    return removed


def _resolved(cwd: str) -> str:
    try:
        return str(Path(cwd).resolve())
    except (OSError, ValueError):
        return cwd


def file_state(paths: Iterable[Path]) -> list[tuple[int, int, int, int]] | None:
    """(device, inode, size, mtime_ns) of each file, None when one cannot be read."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return out
