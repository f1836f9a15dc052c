"""Codex rollouts: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`.

Accounting rules (formats.md §2.4): `token_count` events carry cumulative totals and are
re-emitted byte-identical seconds later, so each request is the increase of
`total_token_usage` over the previous distinct total; a total seen before (a re-emission
or a replayed copy) is never counted again, and a total that goes down is a reset and
counts whole (a snapshot where only some other counter went down is garbled, and skipped).
`cached_input_tokens` is part of `input_tokens`, reasoning part of output;
`cache_write_input_tokens` (Codex >= 0.145) is part of input too and is billed as a cache
write. A field a snapshot lacks keeps its previous value (absent is not 0), and a snapshot
whose increase is implausible is skipped without moving the baseline, so the next good
snapshot still counts what really happened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.logfile import (
    MAX_REQUEST_TOKENS,
    MAX_TIME,
    MAX_TOTAL_TOKENS,
    MIN_TIME,
    JsonlReader,
    RecordKinds,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    checkpoint,
    count_or_none,
    display,
    first_line,
    is_live,
    parse_ts,
    regular_state,
    resume,
    text_len,
    tokens,
    walk_files,
)
from tokentrail.model import (
    AgentCommit,
    Compaction,
    Prompt,
    RateLimits,
    RateWindow,
    Request,
    Session,
    SessionRef,
    ToolCall,
    Usage,
    cwd_inside,
    estimate_result_tokens,
)
from tokentrail.toolcalls import (
    branch_switched_to,
    commits_in_output,
    error_line,
    is_git_commit,
    tool_call,
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
# Some published rollouts replace text by "[REDACTED_X len=N sha=...]": N is the real size.
_REDACTED = re.compile(r"^\[REDACTED_\w+ len=(\d{1,10}) sha=[0-9a-f]+\]$")
MAX_PERCENT = 1000.0  # a rate-limit window can be overdrawn, but not by this much
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
    parser_version = "codex/7"  # bump when parse() output changes (cache key)

    def __init__(self) -> None:
        self.skipped: list[str] = []  # entries discovery could not use, "path: why"

    def roots(self) -> list[Path]:
        return [codex_home() / "sessions", codex_home() / "archived_sessions"]

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        seen: set[str] = set()
        for folder in self.roots():
            prefix = len(os.path.join(folder, ""))
            for path in walk_files(folder, "rollout-*.jsonl", self.skipped):
                rel = path[prefix:]
                if rel in seen:  # the live copy wins over the archived one
                    continue
                why, state = regular_state(path)
                if state is None:
                    self.skipped.append(f"{display(path)}: {why}")
                    continue
                seen.add(rel)
                head = first_line(path, state=state) or {}
                payload = as_dict(head.get("payload"))
                cwd = as_str(payload.get("cwd"))
                if repo is not None and not (cwd and cwd_inside(cwd, repo)):
                    continue
                yield SessionRef(
                    agent=AGENT,
                    id=as_str(payload.get("id")) or Path(path).stem,
                    path=Path(path),
                    cwd_hint=cwd,
                    size=state[2],
                    mtime=state[3] / 1e9,
                    states=(state,),
                )

    def parse(self, ref: SessionRef) -> Session:
        return _Parser(ref).run()[0]

    def parse_resumable(
        self, ref: SessionRef, previous: Session | None, token: bytes | None
    ) -> tuple[Session, bytes | None]:
        """`parse`, going on from where a resume point left off when the rollout only grew
        since; a resume point for next time when it may still be growing."""
        keep = is_live(ref.mtime)
        resumed = resume(ref.paths, token) if token else None
        if resumed is None or not isinstance(resumed.parser, _Parser):
            return _Parser(ref).run(keep=keep)
        resumed.parser.ref = ref
        return resumed.parser.run(resumed.offset, resumed.carried, keep=keep)


def _text_size(value: Any) -> tuple[int, str]:
    """Characters a tool output put into the context, and its text (strings or blocks)."""
    if isinstance(value, list):
        text = "\n".join(
            b["text"] for b in value if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    elif isinstance(value, dict):
        inner = value.get("text") if isinstance(value.get("text"), str) else value.get("output")
        text = inner if isinstance(inner, str) else ""
    else:
        text = value if isinstance(value, str) else ""
    redacted = _REDACTED.match(text)
    return (int(redacted.group(1)) if redacted else len(text)), text


def _failed(text: str) -> bool:
    match = _EXIT_CODE.search(text[:2000])
    return bool(match and match.group(1).lstrip("-0"))


def _when(seconds: Any) -> datetime | None:
    """Epoch seconds as a UTC datetime, within the range parse_ts accepts."""
    value = as_float(seconds)
    if value is None:
        return None
    try:
        ts = datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return ts if MIN_TIME <= ts < MAX_TIME else None


def _window(raw: Any, ts: datetime | None) -> RateWindow | None:
    window = as_dict(raw)
    used = as_float(window.get("used_percent"))
    if used is None or not 0 <= used <= MAX_PERCENT:
        return None
    resets = _when(window.get("resets_at", window.get("reset_at")))
    relative = as_float(window.get("resets_in_seconds"))
    if resets is None and relative is not None and ts is not None and 0 <= relative < 1e9:
        resets = ts + timedelta(seconds=relative)
    minutes = as_int(window.get("window_minutes"))
    return RateWindow(used_percent=used, window_minutes=minutes or None, resets_at=resets)


def _same_window(a: RateWindow, b: RateWindow) -> bool:
    """Two reports of one rate-limit window: same length, resetting at the same time (give
    or take ten minutes of rounding); without reset times, usage that did not go down."""
    if a.window_minutes != b.window_minutes:
        return False
    if a.resets_at is not None and b.resets_at is not None:
        return abs((a.resets_at - b.resets_at).total_seconds()) <= 600
    return b.used_percent >= a.used_percent


_INPUT, _TOTAL = FIELDS.index("input_tokens"), FIELDS.index("total_tokens")


def _reset(now: tuple[int, ...], prev: tuple[int, ...]) -> bool:
    """A new running total (a fork, a restart): the input (or overall) count went down."""
    return now[_INPUT] < prev[_INPUT] or now[_TOTAL] < prev[_TOTAL]


class _Parser:
    def __init__(self, ref: SessionRef) -> None:
        self.session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
        self.issues = self.session.issues
        self.ref = ref
        self.model = "unknown"
        self.sent: datetime | None = None  # when the next request was sent: its turn_context's time
        self.cwd: str | None = None
        self.branch: str | None = None
        self.previous: tuple[int, ...] | None = None
        self.seen_totals: set[tuple[int, ...]] = set()
        self.seen_last: set[tuple[Any, ...]] = set()
        self.counted_last: tuple[int, ...] = (0,) * len(FIELDS)  # by single-call events
        self.calls: dict[str, ToolCall] = {}
        self.seen_meta = False
        self.weekly: RateWindow | None = None  # the last weekly-window report
        self.legacy_prompts: list[Prompt] = []  # event_msg/user_message (Codex < 0.148)
        self.item_prompts: list[Prompt] = []  # event_msg/item_completed UserMessage
        self.kinds = RecordKinds(AGENT, KNOWN_RECORD_TYPES)

    def run(
        self, start: int = 0, carried: tuple[int, int, int] = (0, 0, 0), keep: bool = False
    ) -> tuple[Session, bytes | None]:
        """Read the rollout from byte `start` (its reader carrying what an earlier read
        skipped); with `keep`, also a resume point at its last whole line."""
        bad, repaired, oversized = carried
        path = self.ref.path
        reader = JsonlReader(
            path, self.issues, start=start, bad=bad, repaired=repaired, oversized=oversized
        )
        for rec in reader.records():
            self.kinds.see(rec.get("type"))
            try:
                self._record(rec)
            except Exception:  # a shape no accessor foresaw: lose the record, not the session
                self.issues.bad_records += 1
        token = checkpoint((path,), reader, self) if keep else None
        reader.account()
        self.kinds.report(path, self.issues)
        return self._finish(), token

    def _finish(self) -> Session:
        # Builds that write both prompt records say the same thing twice: prefer the new.
        self.session.prompts = self.item_prompts or self.legacy_prompts
        last = max(len(self.session.requests) - 1, 0)
        for call in self.session.tool_calls:  # a call whose answer was never logged
            call.request_index = min(call.request_index, last)
        for commit in self.session.commits:
            commit.request_index = min(commit.request_index, last)
        self.issues.field_warning(display(self.ref.path))
        return self.session

    def _record(self, rec: dict[str, Any]) -> None:
        payload = rec.get("payload")
        if not isinstance(payload, dict):
            return
        kind = rec.get("type")
        ts = parse_ts(rec.get("timestamp"))
        self.session.note_time(ts)
        if kind == "session_meta":
            self._meta(payload)
        elif kind == "turn_context":
            self.sent = ts  # written as a sampling step starts
            self.model = as_str(payload.get("model")) or self.model
            cwd = as_str(payload.get("cwd"))
            if cwd:
                self.cwd = cwd
                self.session.note_place(cwd, None)
        elif kind == "event_msg":
            self._event(payload, ts)
        elif kind == "response_item":
            self._item(payload, ts)
        elif kind == "compacted":
            self.session.compactions.append(
                Compaction(ts, "auto", None, len(self.session.requests))
            )

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

    def _event(self, payload: dict[str, Any], ts: datetime | None) -> None:
        kind = payload.get("type")
        if kind == "token_count":
            step = self._rate_limits(payload.get("rate_limits"), ts)
            made = len(self.session.requests)
            self._token_count(payload, ts)
            if len(self.session.requests) > made:  # the event billed a request: its share
                self.session.requests[-1].limit_pct = step
        elif kind == "user_message":
            self.legacy_prompts.append(Prompt(ts, _text_size(payload.get("message"))[0]))
        elif kind == "item_completed":
            item = as_dict(payload.get("item"))
            if item.get("type") == "UserMessage":
                chars = sum(
                    text_len(part.get("text"))
                    for part in as_list(item.get("content"))
                    if isinstance(part, dict)
                )
                self.item_prompts.append(Prompt(ts, chars))

    def _rate_limits(self, raw: Any, ts: datetime | None) -> float | None:
        """Keep the latest rate-limit usage the agent reported (5-hour and weekly windows);
        the percentage points of the weekly window used since its previous report in the
        same window (None when there is no earlier report in that window)."""
        limits = as_dict(raw)
        primary, secondary = (
            _window(limits.get("primary"), ts),
            _window(limits.get("secondary"), ts),
        )
        step = None
        if secondary is not None:
            last = self.weekly
            if last is not None and _same_window(last, secondary):
                step = max(secondary.used_percent - last.used_percent, 0.0)
            self.weekly = secondary
        if primary is None and secondary is None:
            return None
        current = self.session.rate_limits
        if not (current and current.timestamp and ts and ts < current.timestamp):
            self.session.rate_limits = RateLimits(primary, secondary, ts)  # else: written late
        return step

    def _snapshot(self, raw: dict[str, Any]) -> tuple[int | None, ...]:
        return tuple(count_or_none(raw.get(f), self.issues, MAX_TOTAL_TOKENS) for f in FIELDS)

    def _token_count(self, payload: dict[str, Any], ts: datetime | None) -> None:
        info = payload.get("info")
        if not isinstance(info, dict):
            return
        total = info.get("total_token_usage")
        delta: tuple[int, ...]
        if total is not None and not isinstance(total, dict):
            self.issues.wrong_types += 1  # a garbled running total: the next one covers it
            return
        if isinstance(total, dict):
            raw = self._snapshot(total)
            if all(v is None for v in raw):
                return
            prev = self.previous
            now = tuple(
                (v if v is not None else (prev[i] if prev else 0)) for i, v in enumerate(raw)
            )
            if prev is not None and _reset(now, prev):  # a new running total: nothing carries
                now = tuple(v or 0 for v in raw)
            if now in self.seen_totals:
                if now != prev:
                    self.issues.replayed_events += 1  # a copy of an earlier snapshot
                return
            first = prev is None or _reset(now, prev)
            if prev is not None and not first and any(a < b for a, b in zip(now, prev)):
                # one counter went down while input did not: a garbled snapshot, not a fork
                self.issues.implausible_values += 1
                return
            if prev is None:  # what single-call events counted before is part of this total
                delta = tuple(max(a - b, 0) for a, b in zip(now, self.counted_last))
            elif first:
                delta = now
            else:
                delta = tuple(a - b for a, b in zip(now, prev))
            if any(d > MAX_REQUEST_TOKENS for d in delta):
                self.issues.implausible_values += 1
                if not first:
                    return  # keep the baseline: the next good snapshot counts the increase
                # a file that starts (or restarts) deep into a long session: a baseline,
                # not one request
                self.previous = now
                self.seen_totals.add(now)
                return
            self.previous = now
            self.seen_totals.add(now)
            key = "codex:" + ",".join(map(str, now)) + f"@{ts.isoformat() if ts else ''}"
        else:
            last = info.get("last_token_usage")
            if not isinstance(last, dict) or self.previous is not None:
                return  # once running totals are known, their increases count every call
            delta = tuple(tokens(last.get(f), self.issues) for f in FIELDS)
            identity = (ts, delta)
            if identity in self.seen_last:
                self.issues.replayed_events += 1
                return
            self.seen_last.add(identity)
            self.counted_last = tuple(a + b for a, b in zip(self.counted_last, delta))
            key = "codex-last:" + ",".join(map(str, delta)) + f"@{ts.isoformat() if ts else ''}"
        inp, cached, out, reasoning, _total, cache_write = delta
        if not any(delta):
            return
        cached = min(cached, inp)
        cache_write = min(cache_write, inp - cached)
        self.session.requests.append(
            Request(
                key=key,
                timestamp=ts,
                model=self.model,
                usage=Usage(
                    input=inp - cached - cache_write,
                    cache_read=cached,
                    cache_write_5m=cache_write,
                    output=out,
                    reasoning=min(reasoning, out),
                ),
                branch=self.branch,
                cwd=self.cwd,
                sent=self.sent,
            )
        )

    def _item(self, payload: dict[str, Any], ts: datetime | None) -> None:
        kind = payload.get("type")
        if kind in ("function_call", "custom_tool_call", "local_shell_call"):
            self._call(payload, ts)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self._output(payload, ts)

    def _call(self, payload: dict[str, Any], ts: datetime | None) -> None:
        call_id = as_str(payload.get("call_id"))
        if call_id is None or call_id in self.calls:
            return
        name = as_str(payload.get("name")) or as_str(payload.get("type")) or "?"
        raw = payload.get("arguments", payload.get("input", payload.get("action")))
        args: Any = raw
        if isinstance(raw, str):
            try:
                args = orjson.loads(raw)
            except orjson.JSONDecodeError:
                args = {"input": raw}
        call = tool_call(call_id, name, as_dict(args), len(self.session.requests), ts)
        self.calls[call_id] = call
        self.session.tool_calls.append(call)

    def _output(self, payload: dict[str, Any], ts: datetime | None) -> None:
        call_id = as_str(payload.get("call_id"))
        call = self.calls.get(call_id) if call_id else None
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
