"""Built-in waste detectors, one module each; every one registers through the same
`register_detectors` hook a third-party plugin uses. Shared helpers live here."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from tokentrail.carry import CarryItem, SessionCarry
from tokentrail.model import Session, ToolCall
from tokentrail.redact import short

EVIDENCE_LIMIT = 120
# Claude Code / Codex names, then OpenCode and Pi (`read`, `grep`, `glob`, `list`, `ls`,
# `find`) and Gemini CLI (`read_file`, `search_file_content`, `list_directory`).
READ_TOOLS = {"Read", "read_file", "view", "NotebookRead", "read"}
SEARCH_TOOLS = {
    *("Grep", "Glob", "LS", "grep_search", "file_search", "list_dir", "WebSearch"),
    *("grep", "glob", "list", "ls", "find", "search_file_content", "list_directory"),
}
READ_COMMANDS = {"cat", "head", "tail", "less", "more", "sed", "nl", "bat", "jq"}
SEARCH_COMMANDS = {"grep", "rg", "find", "fd", "ag", "ls", "tree", "git grep"}


def redact(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    """Short and without secrets: evidence leaves the machine."""
    return short(text, limit)


def evidence(call: ToolCall) -> dict[str, Any]:
    """Where a reviewer can look: the turn, the tool, and the file or command."""
    out: dict[str, Any] = {"turn": call.request_index, "tool": call.name}
    if call.command:
        out["command"] = redact(call.command)
    elif call.files:
        out["file"] = redact(call.files[0], 200)
    elif call.summary:
        out["target"] = redact(call.summary)
    return out


def threads(session: Session) -> dict[str | None, list[ToolCall]]:
    """Tool calls per thread (main = None, or one subagent), in the order they ran."""
    out: dict[str | None, list[ToolCall]] = {}
    for call in session.tool_calls:
        r = call.request_index
        thread = session.requests[r].subagent if 0 <= r < len(session.requests) else call.subagent
        out.setdefault(thread, []).append(call)
    return out


@lru_cache(maxsize=4096)
def _split(command: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(command))
    except ValueError:
        return tuple(command.split())


def words(command: str) -> list[str]:
    """Shell words of a command (several detectors ask for the same commands)."""
    return list(_split(command))


def command_head(command: str) -> str:
    """The program (and subcommand) a command runs: `npm test`, `pytest`, `cargo build`."""
    first = re.split(r"\s*(?:&&|\|\||;|\|)\s*", command.strip(), maxsplit=1)[0]
    parts = [w for w in words(first) if "=" not in w or w.startswith("-")]
    while parts and parts[0] in ("sudo", "env", "time", "cd"):
        parts = parts[2:] if parts[0] == "cd" else parts[1:]
    if not parts:
        return command.strip().split(" ")[0][:40]
    head = parts[0].rsplit("/", 1)[-1]
    if len(parts) > 1 and re.fullmatch(r"[a-z][\w:-]*", parts[1]) and head not in READ_COMMANDS:
        return f"{head} {parts[1]}"
    return head


def read_targets(call: ToolCall) -> tuple[str, ...]:
    """Files whose content this call put into the context (reads, `cat`, `sed -n`)."""
    if call.writes:
        return ()
    if call.name in READ_TOOLS:
        return call.files
    if call.command and (call.command.split(None, 1) or [""])[0] in READ_COMMANDS:
        argv = words(call.command)
        if argv and argv[0] in READ_COMMANDS and "|" not in call.command:
            return tuple(a for a in argv[1:] if not a.startswith("-") and ("/" in a or "." in a))
    return ()


def is_search(call: ToolCall) -> bool:
    if call.name in SEARCH_TOOLS:
        return True
    if call.command:
        head = command_head(call.command).split(" ")[0]
        return head in SEARCH_COMMANDS or command_head(call.command) == "git grep"
    return False


def carry_of(carry: SessionCarry, call: ToolCall) -> CarryItem | None:
    item = carry.item(call.id)
    return item if item is not None and item.carry_tokens > 0 else None


def carry_claims(
    carry: SessionCarry, calls: Iterable[ToolCall]
) -> tuple[int, float, dict[str, tuple[int, float]]]:
    """What re-sending these calls' results cost, as a finding's claims (a token is waste
    once): (tokens, dollars, claims)."""
    return sum_claims(
        (f"carry:{c.id}", item.carry_tokens, item.carry_usd)
        for c in calls
        if (item := carry_of(carry, c)) is not None
    )


def sum_claims(
    items: Iterable[tuple[str, int, float]],
) -> tuple[int, float, dict[str, tuple[int, float]]]:
    claims = {key: (t, u) for key, t, u in items if t > 0}
    return (
        sum(t for t, _ in claims.values()),
        sum(u for _, u in claims.values()),
        claims,
    )
