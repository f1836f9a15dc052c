"""The local store (`tokentrail log`, `tokentrail import`) read back as sessions.

One session file per agent and session id under `<data dir>/sessions/<agent>/`. A key is
counted once per session (re-imports and retried writes). A session that has per-request
OpenTelemetry events never also counts the metric totals of the same export (the same
usage twice); metrics stand in only where no event was exported.

Imports of Claude Code or Codex telemetry carry those agents' names and session ids; when
the agent's own log of the same session is on this machine the log wins (`secondary`), so
a session is never counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.logfile import (
    RecordKinds,
    as_float,
    as_int,
    as_str,
    first_line,
    parse_ts,
    read_jsonl,
)
from tokentrail.model import (
    AgentCommit,
    Request,
    Session,
    SessionRef,
    ToolCall,
    Usage,
    estimate_result_tokens,
)
from tokentrail.store import RECORD_KINDS, STORE_VERSION, sessions_root
from tokentrail.toolcalls import SUMMARY_LIMIT

NAME = "local-store"
METRICS_SOURCE = "otel-metrics"


class LocalStoreAdapter:
    name = NAME
    parser_version = "local-store/1"  # bump when parse() output changes (cache key)
    secondary = True  # the agent's own log of the same session wins

    def roots(self) -> list[Path]:
        return [sessions_root()]

    def agents(self) -> list[str]:
        """The agents that have sessions in the store (custom names included)."""
        try:
            return sorted(p.name for p in sessions_root().iterdir() if p.is_dir())
        except OSError:
            return []

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        # A session's calls may come from several folders, so every file is listed; the
        # files are small and their parses are cached.
        for agent in self.agents():
            for path in sorted((sessions_root() / agent).glob("*.jsonl")):
                head = first_line(path) or {}
                try:
                    st = path.stat()
                except OSError:
                    continue
                yield SessionRef(
                    agent=agent,
                    id=as_str(head.get("session")) or path.stem,
                    path=path,
                    cwd_hint=as_str(head.get("cwd")),
                    size=st.st_size,
                    mtime=st.st_mtime,
                )

    def parse(self, ref: SessionRef) -> Session:
        session = Session(agent=ref.agent, id=ref.id, paths=ref.paths)
        kinds = RecordKinds(NAME, RECORD_KINDS)
        records: list[tuple[datetime | None, int, dict[str, Any]]] = []
        seen: set[str] = set()
        for number, rec in enumerate(read_jsonl(ref.path, session.issues)):
            if rec.get("v") != STORE_VERSION or not kinds.see(rec.get("kind")):
                continue
            key = as_str(rec.get("key"))
            if key is None or key in seen:
                continue
            seen.add(key)
            records.append((parse_ts(rec.get("ts")), number, rec))
        kinds.report(ref.path, session.issues)
        if any(r["kind"] == "call" and r.get("source") == "otel" for _, _, r in records):
            records = [t for t in records if t[2].get("source") != METRICS_SOURCE]
        _build(session, _in_time_order(records))
        return session


def _in_time_order(
    records: list[tuple[datetime | None, int, dict[str, Any]]],
) -> list[tuple[datetime | None, dict[str, Any]]]:
    """Records sorted by time (imports may arrive out of order); a record without a time
    keeps its place after the record before it."""
    keyed = []
    last: datetime | None = None
    for ts, number, rec in records:
        last = ts or last
        keyed.append((last, number, ts, rec))
    keyed.sort(key=lambda t: (t[0] is not None, t[0] or datetime.min, t[1]))
    return [(ts, rec) for _, _, ts, rec in keyed]


def _usage(rec: dict[str, Any]) -> Usage:
    write = as_int(rec.get("cache_write_tokens"))
    write_1h = min(as_int(rec.get("cache_write_1h_tokens")), write)
    output = as_int(rec.get("output_tokens"))
    return Usage(
        input=as_int(rec.get("input_tokens")),
        cache_read=as_int(rec.get("cache_read_tokens")),
        cache_write_5m=write - write_1h,
        cache_write_1h=write_1h,
        output=output,
        reasoning=min(as_int(rec.get("reasoning_tokens")), output),
    )


def _build(session: Session, records: list[tuple[datetime | None, dict[str, Any]]]) -> None:
    tool_ids: dict[str, ToolCall] = {}
    for ts, rec in records:
        kind = rec["kind"]
        cwd, branch = as_str(rec.get("cwd")), as_str(rec.get("branch"))
        session.note_time(ts)
        session.note_place(cwd, branch)
        if kind == "call":
            session.requests.append(
                Request(
                    key=str(rec["key"]),
                    timestamp=ts,
                    model=as_str(rec.get("model")) or "unknown",
                    usage=_usage(rec),
                    branch=branch,
                    cwd=cwd,
                    provider=as_str(rec.get("provider")),
                    agent_cost_usd=as_float(rec.get("cost_usd")),
                )
            )
            continue
        index = max(len(session.requests) - 1, 0)  # the call that asked for it came before
        if kind == "tool":
            files = rec.get("files")
            call = ToolCall(
                id=str(rec["key"]),
                name=as_str(rec.get("name")) or "?",
                request_index=index,
                timestamp=ts,
                summary=(as_str(rec.get("summary")) or "")[:SUMMARY_LIMIT],
                command=as_str(rec.get("command")),
                files=tuple(str(f) for f in files if isinstance(f, str))
                if isinstance(files, list)
                else (),
                result_chars=as_int(rec.get("result_chars")),
                result_tokens=as_int(rec.get("result_tokens"))
                or estimate_result_tokens(as_int(rec.get("result_chars"))),
                is_error=rec.get("is_error") is True,
                error_head=(as_str(rec.get("error_head")) or "")[:160],
                writes=rec.get("writes") is True,
            )
            session.tool_calls.append(call)
            tool_ids[call.id] = call
        elif kind == "commit":
            sha, commit_branch = as_str(rec.get("sha")), as_str(rec.get("branch"))
            if sha and commit_branch:
                tool = tool_ids.get(str(rec.get("tool")))
                session.commits.append(
                    AgentCommit(
                        sha=sha,
                        branch=commit_branch,
                        timestamp=ts,
                        request_index=tool.request_index if tool else index,
                        tool_call_id=tool.id if tool else str(rec["key"]),
                    )
                )


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    register(LocalStoreAdapter())
