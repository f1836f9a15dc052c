"""The persistent index: every session tokentrail has parsed, as rows in one SQLite file
in the user cache dir, so a log is read once and every later run only looks things up.

What it holds, per session (keyed by agent, session id and main file):
- the state of its files when they were read (path, device, inode, size, mtime) and the
  parser and tool versions that read them: a session whose files and parser are unchanged
  is never read again;
- one row per billed request (tokens by kind, model, time, branch, cwd, subagent, its price
  under the built-in prices), kept as one compact record array per session with the 64-bit
  hashes of the requests' dedup keys beside it: `report` and `check` attribute these rows,
  and `sessions` dedups across sessions from the key hashes alone. (A SQL row per request
  cost more to write than parsing the log did; nothing queries single requests.)
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

import contextlib
import hashlib
import os
import sqlite3
import zlib
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tokentrail import __version__
from tokentrail.cache import LEGACY_FOLDER, cache_root, index_path
from tokentrail.escape import Ready, json_ready
from tokentrail.model import (
    AgentCommit,
    Compaction,
    ParseIssues,
    PrLink,
    Prompt,
    RateLimits,
    RateWindow,
    Request,
    Session,
    ToolCall,
    Usage,
    resolved_cwd,
)

SCHEMA = 4  # 2: request provider, agent cost, sent; tool call added, read range; prompt kind
# 3: every ParseIssues counter; the agent's own cost, PR links and rate limits; limit_pct
# 4: whether output may take a listing row as it is (`ready`); key hashes checked apart
APPLICATION_ID = 0x746B7472  # "tktr"
BUSY_TIMEOUT_S = 30.0
_FEW_CHANGED = 64  # sessions stored since the overlap was known: compared one by one
_CHUNK = 500  # values per `IN (...)` list
_MANY = 2000  # above this many keys, one scan of the table instead of lookups


class IndexCorrupt(Exception):
    """Something stored did not verify: the index must be rebuilt, never trusted."""


def _model_shape() -> str:
    """The fields of every model class the index encodes: a change rebuilds the index
    (and the codec test fails until the encoding below knows the new field)."""
    parts = []
    for cls in (
        *(Session, Request, Usage, ToolCall, Prompt, Compaction, AgentCommit, ParseIssues),
        *(PrLink, RateLimits, RateWindow),
    ):
        parts.append(cls.__name__ + "(" + ",".join(f.name for f in fields(cls)) + ")")
    return hashlib.sha1(";".join(parts).encode()).hexdigest()[:16]


_DDL = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    sid TEXT NOT NULL,
    path TEXT NOT NULL,
    digest TEXT NOT NULL,
    pricing TEXT NOT NULL,
    resumable INTEGER NOT NULL,
    gone INTEGER NOT NULL DEFAULT 0,
    places TEXT NOT NULL,
    units TEXT,
    issues BLOB,
    row BLOB NOT NULL,
    ready INTEGER NOT NULL,  -- output may take the row as it is (escape.Ready)
    keys BLOB NOT NULL,
    row_check INTEGER NOT NULL,
    keys_check INTEGER NOT NULL,
    body_check INTEGER NOT NULL,
    UNIQUE (agent, sid, path)
);
CREATE INDEX sessions_path ON sessions (path);
-- covering indexes: deciding what to read again, and which sessions may have run in a
-- repository, scan these instead of the table and its listing rows
CREATE INDEX sessions_known ON sessions (agent, sid, path, digest, pricing, resumable, gone);
CREATE INDEX sessions_places ON sessions (agent, places, sid, path, gone);
-- the bulky part of each session, apart, so scans of the table above stay small
CREATE TABLE contents (
    id INTEGER PRIMARY KEY,
    head BLOB NOT NULL,
    requests BLOB NOT NULL,
    body BLOB,
    resume BLOB
);
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
# One request's record: its position in the array is its index in Session.requests.
REQUEST_FIELDS = (
    "key",
    "timestamp",
    "model",
    "input",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "output",
    "reasoning",
    "web_search_requests",
    "branch",
    "cwd",
    "subagent",
    "file_index",
    "output_lower_bound",
    "cost_usd",
    "price_source",
    "provider",
    "agent_cost_usd",
    "sent",
    "limit_pct",
)
# What a stored index must have been made with: this schema (its very text and request
# record), these model classes and this tokentrail; anything else and it is rebuilt. Bump
# SCHEMA when the encodings below change in any other way.
SHAPE = ":".join(
    [
        str(SCHEMA),
        hashlib.sha1((_DDL + ",".join(REQUEST_FIELDS)).encode()).hexdigest()[:12],
        _model_shape(),
        __version__,
    ]
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


def encode_requests(session: Session) -> tuple[bytes, bytes]:
    """The session's requests as a record array (REQUEST_FIELDS each), and the hashes of
    their dedup keys (int64 each, in request order; requests without a key have none)."""
    records = []
    hashes = array("q")
    agent = session.agent
    for r in session.requests:
        u, ts = r.usage, r.timestamp
        if r.key is not None:
            hashes.append(keyhash(agent, r.key))
        records.append(
            (
                r.key,
                ts.isoformat() if ts is not None else None,
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
                r.output_lower_bound,
                r.cost_usd,
                r.price_source,
                r.provider,
                r.agent_cost_usd,
                _iso(r.sent),
                r.limit_pct,
            )
        )
    return orjson.dumps(records), hashes.tobytes()


def decode_requests(blob: bytes) -> list[Request]:
    return [
        Request(
            r[0],
            _ts(r[1]),
            r[2],
            Usage(r[3], r[4], r[5], r[6], r[7], r[8], r[9]),
            r[10],
            r[11],
            r[12],
            r[13],
            r[14],
            r[15],
            r[16],
            r[17],
            r[18],
            _ts(r[19]),
            r[20],
        )
        for r in orjson.loads(blob)
    ]


def key_hashes(blob: bytes) -> array[int]:
    hashes = array("q")
    hashes.frombytes(blob)
    return hashes


_FS_MARK = "\0fs:"  # no real path or id holds a NUL


def storable(text: str) -> str:
    """Text as the index stores it: as is when it is valid Unicode; a file name that is not
    (undecodable bytes kept as surrogates) as its bytes in hex behind a NUL mark, so it is
    stored and read back exactly (SQLite and JSON hold only valid Unicode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _FS_MARK + os.fsencode(text).hex()
    return text


def unstored(text: str) -> str:
    """The text `storable` was given."""
    if text.startswith(_FS_MARK):
        return os.fsdecode(bytes.fromhex(text[len(_FS_MARK) :]))
    return text


_ISSUE_FIELDS = [f.name for f in fields(ParseIssues)]


def _issues_json(issues: ParseIssues) -> list[Any]:
    return [getattr(issues, name) for name in _ISSUE_FIELDS]


def _issues_of(values: list[Any]) -> ParseIssues:
    issues = ParseIssues()
    for name, value in zip(_ISSUE_FIELDS, values):
        setattr(issues, name, list(value) if isinstance(value, list) else value)
    return issues


def encode_row(row: dict[str, Any]) -> tuple[bytes, bool]:
    """A listing row as stored, and whether output may take it as it is: making every row
    safe for output (`json_ready`) is most of a listing's work, so it is checked once, here.
    (A row it would change, say an undecodable file name, is made safe on output: the
    terminal shows such names its own way.)"""
    stored = orjson.dumps({**row, "id": storable(row["id"])} if "id" in row else row)
    return stored, json_ready(row) == row


def _row_of(data: bytes, ready: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = Ready(orjson.loads(data)) if ready else orjson.loads(data)
    if "id" in row:
        row["id"] = unstored(row["id"])
    return row


def _window_json(w: RateWindow | None) -> list[Any] | None:
    return None if w is None else [w.used_percent, w.window_minutes, _iso(w.resets_at)]


def _window_of(data: list[Any] | None) -> RateWindow | None:
    return None if data is None else RateWindow(data[0], data[1], _ts(data[2]))


def _limits_json(limits: RateLimits | None) -> list[Any] | None:
    if limits is None:
        return None
    return [_window_json(limits.primary), _window_json(limits.secondary), _iso(limits.timestamp)]


def _limits_of(data: list[Any] | None) -> RateLimits | None:
    if data is None:
        return None
    return RateLimits(_window_of(data[0]), _window_of(data[1]), _ts(data[2]))


def encode_head(session: Session) -> bytes:
    issues = session.issues
    return orjson.dumps(
        {
            "agent": session.agent,
            "id": storable(session.id),
            "cwd": session.cwd,
            "cwds": session.cwds,
            "branches": session.branches,
            "start": _iso(session.start),
            "end": _iso(session.end),
            "parent_id": session.parent_id,
            "paths": [storable(str(p)) for p in session.paths],
            "subagent_files": {storable(k): storable(v) for k, v in session.subagent_files.items()},
            "issues": _issues_json(issues),
            "agent_cost": [
                session.agent_cost_usd,
                session.agent_cost_by_model,
                session.agent_cost_unknown_models,
            ],
            "pr_links": [
                [p.url, p.number, p.repository, _iso(p.timestamp)] for p in session.pr_links
            ],
            "rate_limits": _limits_json(session.rate_limits),
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
                    list(c.added),
                    list(c.read_range) if c.read_range is not None else None,
                ]
                for c in session.tool_calls
            ],
            "prompts": [[_iso(p.timestamp), p.chars, p.kind] for p in session.prompts],
            "compactions": [
                [_iso(c.timestamp), c.trigger, c.pre_tokens, c.request_index]
                for c in session.compactions
            ],
        }
    )


def decode_session(head: bytes, body: bytes | None) -> Session:
    """A session without its requests (added by the caller), from its head and body."""
    h = orjson.loads(head)
    cost, by_model, unknown = h["agent_cost"]
    session = Session(
        agent=h["agent"],
        id=unstored(h["id"]),
        paths=tuple(Path(unstored(p)) for p in h["paths"]),
        cwd=h["cwd"],
        cwds=h["cwds"],
        branches=h["branches"],
        start=_ts(h["start"]),
        end=_ts(h["end"]),
        parent_id=h["parent_id"],
        issues=_issues_of(h["issues"]),
        subagent_files={unstored(k): unstored(v) for k, v in h["subagent_files"].items()},
        agent_cost_usd=cost,
        agent_cost_by_model=by_model,
        agent_cost_unknown_models=unknown,
        pr_links=[PrLink(p[0], p[1], p[2], _ts(p[3])) for p in h["pr_links"]],
        rate_limits=_limits_of(h["rate_limits"]),
        commits=[AgentCommit(c[0], c[1], _ts(c[2]), c[3], c[4]) for c in h["commits"]],
    )
    if body is not None:
        _add_body(session, body)
    return session


def _add_body(session: Session, body: bytes) -> None:
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
            tuple(c[13]),
            (c[14][0], c[14][1]) if c[14] is not None else None,
        )
        for c in b["tool_calls"]
    ]
    session.prompts = [Prompt(_ts(p[0]), p[1], p[2]) for p in b["prompts"]]
    session.compactions = [Compaction(_ts(c[0]), c[1], c[2], c[3]) for c in b["compactions"]]


def _row_check(row: bytes, units: str | None, issues: bytes | None, ready: bool) -> int:
    """What a listing reads of a session, checked: its row, cost, issues and output flag."""
    return _checksum(row, units, issues, str(ready))


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
    gone: bool
    issues: ParseIssues | None
    places: list[str]  # its working directories, symlinks resolved when it was read


@dataclass(slots=True)
class Entry:
    """A parsed session encoded for the index (done before taking the write lock)."""

    key: tuple[str, str, str]
    digest: str
    pricing: str
    resume: bytes | None
    head: bytes
    body: bytes
    row: bytes
    ready: bool
    requests: bytes
    keys: bytes
    units: str | None
    issues: bytes | None
    places: str
    count: int

    @classmethod
    def of(
        cls,
        session: Session,
        key: tuple[str, str, str],
        digest: str,
        pricing: str,
        resume: bytes | None,
        row: dict[str, Any],
        units: int | None,
    ) -> Entry:
        i = session.issues
        requests, keys = encode_requests(session)
        return cls(
            key,
            digest,
            pricing,
            resume,
            encode_head(session),
            encode_body(session),
            *encode_row(row),
            requests,
            keys,
            None if units is None else str(units),
            orjson.dumps(_issues_json(i)) if i != ParseIssues() else None,
            "\n".join(filter(None, (_resolved(cwd) for cwd in session.cwds))),
            len(session.requests),
        )

    @property
    def checks(self) -> tuple[int, int, int]:
        """(what a listing reads, what loading a whole session reads, the key hashes that
        only deduplication reads)."""
        return (
            _row_check(self.row, self.units, self.issues, self.ready),
            _checksum(self.head, self.body, self.requests),
            _checksum(self.keys),
        )


def _temporary_index() -> Path:
    import atexit
    import shutil
    import tempfile

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
            yield from self.db.execute(sql.format(marks), tuple(chunk)).fetchall()

    # what is known ---------------------------------------------------------------------

    def known(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], Known]:
        """The index's entries for these (agent, session id, main path) keys."""
        paths = sorted({path for _, _, path in keys})
        out: dict[tuple[str, str, str], Known] = {}
        columns = "SELECT agent, sid, path, id, digest, pricing, resumable, gone FROM sessions"
        assert self.db is not None
        rows = (
            self.db.execute(columns).fetchall()  # most of the index: one scan beats lookups
            if len(paths) > _MANY
            else self._select(columns + " WHERE path IN ({})", paths)
        )
        for row in rows:
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
        return self.store_many([Entry.of(session, key, digest, pricing, resume, row, units)])[0]

    def store_many(self, entries: Sequence[Entry]) -> list[int]:
        """Store parsed sessions in one transaction (writers queue for the file, so fewer,
        larger writes keep parallel workers parsing instead of waiting)."""
        assert self.db is not None
        db = self.db
        ids = []
        with self.transaction():
            for e in entries:
                meta = (
                    e.digest,
                    e.pricing,
                    e.resume is not None,
                    e.places,
                    e.units,
                    e.issues,
                    e.row,
                    e.ready,
                    e.keys,
                    *e.checks,
                )
                contents = (e.head, e.requests, e.body, e.resume)
                old = db.execute(
                    "SELECT id FROM sessions WHERE agent = ? AND sid = ? AND path = ?", e.key
                ).fetchone()
                if old is None:
                    sid = db.execute(
                        "INSERT INTO sessions (agent, sid, path, digest, pricing, resumable, "
                        "places, units, issues, row, ready, keys, row_check, body_check, "
                        "keys_check) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*e.key, *meta),
                    ).lastrowid
                    assert sid is not None
                else:
                    sid = int(old[0])
                    db.execute("DELETE FROM detections WHERE session = ?", (sid,))
                    db.execute(
                        "UPDATE sessions SET digest = ?, pricing = ?, resumable = ?, places = ?, "
                        "units = ?, issues = ?, row = ?, ready = ?, keys = ?, row_check = ?, "
                        "body_check = ?, keys_check = ?, gone = 0 WHERE id = ?",
                        (*meta, sid),
                    )
                db.execute(
                    "INSERT OR REPLACE INTO contents (id, head, requests, body, resume) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (sid, *contents),
                )
                ids.append(sid)
            # request keys changed: what overlaps across sessions must be looked at again,
            # for these sessions (`overlapping`)
            db.execute(
                "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(k) DO UPDATE "
                "SET v = CAST(v AS INTEGER) + 1"
            )
            db.executemany(
                "INSERT OR REPLACE INTO memo VALUES ('dirty', ?, X'')", [(str(i),) for i in ids]
            )
        return ids

    def overlapping(self) -> set[int]:
        """Sessions holding a request key that another session (or the session itself,
        twice) also holds: the only ones cross-session dedup can drop requests from. A
        superset after deletions. Kept from one change of the stored keys to the next: only
        the sessions stored since (a log that grew) are compared with the others."""
        assert self.db is not None
        row = self.db.execute("SELECT v FROM meta WHERE k = 'generation'").fetchone()
        generation = row[0] if row is not None else "0"
        stored = self.db.execute("SELECT key, value FROM memo WHERE kind = 'overlap'").fetchone()
        if stored is not None and stored[0] == generation:
            return set(key_hashes(stored[1]))
        dirty = [int(r[0]) for r in self.db.execute("SELECT key FROM memo WHERE kind = 'dirty'")]
        if stored is not None and len(dirty) <= _FEW_CHANGED:
            found = set(key_hashes(stored[1])) | self._overlapping_with(set(dirty))
        else:
            found = self._overlapping_all()
        with contextlib.suppress(sqlite3.Error), self.transaction():
            self.db.execute("DELETE FROM memo WHERE kind = 'overlap'")
            self.db.execute(
                "INSERT INTO memo VALUES ('overlap', ?, ?)",
                (generation, array("q", sorted(found)).tobytes()),
            )
            # only the markers read here: a writer may have added more meanwhile
            self.db.executemany(
                "DELETE FROM memo WHERE kind = 'dirty' AND key = ?", [(str(i),) for i in dirty]
            )
        return found

    def _overlapping_all(self) -> set[int]:
        assert self.db is not None
        scan = self.db.execute("SELECT id, keys FROM sessions")
        rows = [(sid, key_hashes(blob)) for sid, blob in scan]
        counts = Counter(h for _, hashes in rows for h in hashes)
        dups = {h for h, n in counts.items() if n > 1}
        return {sid for sid, hashes in rows if not dups.isdisjoint(hashes)}

    def _overlapping_with(self, changed: set[int]) -> set[int]:
        """The sessions that share a key with one of the `changed` ones, and those of them
        that share one with another session or hold one twice. (Two unchanged sessions
        overlap now exactly when they did before.)"""
        assert self.db is not None
        found: set[int] = set()
        mine: dict[int, set[int]] = {}
        for sid, blob in self._select(
            "SELECT id, keys FROM sessions WHERE id IN ({})", sorted(changed)
        ):
            hashes = key_hashes(blob)
            mine[sid] = set(hashes)
            if len(mine[sid]) != len(hashes):
                found.add(sid)
        every = set().union(*mine.values())
        for sid, blob in self.db.execute("SELECT id, keys FROM sessions"):
            hashes = key_hashes(blob)
            if every.isdisjoint(hashes):
                continue
            for other, theirs in mine.items():
                if other != sid and not theirs.isdisjoint(hashes):
                    found.update((sid, other))
        return found

    def reprice(
        self, sid: int, session: Session, pricing: str, row: dict[str, Any], units: int | None
    ) -> None:
        """New prices for a stored session (genai-prices or a price plugin changed)."""
        assert self.db is not None
        db = self.db
        current = db.execute(
            "SELECT c.head, c.body, s.issues FROM sessions s JOIN contents c ON c.id = s.id "
            "WHERE s.id = ?",
            (sid,),
        ).fetchone()
        if current is None:
            return
        row_blob, ready = encode_row(row)
        units_text = None if units is None else str(units)
        requests, keys = encode_requests(session)
        with self.transaction():
            db.execute("DELETE FROM detections WHERE session = ?", (sid,))
            db.execute("UPDATE contents SET requests = ? WHERE id = ?", (requests, sid))
            db.execute(
                "UPDATE sessions SET pricing = ?, row = ?, ready = ?, units = ?, keys = ?, "
                "row_check = ?, body_check = ?, keys_check = ? WHERE id = ?",
                (
                    pricing,
                    row_blob,
                    ready,
                    units_text,
                    keys,
                    _row_check(row_blob, units_text, current[2], ready),
                    _checksum(current[0], current[1], requests),
                    _checksum(keys),
                    sid,
                ),
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
                    db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
                    db.execute("DELETE FROM contents WHERE id = ?", (sid,))
                    continue
                current = db.execute(
                    "SELECT head, requests FROM contents WHERE id = ?", (sid,)
                ).fetchone()
                if current is None:
                    continue
                db.execute("UPDATE contents SET body = NULL, resume = NULL WHERE id = ?", (sid,))
                db.execute(
                    "UPDATE sessions SET gone = 1, resumable = 0, digest = '', body_check = ? "
                    "WHERE id = ?",
                    (_checksum(current[0], None, current[1]), sid),
                )

    def forget_gone(self) -> int:
        """Drop every session kept after its logs were deleted."""
        assert self.db is not None
        if self.db.execute("SELECT 1 FROM sessions WHERE gone = 1 LIMIT 1").fetchone() is None:
            return 0
        with self.transaction():
            ids = [r[0] for r in self.db.execute("SELECT id FROM sessions WHERE gone = 1")]
            for sid in ids:
                self.db.execute("DELETE FROM detections WHERE session = ?", (sid,))
                self.db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
                self.db.execute("DELETE FROM contents WHERE id = ?", (sid,))
        return len(ids)

    # reading ---------------------------------------------------------------------------

    def listed(self, ids: Sequence[int]) -> list[Listed]:
        out = []
        columns = (
            "SELECT id, agent, sid, path, row, units, gone, issues, row_check, places, ready "
            "FROM sessions"
        )
        assert self.db is not None
        wanted = set(ids)
        rows = (
            [r for r in self.db.execute(columns).fetchall() if r[0] in wanted]
            if len(wanted) > _MANY
            else self._select(columns + " WHERE id IN ({})", list(wanted))
        )
        for r in rows:
            if _row_check(r[4], r[5], r[7], bool(r[10])) != r[8]:
                raise IndexCorrupt(f"session {r[2]}: stored data does not verify")
            issues = None
            if r[7] is not None:
                issues = _issues_of(orjson.loads(r[7]))
            out.append(
                Listed(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    _row_of(r[4], bool(r[10])),
                    None if r[5] is None else int(r[5]),
                    bool(r[6]),
                    issues,
                    r[9].split("\n") if r[9] else [],
                )
            )
        return out

    def keys(self, ids: Sequence[int]) -> dict[int, bytes]:
        """The request-key hashes of these sessions (only deduplication needs them)."""
        out = {}
        for sid, name, blob, check in self._select(
            "SELECT id, sid, keys, keys_check FROM sessions WHERE id IN ({})", list(ids)
        ):
            if _checksum(blob) != check:
                raise IndexCorrupt(f"session {name}: stored data does not verify")
            out[sid] = bytes(blob)
        return out

    def sessions(self, ids: Sequence[int], *, body: bool = True) -> dict[int, Session]:
        """Whole sessions (requests with their stored prices), checked as they are read.
        Without `body`: requests, commits and the session's own fields, not the tool
        calls, prompts and compactions (`fill` adds them when the detectors need them)."""
        out: dict[int, Session] = {}
        for r in self._select(
            "SELECT s.id, c.head, c.body, c.requests, s.body_check FROM sessions s "
            "JOIN contents c ON c.id = s.id WHERE s.id IN ({})",
            list(ids),
        ):
            if _checksum(r[1], r[2], r[3]) != r[4]:
                raise IndexCorrupt(f"session entry {r[0]}: stored data does not verify")
            session = decode_session(r[1], r[2] if body else None)
            session.requests = decode_requests(r[3])
            out[r[0]] = session
        return out

    def fill(self, sessions: dict[int, Session]) -> None:
        """Add the tool calls, prompts and compactions to sessions read without them."""
        for r in self._select(
            "SELECT s.id, c.head, c.body, c.requests, s.body_check FROM sessions s "
            "JOIN contents c ON c.id = s.id WHERE s.id IN ({})",
            list(sessions),
        ):
            if _checksum(r[1], r[2], r[3]) != r[4]:
                raise IndexCorrupt(f"session entry {r[0]}: stored data does not verify")
            if r[2] is not None:
                _add_body(sessions[r[0]], r[2])

    def resume_token(self, sid: int) -> bytes | None:
        assert self.db is not None
        row = self.db.execute("SELECT resume FROM contents WHERE id = ?", (sid,)).fetchone()
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
            if (
                wanted.get(r[0]) == r[1]
                and blob[4:]
                and zlib.crc32(blob[4:]) == int.from_bytes(blob[:4], "big")
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

    def heads(self) -> dict[str, tuple[tuple[int, int, int, int], bytes]]:
        """First lines of log files as discovery read them (logfile.first_line's memo)."""
        assert self.db is not None
        out = {}
        for key, value in self.db.execute("SELECT key, value FROM memo WHERE kind = 'head'"):
            state, _, line = bytes(value).partition(b"\n")
            try:
                dev, ino, size, mtime = orjson.loads(state)
            except (orjson.JSONDecodeError, ValueError, TypeError):
                continue
            out[unstored(key)] = ((dev, ino, size, mtime), line + b"\n" if line else line)
        return out

    def put_heads(self, heads: dict[str, tuple[tuple[int, int, int, int], bytes]]) -> None:
        assert self.db is not None
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO memo VALUES ('head', ?, ?)",
                [
                    (storable(path), orjson.dumps(list(state)) + b"\n" + line.rstrip(b"\n"))
                    for path, (state, line) in heads.items()
                ],
            )

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
            "requests": sum(
                int(orjson.loads(r[0])["requests"])
                for r in count("SELECT row FROM sessions").fetchall()
            ),
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


def facts() -> dict[str, Any] | None:
    """Where the index is, whether it exists, its size and what it holds; None when the
    index is disabled (`TOKENTRAIL_NO_CACHE`). Read-only: a missing index is not made."""
    path = index_path()
    if path is None:
        return None
    if not path.exists():
        return {"path": str(path), "exists": False, "bytes": 0, "sessions": 0}
    on_disk = sum(  # before opening it: reading adds a write-ahead log while open
        p.stat().st_size for s in ("", "-wal", "-shm") if (p := Path(f"{path}{s}")).exists()
    )
    index = Index(path)
    try:
        return {"exists": True, **index.info(), "bytes": on_disk}
    finally:
        index.close()


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
        import shutil

        shutil.rmtree(legacy, ignore_errors=True)
        removed.append(str(legacy))
    return removed


def _resolved(cwd: str) -> str:
    path = resolved_cwd(cwd)
    return str(path) if path is not None else ""
