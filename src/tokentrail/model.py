"""The normalized model every adapter produces and every later stage reads.

Adapters turn an agent's own log format into these types; nothing after the parse step
looks at raw log records. The model deliberately holds sizes, names, paths and commands,
not prompt text, file contents or tool output: what is not kept cannot leak.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

# Real tool results tokenise at about 2.85 characters per token (code, logs, paths), and
# each result carries roughly 100 tokens of framing; chars / 4 underestimates by a third.
CHARS_PER_TOKEN = 2.85
RESULT_FRAMING_TOKENS = 100
# Bumped when these dataclasses change shape: it is part of every parse-cache key, so a
# session pickled with the old fields is parsed again rather than loaded half-filled.
MODEL_VERSION = 4


def estimate_result_tokens(chars: int) -> int:
    """Calibrated token size of a tool result of `chars` characters (see design.md)."""
    if chars <= 0:
        return 0
    return round(chars / CHARS_PER_TOKEN) + RESULT_FRAMING_TOKENS


@dataclass(slots=True)
class Usage:
    """Tokens of one billed API call, split by how they are priced.

    `input` is uncached input only; `reasoning` is part of `output` (priced as output,
    reported beside it).
    """

    input: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output: int = 0
    reasoning: int = 0
    web_search_requests: int = 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    @property
    def total(self) -> int:
        """Input-side plus output tokens, as ccusage and the corpus MANIFEST count them."""
        return self.input + self.cache_read + self.cache_write + self.output

    @property
    def prompt_tokens(self) -> int:
        """Everything sent to the model on this call (the context size)."""
        return self.input + self.cache_read + self.cache_write

    def add(self, other: Usage) -> None:
        self.input += other.input
        self.cache_read += other.cache_read
        self.cache_write_5m += other.cache_write_5m
        self.cache_write_1h += other.cache_write_1h
        self.output += other.output
        self.reasoning += other.reasoning
        self.web_search_requests += other.web_search_requests


@dataclass(slots=True)
class Price:
    """The price of one request and where it came from (a plugin name)."""

    cost_usd: float
    source: str


@dataclass(slots=True)
class Request:
    """One billed API call."""

    key: str | None  # dedup key across files; None when the log gives no id
    timestamp: datetime | None
    model: str
    usage: Usage
    branch: str | None = None
    cwd: str | None = None
    subagent: str | None = None  # agentId, "sidechain-<root>" per inline Task thread, None: main
    file_index: int = 0  # which of Session.paths it was read from
    output_lower_bound: bool = False  # the log kept a streaming placeholder for output
    cost_usd: float | None = None  # None: unpriced
    price_source: str | None = None
    provider: str | None = None  # the API provider when the log names it (openai, google...)
    agent_cost_usd: float | None = None  # the cost the agent itself recorded, if it did
    # When the request was sent (the log's last record before the reply: a tool result or a
    # prompt); `timestamp` is when the reply's first line was written, which for a long
    # reply is minutes later. None when the log does not say.
    sent: datetime | None = None
    # Percentage points of the agent's weekly rate-limit window used since the agent's
    # previous report in the same window (Codex `rate_limits.secondary`), as the agent
    # reported them with this request: an upper bound of this request's share, because
    # other sessions on the same account in the same window count too. None: not reported.
    limit_pct: float | None = None


@dataclass(slots=True)
class ToolCall:
    """One tool invocation and the size of what it put into the context."""

    id: str
    name: str
    request_index: int  # index into Session.requests of the call that asked for it
    timestamp: datetime | None
    summary: str = ""  # short argument summary: a path, a command, a pattern
    command: str | None = None  # shell command, when the tool runs one
    files: tuple[str, ...] = ()
    result_chars: int = 0
    result_tokens: int = 0
    is_error: bool = False
    error_head: str = ""  # first line of an error result (no other output is kept)
    subagent: str | None = None
    writes: bool = False  # the tool changes `files` (Edit, Write, apply_patch)
    added: tuple[str, ...] = ()  # fingerprints of the lines it added (toolcalls.line_hash)
    # Lines [first, last] a read put into the context when it read only part of the file
    # (Read with offset/limit); None: the whole file, or not a ranged read.
    read_range: tuple[int, int] | None = None


PROMPT_USER = "user"
PROMPT_TASK_NOTIFICATION = "task-notification"  # a background task's notice, not typed


@dataclass(slots=True)
class Prompt:
    """A user turn: when, how long, and whether the user typed it or the agent's harness
    injected it (a background task notification). The text itself is not kept."""

    timestamp: datetime | None
    chars: int
    kind: str = PROMPT_USER


@dataclass(slots=True)
class Compaction:
    timestamp: datetime | None
    trigger: str  # "auto", "manual" or "" when unknown
    pre_tokens: int | None
    request_index: int  # requests before this index were summarised away


@dataclass(slots=True)
class AgentCommit:
    """A commit the agent made itself, as its own `git commit` output names it."""

    sha: str  # abbreviated as printed by git
    branch: str
    timestamp: datetime | None
    request_index: int
    tool_call_id: str


def request_id(session: Session, index: int) -> str:
    """A short, stable id of one request (10 hex digits of a hash of its agent and log key):
    what note lines list, so notes from any number of machines, re-notes, carries and
    rebases are unioned without counting a request twice. Requests without a key in the log
    are named by their session and position (logs are appended to, never reordered)."""
    request = session.requests[index]
    key = request.key or f"{session.id}#{index}"
    return hashlib.blake2b(f"{session.agent}\0{key}".encode(), digest_size=5).hexdigest()


def cwd_inside(cwd: str, root: Path) -> bool:
    """Whether a logged working directory lies inside `root` (an already resolved path)."""
    resolved = resolved_cwd(cwd)
    return resolved is not None and resolved.is_relative_to(root)


@lru_cache(maxsize=4096)
def resolved_cwd(cwd: str) -> Path | None:
    """A logged working directory with symlinks resolved (sessions repeat a handful of
    them thousands of times: each is resolved once per run)."""
    try:
        return Path(cwd).resolve()
    except (OSError, ValueError, RuntimeError):  # RuntimeError: a symlink loop (< 3.13)
        return None


@dataclass(slots=True)
class SessionRef:
    """A candidate session found by discovery, before it is parsed."""

    agent: str
    id: str
    path: Path
    extra_paths: tuple[Path, ...] = ()  # subagent files that belong to the session
    cwd_hint: str | None = None  # when discovery could read it cheaply
    size: int = 0
    mtime: float = 0.0
    # (device, inode, size, mtime_ns) of each of `paths`, when discovery stat-ed them
    # anyway: the index compares them instead of asking the file system again
    states: tuple[tuple[int, int, int, int], ...] | None = None

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.path, *self.extra_paths)


@dataclass(slots=True)
class ParseIssues:
    """What the parser skipped or repaired, so a report can say it rather than hide it."""

    bad_lines: int = 0  # garbled JSON in the middle of a file (or a line over the size cap)
    truncated_lines: int = 0  # a partial last line (the file was being written)
    repaired_lines: int = 0  # read leniently (BOM, invalid UTF-8, NUL, lone surrogates)
    implausible_values: int = 0  # negative, non-finite or above the ceiling: skipped
    wrong_types: int = 0  # a field of the wrong JSON type: skipped
    bad_records: int = 0  # a record the parser could not use at all (its session is kept)
    replayed_events: int = 0  # an exact copy of an earlier usage event: not counted again
    skipped_files: list[str] = field(default_factory=list)  # "path: why"
    warnings: list[str] = field(default_factory=list)

    def add(self, other: ParseIssues) -> None:
        self.bad_lines += other.bad_lines
        self.truncated_lines += other.truncated_lines
        self.repaired_lines += other.repaired_lines
        self.implausible_values += other.implausible_values
        self.wrong_types += other.wrong_types
        self.bad_records += other.bad_records
        self.replayed_events += other.replayed_events
        self.skipped_files.extend(other.skipped_files)
        self.warnings.extend(other.warnings)

    def skip_file(self, path: Path | str, why: str) -> None:
        """A file that could not be read: named once, with what that costs."""
        from tokentrail.logfile import display

        self.skipped_files.append(f"{display(path)}: {why}")
        self.warnings.append(f"{display(path)}: not read ({why}); its requests are not counted")

    def field_warning(self, where: str) -> None:
        """One line for the values skipped while parsing `where` (call once, at the end)."""
        parts = []
        if self.implausible_values:
            parts.append(
                f"{self.implausible_values} implausible value(s) (negative, not finite or "
                "above the ceiling in docs/cli.md)"
            )
        if self.wrong_types:
            parts.append(f"{self.wrong_types} field(s) of the wrong type")
        if self.bad_records:
            parts.append(f"{self.bad_records} unusable record(s)")
        if parts:
            self.warnings.append(f"{where}: skipped " + ", ".join(parts) + "; totals exclude them")


@dataclass(slots=True)
class PrLink:
    """A pull request the agent linked the session to (Claude Code `pr-link`)."""

    url: str
    number: int | None = None
    repository: str | None = None
    timestamp: datetime | None = None


@dataclass(slots=True)
class RateWindow:
    """One rate-limit window as the agent last reported it (Codex `rate_limits`)."""

    used_percent: float
    window_minutes: int | None = None
    resets_at: datetime | None = None


@dataclass(slots=True)
class RateLimits:
    primary: RateWindow | None = None  # the short window (5 hours)
    secondary: RateWindow | None = None  # the long window (weekly)
    timestamp: datetime | None = None  # when the agent reported them


@dataclass(slots=True)
class Session:
    """One agent session with its subagents, in the order things happened."""

    agent: str
    id: str
    paths: tuple[Path, ...]
    cwd: str | None = None
    cwds: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    parent_id: str | None = None
    requests: list[Request] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    compactions: list[Compaction] = field(default_factory=list)
    commits: list[AgentCommit] = field(default_factory=list)
    issues: ParseIssues = field(default_factory=ParseIssues)
    subagent_files: dict[str, str] = field(default_factory=dict)  # subagent id -> file path
    # The agent's own cost accounting (Claude Code `cost-state`): a cross-check of the
    # priced transcript, never the number the report bills.
    agent_cost_usd: float | None = None
    agent_cost_by_model: dict[str, float] = field(default_factory=dict)
    agent_cost_unknown_models: bool = False
    pr_links: list[PrLink] = field(default_factory=list)
    rate_limits: RateLimits | None = None

    @property
    def model_mix(self) -> dict[str, int]:
        """Requests per model, most used first."""
        return dict(Counter(r.model for r in self.requests).most_common())

    def usage(self) -> Usage:
        total = Usage()
        for request in self.requests:
            total.add(request.usage)
        return total

    def note_time(self, ts: datetime | None) -> None:
        if ts is None:
            return
        if self.start is None or ts < self.start:
            self.start = ts
        if self.end is None or ts > self.end:
            self.end = ts

    def note_place(self, cwd: str | None, branch: str | None) -> None:
        if cwd and (not self.cwds or self.cwds[-1] != cwd) and cwd not in self.cwds:
            self.cwds.append(cwd)
            if self.cwd is None:
                self.cwd = cwd
        if branch and branch not in self.branches:
            self.branches.append(branch)


@dataclass(slots=True)
class Finding:
    """One piece of waste a detector found, with evidence a reviewer can check.

    `claims` names the billed resources the waste figure is made of (e.g. "carry:<call id>",
    "request:<index>") with the tokens and dollars taken from each; the detect step uses it
    so that a token is counted as waste by at most one finding.
    """

    detector: str
    title: str
    session: str
    evidence: list[dict[str, Any]]
    wasted_tokens: int
    wasted_usd: float
    confidence: float
    measured: bool
    lesson: str
    claims: dict[str, tuple[int, float]] = field(default_factory=dict)
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "detector": self.detector,
            "title": self.title,
            "session": self.session,
            "evidence": self.evidence,
            "wasted_tokens": self.wasted_tokens,
            "wasted_usd": round(self.wasted_usd, 6),
            "confidence": round(self.confidence, 2),
            "measured": self.measured,
            "lesson": self.lesson,
        }


@dataclass(slots=True)
class Lesson:
    """A reusable rule learned from findings, ranked by the money following it saves."""

    id: str
    text: str
    saved_usd: float = 0.0
    saved_tokens: int = 0
    count: int = 0  # findings behind it
    detectors: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "saved_usd": round(self.saved_usd, 6),
            "saved_tokens": self.saved_tokens,
            "count": self.count,
            "detectors": self.detectors,
            "sessions": self.sessions,
        }
