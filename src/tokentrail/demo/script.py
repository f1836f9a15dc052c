"""The script a generated session follows, what was written, and the helpers the writers
share. Everything is seeded: the same arguments write byte-identical files.
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
WORDS = [
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
PATHS = [
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
        words = rng.choices(WORDS, k=rng.randint(2, 9))
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


def chunk(rng: random.Random, chars: int) -> str:
    text = _filler_text()
    chars = max(0, min(chars, len(text) // 2))
    start = rng.randrange(0, len(text) // 2)
    return text[start : start + chars]


def rand_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(_ALNUM, k=n))


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso_ms(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ts.microsecond // 1000:03d}Z"
    )


def dump_line(rec: dict[str, Any]) -> bytes:
    return orjson.dumps(rec) + b"\n"


def expand_fillers(script: Sequence[Event], rng: random.Random, cwd: str) -> Iterator[Event]:
    """Replace `Filler` by concrete calls."""
    for event in script:
        if not isinstance(event, Filler):
            yield event
            continue
        for _ in range(event.count):
            roll = rng.random()
            path = rng.choice(PATHS)
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
