"""Generated data for `tokentrail demo`, the benchmarks and the tests: deterministic,
realistic agent logs (one writer per agent) and the demo repository built from them.

Nothing here is on the path of a real report: only `demo`, `benchmarks/` and tests import
it.
"""

from tokentrail.demo.claude_code import write_claude_session
from tokentrail.demo.codex import write_codex_session
from tokentrail.demo.script import (
    CACHE_5M,
    CLAUDE_VERSION,
    CODEX_VERSION,
    GPT_CODEX,
    HAIKU,
    OPUS,
    SONNET,
    Bash,
    Commit,
    Compact,
    Edit,
    Event,
    Filler,
    Idle,
    Read,
    Reply,
    Task,
    Totals,
    UserPrompt,
    WrittenSession,
    call_times,
)

__all__ = [
    "CACHE_5M",
    "CLAUDE_VERSION",
    "CODEX_VERSION",
    "GPT_CODEX",
    "HAIKU",
    "OPUS",
    "SONNET",
    "Bash",
    "Commit",
    "Compact",
    "Edit",
    "Event",
    "Filler",
    "Idle",
    "Read",
    "Reply",
    "Task",
    "Totals",
    "UserPrompt",
    "WrittenSession",
    "call_times",
    "write_claude_session",
    "write_codex_session",
]
