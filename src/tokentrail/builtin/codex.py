"""Codex rollouts: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`.

Accounting rules (formats.md §2.4): `token_count` events carry cumulative totals and are
re-emitted byte-identical seconds later, so each request is the increase of
`total_token_usage` over the previous distinct total; a total that goes down is a reset
and counts whole. `cached_input_tokens` is part of `input_tokens`, reasoning part of output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.logfile import (
    FileMark,
    JsonlReader,
    RecordKinds,
    as_dict,
    as_int,
    as_str,
    first_line,
    list_dir,
    note,
    parse_ts,
)
from tokentrail.model import (
    AgentCommit,
    Compaction,
    ParseIssues,
    Prompt,
    Request,
    Session,
    SessionRef,
    ToolCall,
    Usage,
    cwd_inside,
    estimate_result_tokens,
)
from tokentrail.toolcalls import (
    added_lines,
    branch_switched_to,
    commits_in_output,
    describe_call,
    error_line,
    is_git_commit,
)

AGENT = "codex"
FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
    "cache_write_input_tokens",
)
_EXIT_CODE = re.compile(r"(?:Process exited with code|exit code:?|\"exit_code\":)\s*(-?\d+)", re.I)
RESUME_VERSION = 2
# Some published rollouts replace text by "[REDACTED_X len=N sha=...]": N is the real size.
_REDACTED = re.compile(r"^\[REDACTED_\w+ len=(\d+) sha=[0-9a-f]+\]$")
# Rollout line types this parser knows (formats.md §2.2); anything else is warned as drift.
KNOWN_RECORD_TYPES = frozenset(
    {
        "session_meta",
        "response_item",
        "compacted",
        "turn_context",
        "event_msg",
        "world_state",
        "inter_agent_communication",
        "inter_agent_communication_metadata",
        "security_risk_score",
        "realtime_item",
    }
)


def codex_home() -> Path:
    return Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex").expanduser()


class CodexAdapter:
    name = AGENT
    env_var = "CODEX_HOME"  # moves the logs (tokentrail doctor, missing-folder warning)
    parser_version = "codex/5"  # bump when parse() output changes (cache key)

    def roots(self) -> list[Path]:
        return [codex_home() / "sessions", codex_home() / "archived_sessions"]

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        seen: set[str] = set()
        for folder in self.roots():
            if not note(folder):
                continue
            prefix = len(str(folder)) + 1
            for path in _rollouts(folder):
                rel = str(path)[prefix:]  # path.relative_to(folder), without pathlib's cost
                if rel in seen:  # the live copy wins over the archived one
                    continue
                seen.add(rel)
                head = first_line(path) or {}
                payload = as_dict(head.get("payload"))
                cwd = as_str(payload.get("cwd"))
                if repo is not None and not (cwd and cwd_inside(cwd, repo)):
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                session_id = as_str(payload.get("id"))
                yield SessionRef(
                    agent=AGENT,
                    id=session_id or path.stem,
                    path=path,
                    cwd_hint=cwd,
                    size=st.st_size,
                    mtime=st.st_mtime,
                )

    def parse(self, ref: SessionRef) -> Session:
        return _Parser(ref).run()

    def parse_resumable(
        self, ref: SessionRef, previous: Session | None, token: bytes | None
    ) -> tuple[Session, bytes]:
        """Read only the lines appended since `previous` (parsed with `token`) when the
        rollout only grew; else read it all. The result is the same as `parse`."""
        parser = _Parser.resumed(ref, previous, token) if previous and token else None
        if parser is None:
            parser = _Parser(ref)
        session = parser.run()
        return session, parser.token()


def _rollouts(folder: Path) -> list[Path]:
    """Every `rollout-*.jsonl` under `folder` (not following symlinked folders), sorted."""
    found: list[Path] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            entries = list_dir(current)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("rollout-") and name.endswith(".jsonl"):
                found.append(current / name)
            elif entry.is_dir(follow_symlinks=False):
                pending.append(current / name)
    return sorted(found)


def _text_size(value: Any) -> tuple[int, str]:
    """Characters a tool output put into the context, and its text (strings or blocks)."""
    if isinstance(value, list):
        text = "\n".join(str(b.get("text") or "") for b in value if isinstance(b, dict))
    elif isinstance(value, dict):
        text = str(value.get("text") or value.get("output") or "")
    else:
        text = value if isinstance(value, str) else ""
    redacted = _REDACTED.match(text)
    return (int(redacted.group(1)) if redacted else len(text)), text


def _failed(text: str) -> bool:
    match = _EXIT_CODE.search(text[:2000])
    return bool(match and match.group(1) != "0")


class _Parser:
    def __init__(self, ref: SessionRef) -> None:
        self.session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
        self.ref = ref
        self.model = "unknown"
        self.sent: Any = None  # when the next request was sent: its turn_context's time
        self.cwd: str | None = None
        self.branch: str | None = None
        self.previous: tuple[int, ...] | None = None
        self.calls: dict[str, ToolCall] = {}
        self.seen_meta = False
        self.start, self.bad = 0, 0  # where to read from, garbled lines before that
        self.before: tuple[int, int, list[str]] = (0, 0, [])
        self.reader: JsonlReader | None = None
        self.unclamped: dict[str, list[Any]] = {"calls": [], "commits": []}
        self.kinds = RecordKinds(AGENT, KNOWN_RECORD_TYPES)
        self.last_kinds: list[Any] = [0, 0, {}]  # record types as counted, for a resume

    def run(self) -> Session:
        issues = self.session.issues
        self.before = (issues.bad_lines, issues.truncated_lines, [*issues.warnings])
        reader = self.reader = JsonlReader(
            self.ref.path, issues, start=self.start, count_partial=False, bad=self.bad
        )
        for rec in reader:
            self.kinds.see(rec.get("type"))
            payload = rec.get("payload")
            if not isinstance(payload, dict):
                continue
            kind = rec.get("type")
            ts = parse_ts(rec.get("timestamp"))
            self.session.note_time(ts)
            if kind == "session_meta":
                self._meta(payload)
            elif kind == "turn_context":
                self.sent = ts  # written as a sampling step starts
                if isinstance(payload.get("model"), str):
                    self.model = payload["model"]
                if isinstance(payload.get("cwd"), str):
                    self.cwd = payload["cwd"]
                    self.session.note_place(self.cwd, None)
            elif kind == "event_msg":
                self._event(payload, ts)
            elif kind == "response_item":
                self._item(payload, ts)
            elif kind == "compacted":
                self.session.compactions.append(
                    Compaction(ts, "auto", None, len(self.session.requests))
                )
        if reader.partial:  # counted as read_jsonl counts it
            issues.truncated_lines += 1
            issues.warnings.append(f"{self.ref.path}: skipped a truncated last line")
        kinds = self.kinds
        self.last_kinds = [kinds.lines, kinds.recognised, dict(kinds.unknown)]
        kinds.report(self.ref.path, self.session.issues)
        last = max(len(self.session.requests) - 1, 0)
        for call in self.session.tool_calls:  # a call whose answer was never logged
            if call.request_index > last:
                self.unclamped["calls"].append([call.id, call.request_index])
            call.request_index = min(call.request_index, last)
        for i, commit in enumerate(self.session.commits):
            if commit.request_index > last:
                self.unclamped["commits"].append([i, commit.request_index])
            commit.request_index = min(commit.request_index, last)
        return self.session

    def token(self) -> bytes:
        """What `resumed` needs to go on from here (no log content: totals and offsets)."""
        assert self.reader is not None
        return orjson.dumps(
            {
                "v": RESUME_VERSION,
                "mark": self.reader.mark().to_json(),
                "bad": self.reader.bad,
                "before": self.before,
                "model": self.model,
                "cwd": self.cwd,
                "branch": self.branch,
                "previous": self.previous,
                "seen_meta": self.seen_meta,
                "unclamped": self.unclamped,
                "sent": self.sent.isoformat() if isinstance(self.sent, datetime) else None,
                "kinds": self.last_kinds,
            }
        )

    @classmethod
    def resumed(cls, ref: SessionRef, previous: Session, token: bytes) -> _Parser | None:
        """A parser in the state it was in after reading `previous`, positioned at the end
        of what it read, or None when the rollout changed in any other way than growing."""
        try:
            state = orjson.loads(token)
            if state.get("v") != RESUME_VERSION:
                return None
            mark = FileMark.from_json(state["mark"])
            if mark.path != str(ref.path) or not mark.only_grew():
                return None
            bad, truncated, warnings = state["before"]
            parser = cls(ref)
            session = parser.session = previous
            session.paths = ref.paths
            session.issues = ParseIssues(bad, truncated, list(warnings))
            calls = {c.id: c for c in session.tool_calls}
            for call_id, index in state["unclamped"]["calls"]:
                calls[call_id].request_index = index
            for position, index in state["unclamped"]["commits"]:
                session.commits[position].request_index = index
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
            return None
        parser.calls = calls
        parser.model, parser.cwd, parser.branch = state["model"], state["cwd"], state["branch"]
        parser.previous = tuple(state["previous"]) if state["previous"] is not None else None
        parser.seen_meta = bool(state["seen_meta"])
        parser.start, parser.bad = mark.offset, int(state["bad"])
        try:
            parser.sent = datetime.fromisoformat(state["sent"]) if state["sent"] else None
            lines, recognised, unknown = state["kinds"]
            parser.kinds.lines, parser.kinds.recognised = int(lines), int(recognised)
            parser.kinds.unknown.update(unknown)
        except (KeyError, TypeError, ValueError):
            return None
        return parser

    def _meta(self, payload: dict[str, Any]) -> None:
        if self.seen_meta:  # forks and subagents repeat session_meta; the first one names us
            return
        self.seen_meta = True
        self.branch = as_str(as_dict(payload.get("git")).get("branch"))
        self.cwd = as_str(payload.get("cwd"))
        self.session.note_place(self.cwd, self.branch)
        source = payload.get("source")
        spawn = as_dict(as_dict(as_dict(source).get("subagent")).get("thread_spawn"))
        self.session.parent_id = as_str(spawn.get("parent_thread_id")) or as_str(
            payload.get("parent_thread_id")
        )

    def _event(self, payload: dict[str, Any], ts: Any) -> None:
        kind = payload.get("type")
        if kind == "token_count":
            self._token_count(payload, ts)
        elif kind == "user_message":
            message = payload.get("message")
            self.session.prompts.append(Prompt(ts, _text_size(message)[0]))

    def _token_count(self, payload: dict[str, Any], ts: Any) -> None:
        info = payload.get("info")
        if not isinstance(info, dict):
            return
        total = info.get("total_token_usage")
        delta: tuple[int, ...]
        if isinstance(total, dict):
            now = tuple(as_int(total.get(f)) for f in FIELDS)
            prev = self.previous
            if prev is not None and now == prev:
                return  # a re-emitted snapshot
            if prev is None or any(a < b for a, b in zip(now, prev)):
                delta = now  # first snapshot, or a reset: the whole total is new
            else:
                delta = tuple(a - b for a, b in zip(now, prev))
            self.previous = now
            key = "codex:" + ",".join(map(str, now)) + f"@{ts.isoformat() if ts else ''}"
        else:
            last = info.get("last_token_usage")
            if not isinstance(last, dict):
                return
            delta = tuple(as_int(last.get(f)) for f in FIELDS)
            key = None
        inp, cached, out, reasoning, _total, cache_write = delta
        if not any(delta):
            return
        cached = min(cached, inp)
        self.session.requests.append(
            Request(
                key=key,
                timestamp=ts,
                model=self.model,
                usage=Usage(
                    input=inp - cached - min(cache_write, inp - cached),
                    cache_read=cached,
                    cache_write_5m=min(cache_write, inp - cached),
                    output=out,
                    reasoning=reasoning,
                ),
                branch=self.branch,
                cwd=self.cwd,
                sent=self.sent,
            )
        )

    def _item(self, payload: dict[str, Any], ts: Any) -> None:
        kind = payload.get("type")
        if kind in ("function_call", "custom_tool_call", "local_shell_call"):
            self._call(payload, ts)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self._output(payload, ts)

    def _call(self, payload: dict[str, Any], ts: Any) -> None:
        call_id = payload.get("call_id")
        if not isinstance(call_id, str) or call_id in self.calls:
            return
        name = str(payload.get("name") or payload.get("type"))
        raw = payload.get("arguments", payload.get("input", payload.get("action")))
        args: Any = raw
        if isinstance(raw, str):
            try:
                args = orjson.loads(raw)
            except orjson.JSONDecodeError:
                args = {"input": raw}
        if not isinstance(args, dict):
            args = {}
        summary, command, files, writes = describe_call(name, args)
        call = ToolCall(
            id=call_id,
            name=name,
            request_index=len(self.session.requests),
            timestamp=ts,
            summary=summary,
            command=command,
            files=files,
            writes=writes,
            added=added_lines(name, args) if writes else (),
        )
        self.calls[call_id] = call
        self.session.tool_calls.append(call)

    def _output(self, payload: dict[str, Any], ts: Any) -> None:
        call = self.calls.get(str(payload.get("call_id")))
        if call is None:
            return
        size, text = _text_size(payload.get("output"))
        call.result_chars = size
        call.result_tokens = estimate_result_tokens(size)
        call.is_error = _failed(text)
        if call.is_error:
            call.error_head = error_line(text)
        moved_to = branch_switched_to(call.command, text)
        if is_git_commit(call.command):
            for branch, sha in commits_in_output(text):
                self.session.commits.append(
                    AgentCommit(
                        sha=sha,
                        branch=branch,
                        timestamp=ts,
                        request_index=call.request_index,
                        tool_call_id=call.id,
                    )
                )
                moved_to = branch  # `[x 1a2b3c4] subject`: the commit went on x
        if moved_to is not None and moved_to != self.branch:
            # session_meta names the branch once, at the start; the agent's own switch and
            # commit lines say where the requests after them work
            self.branch = moved_to
            self.session.note_place(self.cwd, self.branch)


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    register(CodexAdapter())
