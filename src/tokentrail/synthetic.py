"""Deterministic writers of realistic Claude Code and Codex logs.

The demo, the benchmark and tests need logs that look like the real thing (formats.md
§1.2-1.6 and §2.3-2.4), including every trap a parser can fall into: split response
lines that repeat `usage`, subagent usage copied into `progress` records, Codex
`token_count` snapshots re-emitted seconds later. Each writer returns the totals a correct
parser must find, so tests can compare the CLI's output against what was written.

Everything is seeded: the same arguments write byte-identical files.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from tokentrail.builtin.claude_code import project_slug
from tokentrail.model import estimate_result_tokens

CLAUDE_VERSION = "2.1.39"
CODEX_VERSION = "0.104.0"
OPUS = "claude-opus-4-6"
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
GPT_CODEX = "gpt-5.3-codex"
# Cache entries live 5 minutes unless written with the 1-hour TTL.
CACHE_5M = timedelta(minutes=5)

# --- the script a session follows ---------------------------------------------------------
# Call events each cost one main-thread API request; the others shape what happens before
# the next request.


@dataclass(frozen=True)
class Bash:
    """A shell command; `output` is printed verbatim, else `output_chars` of filler."""

    command: str
    output: str | None = None
    output_chars: int = 800
    exit_code: int = 0


@dataclass(frozen=True)
class Read:
    path: str
    chars: int = 4000


@dataclass(frozen=True)
class Edit:
    path: str


@dataclass(frozen=True)
class Commit:
    """`git commit` run by the agent; git prints `[<branch> <sha7>] <subject>`."""

    sha: str
    subject: str


@dataclass(frozen=True)
class Task:
    """A subagent (Task tool) making `requests` calls in its own file."""

    description: str = "Explore the codebase"
    requests: int = 4
    model: str = HAIKU


@dataclass(frozen=True)
class Reply:
    """A text-only answer that ends the turn."""

    chars: int = 600


@dataclass(frozen=True)
class UserPrompt:
    text: str


@dataclass(frozen=True)
class Idle:
    """The user walks away: the next request comes `minutes` later (cache expired)."""

    minutes: float


@dataclass(frozen=True)
class Compact:
    """Auto-compaction: a summarising call, then a fresh, small context."""

    trigger: str = "auto"


@dataclass(frozen=True)
class Filler:
    """`count` ordinary calls (Read, Grep, Bash, Edit, Glob) chosen by the seed."""

    count: int


Event = Bash | Read | Edit | Commit | Task | Reply | UserPrompt | Idle | Compact | Filler
CALL_EVENTS = (Bash, Read, Edit, Commit, Task, Reply)


def call_times(script: Sequence[Event], start: datetime, spacing: timedelta) -> list[datetime]:
    """When each main-thread call of `script` happens (what the writer will log).

    Call k is at `start + k * spacing`, pushed back by every `Idle` before it; callers use
    this to line up git commits with the log (the demo does).
    """
    times: list[datetime] = []
    extra = timedelta()
    for event in script:
        if isinstance(event, Idle):
            extra += timedelta(minutes=event.minutes)
        elif isinstance(event, Filler):
            for _ in range(event.count):
                times.append(start + len(times) * spacing + extra)
        elif isinstance(event, CALL_EVENTS):
            times.append(start + len(times) * spacing + extra)
    return times


# --- what was written ---------------------------------------------------------------------


@dataclass
class Totals:
    """Tokens by kind after dedup, named like `figures.totals`."""

    requests: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, other: Totals) -> None:
        for name, value in other.as_dict().items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class WrittenSession:
    agent: str
    id: str
    paths: list[Path]
    cwd: str
    branch: str
    start: datetime
    end: datetime
    totals: Totals
    models: dict[str, int] = field(default_factory=dict)  # requests per model
    commits: list[str] = field(default_factory=list)  # sha7 printed by the agent's commits
    subagents: list[str] = field(default_factory=list)
    lines: int = 0
    bytes: int = 0


# --- small deterministic helpers -------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits
_WORDS = [
    "retry",
    "backoff",
    "client",
    "request",
    "session",
    "token",
    "cache",
    "config",
    "parse",
    "render",
    "value",
    "result",
    "error",
    "handler",
    "timeout",
    "attempt",
    "policy",
    "jitter",
    "limit",
    "queue",
    "worker",
    "batch",
    "stream",
    "buffer",
    "logger",
    "metrics",
    "branch",
    "commit",
    "report",
    "schema",
    "record",
    "field",
    "index",
]
_PATHS = [
    "src/app/client.py",
    "src/app/retry.py",
    "src/app/config.py",
    "src/app/models.py",
    "src/app/handlers.py",
    "tests/test_client.py",
    "tests/test_retry.py",
    "README.md",
    "pyproject.toml",
    "src/app/__init__.py",
    "src/app/cli.py",
    "docs/usage.md",
]
_COMMANDS = (
    "pytest -q",
    "ruff check src tests",
    "git status",
    "git diff --stat",
    "ls -la src/app",
    "python -m mypy src",
    "rg -n 'def retry' src",
    "git log --oneline -5",
)


@lru_cache(maxsize=1)
def _filler_text() -> str:
    """~256 KB of code-like lines built once from a fixed seed; results are slices of it."""
    rng = random.Random(20260301)
    lines = []
    size = 0
    while size < 1 << 18:
        indent = " " * (4 * rng.randint(0, 3))
        words = rng.choices(_WORDS, k=rng.randint(2, 9))
        kind = rng.random()
        if kind < 0.2:
            line = f"{indent}def {'_'.join(words[:3])}(self, {words[-1]}: int) -> None:"
        elif kind < 0.4:
            line = f"{indent}{words[0]} = {words[1]}.{'_'.join(words[2:4])}({words[-1]!r})"
        elif kind < 0.5:
            line = f"{indent}# {' '.join(words)}"
        else:
            line = f"{indent}return {' + '.join(words[:4])}"
        lines.append(line)
        size += len(line) + 1
    text = "\n".join(lines)
    return text + "\n" + text  # slices may wrap


def _chunk(rng: random.Random, chars: int) -> str:
    text = _filler_text()
    chars = max(0, min(chars, len(text) // 2))
    start = rng.randrange(0, len(text) // 2)
    return text[start : start + chars]


def _rand(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(_ALNUM, k=n))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ts.microsecond // 1000:03d}Z"
    )


def _dump(rec: dict[str, Any]) -> bytes:
    return orjson.dumps(rec) + b"\n"


def _expand(script: Sequence[Event], rng: random.Random, cwd: str) -> Iterator[Event]:
    """Replace `Filler` by concrete calls."""
    for event in script:
        if not isinstance(event, Filler):
            yield event
            continue
        for _ in range(event.count):
            roll = rng.random()
            path = rng.choice(_PATHS)
            if roll < 0.40:
                yield Read(f"{cwd}/{path}", chars=int(rng.lognormvariate(8.0, 0.7)))
            elif roll < 0.70:
                yield Bash(
                    rng.choice(_COMMANDS),
                    output_chars=int(rng.lognormvariate(7.0, 1.0)),
                    exit_code=1 if rng.random() < 0.08 else 0,
                )
            elif roll < 0.88:
                yield Edit(f"{cwd}/{path}")
            else:
                yield Reply(chars=rng.randint(200, 1500))


# --- Claude Code ---------------------------------------------------------------------------


@dataclass
class _Usage:
    input: int
    cache_read: int
    cache_write: int
    output: int
    one_hour: bool

    def raw(self, output: int) -> dict[str, Any]:
        five, hour = (0, self.cache_write) if self.one_hour else (self.cache_write, 0)
        return {
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": five,
                "ephemeral_1h_input_tokens": hour,
            },
            "output_tokens": output,
            "service_tier": "standard",
            "inference_geo": "global",
        }

    def totals(self) -> Totals:
        return Totals(
            requests=1,
            input_tokens=self.input,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            cache_write_1h_tokens=self.cache_write if self.one_hour else 0,
            output_tokens=self.output,
        )


class _ClaudeFile:
    """One JSONL file being written: envelope fields and the uuid chain."""

    def __init__(
        self,
        path: Path,
        session_id: str,
        cwd: str,
        branch: str,
        slug: str,
        rng: random.Random,
        agent_id: str | None = None,
    ) -> None:
        self.path = path
        self.rng = rng
        self.agent_id = agent_id
        self.parent: str | None = None
        self.base: dict[str, Any] = {
            "parentUuid": None,
            "isSidechain": agent_id is not None,
            "userType": "external",
            "cwd": cwd,
            "sessionId": session_id,
            "version": CLAUDE_VERSION,
            "gitBranch": branch,
        }
        if agent_id:
            self.base["agentId"] = agent_id
        else:
            self.base["slug"] = slug
        self.out: list[bytes] = []
        self.last: datetime | None = None  # latest record a parser reads (not progress)

    def record(self, kind: str, ts: datetime, body: dict[str, Any], chain: bool = True) -> str:
        uid = _uuid(self.rng)
        rec = {**self.base, "parentUuid": self.parent, "type": kind, **body}
        rec["uuid"] = uid
        rec["timestamp"] = _iso(ts)
        self.out.append(_dump(rec))
        if kind != "progress" and (self.last is None or ts > self.last):
            self.last = ts
        if chain:
            self.parent = uid
        return uid

    def progress(
        self, ts: datetime, data: dict[str, Any], tool_use_id: str, parent_id: str
    ) -> None:
        self.record(
            "progress",
            ts,
            {"data": data, "toolUseID": tool_use_id, "parentToolUseID": parent_id},
        )

    def raw(self, rec: dict[str, Any]) -> None:
        self.out.append(_dump(rec))

    def flush(self) -> tuple[int, int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(self.out)
        self.path.write_bytes(data)
        return len(self.out), len(data)


class _ClaudeWriter:
    def __init__(
        self,
        claude_dir: Path,
        cwd: str,
        branch: str,
        start: datetime,
        spacing: timedelta,
        model: str,
        seed: int | str,
        cache_ttl: str,
        progress: bool,
        placeholder_bug: float,
    ) -> None:
        self.rng = random.Random(f"claude|{seed}|{start.isoformat()}")
        self.session_id = _uuid(self.rng)
        self.cwd = cwd
        self.branch = branch
        self.start = start
        self.spacing = spacing
        self.model = model
        self.one_hour = cache_ttl == "1h"
        self.with_progress = progress
        self.placeholder_bug = placeholder_bug
        self.folder = claude_dir / "projects" / project_slug(cwd)
        nickname = "-".join(self.rng.choices(_WORDS, k=3))
        self.main = _ClaudeFile(
            self.folder / f"{self.session_id}.jsonl",
            self.session_id,
            cwd,
            branch,
            nickname,
            self.rng,
        )
        self.nickname = nickname
        self.files = [self.main]
        self.totals = Totals()
        self.models: dict[str, int] = {}
        self.commits: list[str] = []
        self.subagents: list[str] = []
        self.context = 0  # tokens cached so far in the main thread
        self.pending = 0  # tokens added since the last request (results, prompts)
        self.last_output = 0
        self.cold = True  # next request writes the whole context (start, idle, compaction)
        self.end = start

    # usage of one request: context grows, the new part is written to the cache
    def _usage(self, output: int, state: dict[str, int], fresh: int) -> _Usage:
        new = state["pending"] + state["last_output"]
        if state["cold"]:
            cache_read = self.rng.choice((0, 11442)) if state["context"] == 0 else 0
            cache_write = max(fresh, state["context"] + new - cache_read)
        else:
            cache_read = state["context"]
            cache_write = max(new, 1)
        state["context"] = cache_read + cache_write
        state["pending"] = 0
        state["last_output"] = output
        state["cold"] = 0
        return _Usage(self.rng.randint(1, 3), cache_read, cache_write, output, self.one_hour)

    def _count(self, usage: _Usage, model: str) -> None:
        self.totals.add(usage.totals())
        self.models[model] = self.models.get(model, 0) + 1

    def _response(
        self,
        f: _ClaudeFile,
        ts: datetime,
        model: str,
        blocks: list[dict[str, Any]],
        usage: _Usage,
        mirror: _ClaudeFile | None = None,
        mirror_ids: tuple[str, str] | None = None,
    ) -> list[str]:
        """One API response, one line per content block, each repeating usage; the
        placeholder output count on all lines but the last (unless the upstream bug hits,
        then the last one is a placeholder too and that is what gets counted)."""
        message_id = "msg_01" + _rand(self.rng, 22)
        request_id = "req_011C" + _rand(self.rng, 20)
        placeholder = self.rng.randint(1, 12)
        if self.rng.random() < self.placeholder_bug:
            usage.output = placeholder
        uids = []
        for i, block in enumerate(blocks):
            last = i == len(blocks) - 1
            message = {
                "model": model,
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": "tool_use" if last and block["type"] == "tool_use" else None,
                "stop_sequence": None,
                "usage": usage.raw(usage.output if last else placeholder),
            }
            line_ts = ts + timedelta(milliseconds=900 * i + self.rng.randint(0, 400))
            uids.append(
                f.record("assistant", line_ts, {"message": message, "requestId": request_id})
            )
            if mirror is not None and mirror_ids is not None:
                # the trap: the parent file carries a copy of the subagent's usage
                mirror.progress(
                    line_ts,
                    {
                        "message": {
                            "type": "assistant",
                            "timestamp": _iso(line_ts),
                            "message": {**message, "context_management": None},
                            "requestId": request_id,
                            "uuid": uids[-1],
                        },
                        "normalizedMessages": [],
                        "type": "agent_progress",
                        "prompt": "",
                        "agentId": f.agent_id,
                    },
                    mirror_ids[0],
                    mirror_ids[1],
                )
        self._count(usage, model)
        return uids

    def _hooks(self, f: _ClaudeFile, ts: datetime, event: str, tool: str, tool_id: str) -> None:
        if not self.with_progress:
            return
        for script in ("pre-tool-capture.sh", "guard.sh")[: 1 + self.rng.randint(0, 1)]:
            f.progress(
                ts,
                {
                    "type": "hook_progress",
                    "hookEvent": event,
                    "hookName": f"{event}:{tool}",
                    "command": f"${{CLAUDE_PLUGIN_ROOT}}/scripts/{script}",
                },
                tool_id,
                tool_id,
            )

    def _prefix_blocks(self, rng: random.Random) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if rng.random() < 0.5:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": _chunk(rng, rng.randint(80, 600)),
                    "signature": _rand(rng, 64),
                }
            )
        if rng.random() < 0.5:
            blocks.append({"type": "text", "text": _chunk(rng, rng.randint(40, 300))})
        return blocks

    def _tool(
        self, event: Event, ts: datetime
    ) -> tuple[dict[str, Any], str, dict[str, Any] | str | None, bool]:
        """(tool_use block, result text, toolUseResult, is_error) for a call event."""
        rng = self.rng
        tool_id = "toolu_01" + _rand(rng, 22)
        if isinstance(event, Commit):
            msg = f"git add -A && git commit -m {event.subject!r}"
            out = (
                f"[{self.branch} {event.sha[:7]}] {event.subject}\n"
                f" {rng.randint(1, 5)} files changed, {rng.randint(5, 120)} insertions(+), "
                f"{rng.randint(0, 30)} deletions(-)"
            )
            self.commits.append(event.sha[:7])
            event = Bash(msg, output=out)
        if isinstance(event, Bash):
            text = event.output if event.output is not None else _chunk(rng, event.output_chars)
            block = {
                "type": "tool_use",
                "id": tool_id,
                "name": "Bash",
                "input": {"command": event.command, "description": f"Run {event.command[:40]}"},
            }
            if event.exit_code:
                text = f"Exit code {event.exit_code}\n{text}"
                return block, text, f"Error: {text[:200]}", True
            result = {
                "stdout": text,
                "stderr": "",
                "interrupted": False,
                "isImage": False,
                "noOutputExpected": False,
            }
            return block, text, result, False
        if isinstance(event, Read):
            content = _chunk(rng, event.chars)
            block = {
                "type": "tool_use",
                "id": tool_id,
                "name": "Read",
                "input": {"file_path": event.path},
            }
            lines = content.count("\n") + 1
            result = {
                "type": "text",
                "file": {
                    "filePath": event.path,
                    "content": content,
                    "numLines": lines,
                    "startLine": 1,
                    "totalLines": lines,
                },
            }
            return block, content, result, False
        if isinstance(event, Edit):
            old, new = _chunk(rng, rng.randint(40, 200)), _chunk(rng, rng.randint(40, 300))
            block = {
                "type": "tool_use",
                "id": tool_id,
                "name": "Edit",
                "input": {"file_path": event.path, "old_string": old, "new_string": new},
            }
            text = f"The file {event.path} has been updated."
            result = {"filePath": event.path, "oldString": old, "newString": new}
            return block, text, result, False
        raise TypeError(event)

    def write(self, script: Sequence[Event]) -> WrittenSession:
        rng = self.rng
        f = self.main
        times = call_times(script, self.start, self.spacing)
        state = {"context": 0, "pending": 0, "last_output": 0, "cold": 1}
        f.raw(
            {
                "type": "file-history-snapshot",
                "messageId": _uuid(rng),
                "snapshot": {
                    "messageId": _uuid(rng),
                    "trackedFileBackups": {},
                    "timestamp": _iso(self.start),
                },
                "isSnapshotUpdate": False,
            }
        )
        if self.with_progress:
            hook_id = _uuid(rng)
            f.progress(
                self.start - timedelta(seconds=2),
                {
                    "type": "hook_progress",
                    "hookEvent": "SessionStart",
                    "hookName": "SessionStart:startup",
                    "command": "${CLAUDE_PLUGIN_ROOT}/scripts/session-start.sh",
                },
                hook_id,
                hook_id,
            )
        call = 0
        prompted = False
        last_ts = self.start
        for event in _expand(script, rng, self.cwd):
            if isinstance(event, Idle):
                if event.minutes * 60 > (3600 if self.one_hour else CACHE_5M.total_seconds()):
                    state["cold"] = 1
                continue
            if isinstance(event, UserPrompt):
                ts = (times[call] if call < len(times) else last_ts) - timedelta(seconds=1)
                f.record("user", ts, {"message": {"role": "user", "content": event.text}})
                state["pending"] += len(event.text) // 4 + 5
                prompted = True
                continue
            if isinstance(event, Compact):
                self._compact(event, last_ts + timedelta(seconds=2), state)
                continue
            if not prompted:  # every session starts with something typed
                text = f"Please work on the {rng.choice(_WORDS)} {rng.choice(_WORDS)} code."
                f.record(
                    "user",
                    self.start - timedelta(seconds=1),
                    {"message": {"role": "user", "content": text}},
                )
                prompted = True
            ts = times[call]
            call += 1
            last_ts = ts
            fresh = 15000 + rng.randint(0, 4000)
            blocks = self._prefix_blocks(rng)
            if isinstance(event, Reply):
                blocks.append({"type": "text", "text": _chunk(rng, event.chars)})
                usage = self._usage(max(40, event.chars // 3), state, fresh)
                self._response(f, ts, self.model, blocks, usage)
                continue
            if isinstance(event, Task):
                self._task(event, ts, blocks, state, fresh)
                continue
            tool_block, text, result, is_error = self._tool(event, ts)
            blocks.append(tool_block)
            output = rng.randint(60, 700) + sum(len(str(b)) for b in blocks) // 4
            usage = self._usage(output, state, fresh)
            uids = self._response(f, ts, self.model, blocks, usage)
            tool_id = tool_block["id"]
            self._hooks(f, ts + timedelta(seconds=3), "PreToolUse", tool_block["name"], tool_id)
            result_ts = ts + timedelta(seconds=4 + rng.randint(0, 3))
            self._hooks(f, result_ts, "PostToolUse", tool_block["name"], tool_id)
            f.parent = uids[-1]
            body: dict[str, Any] = {
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": tool_id,
                            "type": "tool_result",
                            "content": text,
                            "is_error": is_error,
                        }
                    ],
                },
            }
            if result is not None:
                body["toolUseResult"] = result
            body["sourceToolAssistantUUID"] = uids[-1]
            f.record("user", result_ts, body)
            state["pending"] += estimate_result_tokens(len(text))
            self.end = max(self.end, result_ts)
        lines = size = 0
        for file in self.files:
            n, b = file.flush()
            lines += n
            size += b
        self.end = max(x.last for x in self.files if x.last is not None)
        return WrittenSession(
            agent="claude-code",
            id=self.session_id,
            paths=[x.path for x in self.files],
            cwd=self.cwd,
            branch=self.branch,
            start=self.start - timedelta(seconds=1),
            end=self.end,
            totals=self.totals,
            models=self.models,
            commits=self.commits,
            subagents=self.subagents,
            lines=lines,
            bytes=size,
        )

    def _subfile(self, agent_id: str) -> _ClaudeFile:
        sub = _ClaudeFile(
            self.folder / self.session_id / "subagents" / f"agent-{agent_id}.jsonl",
            self.session_id,
            self.cwd,
            self.branch,
            self.nickname,
            self.rng,
            agent_id=agent_id,
        )
        self.files.append(sub)
        self.subagents.append(agent_id)
        return sub

    def _task(
        self,
        event: Task,
        ts: datetime,
        blocks: list[dict[str, Any]],
        state: dict[str, int],
        fresh: int,
    ) -> None:
        rng = self.rng
        f = self.main
        tool_id = "toolu_01" + _rand(rng, 22)
        prompt = f"{event.description}: find where {rng.choice(_WORDS)} is handled."
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id,
                "name": "Task",
                "input": {
                    "subagent_type": "Explore",
                    "description": event.description,
                    "prompt": prompt,
                    "model": "haiku",
                },
            }
        )
        usage = self._usage(rng.randint(80, 300), state, fresh)
        uids = self._response(f, ts, self.model, blocks, usage)
        agent_id = "a" + "".join(rng.choices("0123456789abcdef", k=6))
        sub = self._subfile(agent_id)
        t = ts + timedelta(seconds=2)
        sub.record("user", t, {"message": {"role": "user", "content": prompt}})
        sub_state = {"context": 0, "pending": 0, "last_output": 0, "cold": 1}
        step = min(
            timedelta(seconds=8), (self.spacing - timedelta(seconds=12)) / max(1, event.requests)
        )
        step = max(step, timedelta(milliseconds=500))
        last_usage: _Usage | None = None
        for j in range(event.requests):
            t = ts + timedelta(seconds=3) + step * j
            if j == event.requests - 1:
                sub_blocks: list[dict[str, Any]] = [
                    {"type": "text", "text": _chunk(rng, rng.randint(400, 2000))}
                ]
                sub_usage = self._usage(rng.randint(200, 900), sub_state, 13000)
                self._response(
                    sub, t, event.model, sub_blocks, sub_usage, f, (f"agent_msg_{tool_id}", tool_id)
                )
                last_usage = sub_usage
                break
            path = f"{self.cwd}/{rng.choice(_PATHS)}"
            read_id = "toolu_01" + _rand(rng, 22)
            sub_blocks = [
                {"type": "tool_use", "id": read_id, "name": "Read", "input": {"file_path": path}}
            ]
            sub_usage = self._usage(rng.randint(40, 200), sub_state, 13000)
            sub_uids = self._response(
                sub, t, event.model, sub_blocks, sub_usage, f, (f"agent_msg_{tool_id}", tool_id)
            )
            content = _chunk(rng, rng.randint(800, 5000))
            sub.parent = sub_uids[-1]
            sub.record(
                "user",
                t + timedelta(milliseconds=300),
                {
                    "message": {
                        "role": "user",
                        "content": [
                            {"tool_use_id": read_id, "type": "tool_result", "content": content}
                        ],
                    }
                },
            )
            sub_state["pending"] += estimate_result_tokens(len(content))
            last_usage = sub_usage
        report = _chunk(rng, rng.randint(800, 3000))
        done = ts + timedelta(seconds=4) + step * event.requests
        f.parent = uids[-1]
        f.record(
            "user",
            done,
            {
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": tool_id,
                            "type": "tool_result",
                            "content": [{"type": "text", "text": report}],
                        }
                    ],
                },
                "toolUseResult": {
                    "status": "completed",
                    "prompt": prompt,
                    "agentId": agent_id,
                    "content": [{"type": "text", "text": report}],
                    "totalDurationMs": int((done - ts).total_seconds() * 1000),
                    "totalTokens": 0,
                    "totalToolUseCount": event.requests - 1,
                    # a copy of the subagent's last call: must not be counted again
                    "usage": last_usage.raw(last_usage.output) if last_usage else {},
                },
            },
        )
        state["pending"] += estimate_result_tokens(len(report))
        self.end = max(self.end, done)

    def _compact(self, event: Compact, ts: datetime, state: dict[str, int]) -> None:
        rng = self.rng
        f = self.main
        agent_id = "acompact-" + "".join(rng.choices("0123456789abcdef", k=6))
        sub = self._subfile(agent_id)
        sub.record(
            "user", ts, {"message": {"role": "user", "content": "Summarise the conversation."}}
        )
        pre = state["context"] + state["pending"] + state["last_output"]
        usage = _Usage(
            3, state["context"], max(1, pre - state["context"]), rng.randint(6, 8), self.one_hour
        )
        self._response(
            sub,
            ts + timedelta(seconds=1),
            self.model,
            [{"type": "text", "text": _chunk(rng, 3000)}],
            usage,
        )
        boundary = f.parent
        f.parent = None
        f.record(
            "system",
            ts + timedelta(seconds=30),
            {
                "logicalParentUuid": boundary,
                "subtype": "compact_boundary",
                "content": "Conversation compacted",
                "isMeta": False,
                "level": "info",
                "compactMetadata": {"trigger": event.trigger, "preTokens": pre},
            },
        )
        f.record(
            "user",
            ts + timedelta(seconds=30),
            {
                "message": {"role": "user", "content": "Summary: " + _chunk(rng, 4000)},
                "isCompactSummary": True,
                "isVisibleInTranscriptOnly": True,
            },
        )
        state.update(context=0, pending=18000, last_output=0, cold=1)
        self.end = max(self.end, ts + timedelta(seconds=30))


def write_claude_session(
    claude_dir: Path,
    cwd: str | Path,
    *,
    branch: str = "main",
    start: datetime,
    spacing: timedelta = timedelta(seconds=45),
    requests: int = 12,
    model: str = OPUS,
    seed: int | str = 0,
    events: Sequence[Event] | None = None,
    cache_ttl: str = "5m",
    progress: bool = True,
    placeholder_bug: float = 0.0,
) -> WrittenSession:
    """Write one Claude Code session (and its subagent files) under `claude_dir/projects/`.

    `events` is the script; without it the session is a prompt, `requests - 1` ordinary
    calls and a closing reply. `placeholder_bug` is the share of calls whose last line
    keeps the streaming placeholder for output (formats.md §1.5); the returned totals count
    what is written, as a parser must.
    """
    script: Sequence[Event] = (
        events if events is not None else [Filler(max(0, requests - 1)), Reply()]
    )
    writer = _ClaudeWriter(
        claude_dir,
        str(cwd),
        branch,
        start,
        spacing,
        model,
        seed,
        cache_ttl,
        progress,
        placeholder_bug,
    )
    return writer.write(script)


# --- Codex ---------------------------------------------------------------------------------


def _uuid7(ts: datetime, rng: random.Random) -> str:
    ms = int(ts.timestamp() * 1000)
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62)
    value |= rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def write_codex_session(
    codex_home: Path,
    cwd: str | Path,
    *,
    branch: str = "main",
    start: datetime,
    spacing: timedelta = timedelta(seconds=30),
    requests: int = 10,
    model: str = GPT_CODEX,
    seed: int | str = 0,
    events: Sequence[Event] | None = None,
    commit_hash: str = "0" * 40,
    repository_url: str = "https://github.com/example/app.git",
    reemit: float = 0.5,
) -> WrittenSession:
    """Write one Codex rollout under `codex_home/sessions/YYYY/MM/DD/`.

    Each call logs a cumulative `token_count`; a share `reemit` of them is written again
    1-5 s later with a byte-identical payload, as Codex does (formats.md §2.4). Turns start
    with an `info: null` rate-limit event. Events understood: Bash, Commit, Read (as a
    `sed -n` command), UserPrompt, Filler, Reply, Idle.
    """
    cwd = str(cwd)
    rng = random.Random(f"codex|{seed}|{start.isoformat()}")
    session_id = _uuid7(start, rng)
    day = start.astimezone(timezone.utc)
    folder = codex_home / "sessions" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    path = folder / f"rollout-{day:%Y-%m-%dT%H-%M-%S}-{session_id}.jsonl"
    out: list[bytes] = []
    totals = Totals()
    commits: list[str] = []
    end = start

    def line(ts: datetime, kind: str, payload: dict[str, Any]) -> None:
        nonlocal end
        end = max(end, ts)
        out.append(_dump({"timestamp": _iso(ts), "type": kind, "payload": payload}))

    rate_limits = {
        "limit_id": "codex",
        "limit_name": None,
        "primary": {"used_percent": 1.0, "window_minutes": 300, "resets_at": 1771864834},
        "secondary": {"used_percent": 1.0, "window_minutes": 10080, "resets_at": 1772355702},
        "credits": {"has_credits": False, "unlimited": False, "balance": None},
        "plan_type": None,
    }
    line(
        start,
        "session_meta",
        {
            "id": session_id,
            "timestamp": _iso(start),
            "cwd": cwd,
            "originator": "codex_cli_rs",
            "cli_version": CODEX_VERSION,
            "instructions": None,
            "source": "cli",
            "model_provider": "openai",
            "git": {"commit_hash": commit_hash, "branch": branch, "repository_url": repository_url},
        },
    )
    line(
        start,
        "response_item",
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "<permissions instructions>"}],
        },
    )
    script: Sequence[Event] = (
        events if events is not None else [Filler(max(0, requests - 1)), Reply()]
    )
    times = call_times(script, start + timedelta(seconds=3), spacing)
    cumulative = [0, 0, 0, 0]  # input, cached, output, reasoning
    context = 9000 + rng.randint(0, 3000)
    call = 0
    turn_open = False
    prompt_text: str | None = None

    def open_turn(ts: datetime, text: str) -> None:
        turn_id = _uuid7(ts, rng)
        line(
            ts,
            "event_msg",
            {"type": "task_started", "turn_id": turn_id, "model_context_window": 258400},
        )
        line(
            ts,
            "event_msg",
            {
                "type": "user_message",
                "message": text,
                "images": [],
                "local_images": [],
                "text_elements": [],
            },
        )
        line(
            ts,
            "turn_context",
            {
                "turn_id": turn_id,
                "cwd": cwd,
                "approval_policy": "on-request",
                "sandbox_policy": {"type": "workspace-write", "network_access": False},
                "model": model,
                "effort": "high",
                "summary": "auto",
                "truncation_policy": {"mode": "tokens", "limit": 10000},
            },
        )
        line(
            ts + timedelta(seconds=1),
            "event_msg",
            {"type": "token_count", "info": None, "rate_limits": rate_limits},
        )

    for event in _expand(script, rng, cwd):
        if isinstance(event, UserPrompt):
            prompt_text = event.text
            continue
        if isinstance(event, (Idle, Compact, Task, Edit)):
            continue  # not modelled for Codex
        ts = times[call]
        call += 1
        if not turn_open or prompt_text is not None:
            open_turn(ts - timedelta(seconds=2), prompt_text or "Fix the failing tests, please.")
            turn_open = True
            context += 200
            prompt_text = None
        # the model's answer: reasoning, then a tool call or the final message
        output = rng.randint(60, 600)
        reasoning = rng.randint(0, output)
        cached = (context // 256) * 256 if call > 1 else rng.choice((0, 3456))
        inp = context + rng.randint(50, 400)
        cumulative[0] += inp
        cumulative[1] += cached
        cumulative[2] += output
        cumulative[3] += reasoning
        totals.add(
            Totals(
                requests=1,
                input_tokens=inp - cached,
                cache_read_tokens=cached,
                output_tokens=output,
                reasoning_tokens=reasoning,
            )
        )
        context = inp + output
        line(
            ts,
            "response_item",
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "Checking the code"}],
                "content": None,
                "encrypted_content": _rand(rng, 200),
            },
        )
        result_text: str | None = None
        if isinstance(event, Reply):
            line(ts, "event_msg", {"type": "agent_message", "message": _chunk(rng, event.chars)})
        else:
            if isinstance(event, Commit):
                command = f"git add -A && git commit -m {event.subject!r}"
                body = f"[{branch} {event.sha[:7]}] {event.subject}\n 2 files changed"
                commits.append(event.sha[:7])
                code = 0
            elif isinstance(event, Read):
                command = f"sed -n '1,200p' {event.path}"
                body, code = _chunk(rng, event.chars), 0
            else:
                assert isinstance(event, Bash)
                command = event.command
                body = event.output if event.output is not None else _chunk(rng, event.output_chars)
                code = event.exit_code
            call_id = "call_" + _rand(rng, 24)
            args = {"cmd": command, "workdir": cwd, "yield_time_ms": 10000}
            line(
                ts,
                "response_item",
                {
                    "type": "function_call",
                    "name": "exec_command",
                    "arguments": orjson.dumps(args).decode(),
                    "call_id": call_id,
                },
            )
            result_text = (
                f"Chunk ID: {_rand(rng, 6)}\nWall time: 0.{rng.randint(1, 9)} seconds\n"
                f"Process exited with code {code}\nOriginal token count: {len(body) // 4}\n"
                f"Output:\n{body}"
            )
            context += estimate_result_tokens(len(body))
        info = {
            "total_token_usage": {
                "input_tokens": cumulative[0],
                "cached_input_tokens": cumulative[1],
                "output_tokens": cumulative[2],
                "reasoning_output_tokens": cumulative[3],
                "total_tokens": cumulative[0] + cumulative[2],
            },
            "last_token_usage": {
                "input_tokens": inp,
                "cached_input_tokens": cached,
                "output_tokens": output,
                "reasoning_output_tokens": reasoning,
                "total_tokens": inp + output,
            },
            "model_context_window": 258400,
        }
        count = {"type": "token_count", "info": info, "rate_limits": rate_limits}
        line(ts + timedelta(milliseconds=1), "event_msg", count)
        if result_text is not None:
            line(
                ts + timedelta(milliseconds=200),
                "response_item",
                {"type": "function_call_output", "call_id": call_id, "output": result_text},
            )
        if rng.random() < reemit:
            again = ts + timedelta(milliseconds=rng.randint(1000, 5000))
            line(again, "event_msg", count)  # the re-emitted snapshot
        if isinstance(event, Reply):
            line(
                ts + timedelta(seconds=1),
                "event_msg",
                {"type": "task_complete", "turn_id": None, "last_agent_message": None},
            )
            turn_open = False
    folder.mkdir(parents=True, exist_ok=True)
    data = b"".join(out)
    path.write_bytes(data)
    return WrittenSession(
        agent="codex",
        id=session_id,
        paths=[path],
        cwd=cwd,
        branch=branch,
        start=start,
        end=end,
        totals=totals,
        models={model: totals.requests},
        commits=commits,
        lines=len(out),
        bytes=len(data),
    )
