"""Agent-neutral reading of tool calls: what a call touched, and commits in git's output."""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from tokentrail.model import ToolCall

SUMMARY_LIMIT = 200

# `git commit` prints "[branch abc1234] subject" (or "[branch (root-commit) abc1234]").
_COMMIT_LINE = re.compile(
    r"^\[(?P<branch>[^\s\]]+)(?: \(root-commit\))? (?P<sha>[0-9a-f]{7,40})\] ", re.MULTILINE
)
_GIT_COMMIT = re.compile(r"\bgit\b(?:\s+-[Cc]\s+\S+|\s+--?[\w-]+(?:=\S+)?)*\s+commit\b")

# Claude Code / Codex (snake_case), OpenCode (camelCase), Gemini CLI (absolute_path), Pi (path).
_PATH_KEYS = ("file_path", "notebook_path", "path", "filename", "filePath", "absolute_path")
_WRITE_TOOLS = {
    "Edit",
    "Write",
    "MultiEdit",
    "NotebookEdit",
    "apply_patch",
    "write_file",
    "edit_file",
    "str_replace_based_edit_tool",
    "replace",  # Gemini CLI
    "edit",  # OpenCode, Pi
    "write",
    "multiedit",
    "patch",
}
_PATCH_FILE = re.compile(r"^\*\*\* (?:Update|Add|Delete) File: (.+)$", re.MULTILINE)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def shell_command(value: Any) -> str | None:
    """A shell command given as a string or an argv list (`["bash", "-lc", "..."]`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if len(value) >= 3 and value[1] in ("-c", "-lc") and value[0].endswith("sh"):
            return str(value[2])
        return shlex.join(value)
    return None


def describe_call(
    name: str, args: Mapping[str, Any]
) -> tuple[str, str | None, tuple[str, ...], bool]:
    """(argument summary, shell command, files touched, writes files) for one tool call."""
    command = None
    for key in ("command", "cmd"):
        if key in args:
            command = shell_command(args[key])
            if command:
                break
    get = args.get
    files = tuple([str(v) for k in _PATH_KEYS if isinstance(v := get(k), str)])
    patch = args.get("input") if name == "apply_patch" else args.get("patch", args.get("patchText"))
    if isinstance(patch, str):
        files = files + tuple(m.strip() for m in _PATCH_FILE.findall(patch))
    writes = name in _WRITE_TOOLS or (name == "apply_patch")
    if command:
        summary = command
    elif files:
        summary = ", ".join(files)
    else:
        parts = [
            str(args[k])
            for k in ("pattern", "query", "url", "description", "subagent_type")
            if isinstance(args.get(k), str)
        ]
        summary = " ".join(parts)
    return _short(summary), command, files, writes


# Keys under which write tools carry the text they put into a file (Claude Code, Codex,
# OpenCode, Gemini CLI, Pi), and the text they replace.
_NEW_TEXT_KEYS = ("new_string", "content", "new_source", "newString", "new_str", "file_text")
_OLD_TEXT_KEYS = ("old_string", "oldString", "old_str")
MAX_LINE_HASHES = 400
_ALNUM = re.compile(r"[^\W_]")  # a character str.isalnum() accepts (\w is those and "_")


def line_hash(line: str) -> str | None:
    """A short fingerprint of one meaningful line of code (whitespace-insensitive); None for
    lines too plain to tell changes apart (`}`, `end`, blank). Only these fingerprints are
    kept, never the text: they let attribution find the agent's change in a commit's diff."""
    text = "".join(line.split())
    if len(text) < 6 or not (text[0].isalnum() or _ALNUM.search(text)):
        return None
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=5).hexdigest()


def _hashes(lines: Iterable[str], minus: set[str] | frozenset[str] = frozenset()) -> list[str]:
    out: list[str] = []
    kept: set[str] = set()
    for line in lines:
        h = line_hash(line)
        if h is not None and h not in minus and h not in kept:
            kept.add(h)
            out.append(h)
            if len(out) >= MAX_LINE_HASHES:
                break
    return out


def added_lines(name: str, args: Mapping[str, Any]) -> tuple[str, ...]:
    """Fingerprints of the lines a write tool call added (new text minus the text it
    replaced; `+` lines of a patch), for content attribution."""
    new: list[str] = []
    old: list[str] = []
    edits = args.get("edits")
    pieces = (
        [args, *(e for e in edits if isinstance(e, Mapping))] if isinstance(edits, list) else [args]
    )
    for piece in pieces:
        for key in _NEW_TEXT_KEYS:
            if isinstance(piece.get(key), str):
                new.extend(piece[key].splitlines())
        for key in _OLD_TEXT_KEYS:
            if isinstance(piece.get(key), str):
                old.extend(piece[key].splitlines())
    patch = args.get("input") if name == "apply_patch" else args.get("patch", args.get("patchText"))
    if isinstance(patch, str):
        for line in patch.splitlines():
            if line.startswith("+") and not line.startswith("+++"):
                new.append(line[1:])
            elif line.startswith("-") and not line.startswith("---"):
                old.append(line[1:])
    return tuple(_hashes(new, set(_hashes(old))))


def diff_added_lines(diff: str) -> dict[str, set[str]]:
    """Per file of a unified diff (`git log -p` / `git show` output), the fingerprints of the
    lines it adds."""
    out: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:].strip()
            current = out.setdefault(target[2:] if target.startswith("b/") else target, set())
        elif line.startswith("+") and current is not None:
            h = line_hash(line[1:])
            if h is not None:
                current.add(h)
    return out


def is_git_commit(command: str | None) -> bool:
    return bool(command and _GIT_COMMIT.search(command))


def commits_in_output(text: str) -> list[tuple[str, str]]:
    """(branch, sha) for each commit line git printed."""
    return [(m["branch"], m["sha"]) for m in _COMMIT_LINE.finditer(text)]


_SWITCH_COMMAND = re.compile(r"\bgit\b[^|;&]*\s(?:switch|checkout)\b")
_SWITCHED = re.compile(
    r"^(?:Switched to (?:a new )?branch|Switched to and reset branch|Reset branch|Already on) "
    r"'(?P<branch>[^'\n]+)'$",
    re.MULTILINE,
)


def branch_switched_to(command: str | None, text: str) -> str | None:
    """The branch a `git switch` / `git checkout` in `command` left the work tree on, as git
    printed it ("Switched to a new branch 'x'"); None when the command is not one or git
    printed no such line (a failed switch, a file checkout)."""
    if not command or not _SWITCH_COMMAND.search(command):
        return None
    found = _SWITCHED.findall(text)
    return found[-1] if found else None


_ERROR_WORDS = re.compile(
    r"\b(error|errors|failed|failure|fatal|exception|traceback|panic|cannot|can't|"
    r"not found|no such|denied|refused|invalid|undefined|timed out|abort(ed)?)\b",
    re.IGNORECASE,
)
_WARNING = re.compile(r"^\W*(npm )?(warn|warning|deprecat|note|info|hint)\b", re.IGNORECASE)


def error_line(text: str, limit: int = 160) -> str:
    """The line of a failed call's output that names the error: the first line that says
    error/failed/cannot/... and is not a warning; else the first line that is not a
    warning; else the first line. (`npm run build` prints its warnings before the error.)"""
    lines = [line.strip().lstrip(">").strip() for line in text.splitlines()[:200]]
    lines = [line for line in lines if line]
    plain = [line for line in lines if not _WARNING.match(line)]
    for line in plain:
        if _ERROR_WORDS.search(line):
            return line[:limit]
    return (plain or lines or [""])[0][:limit]


def read_range(name: str, args: Mapping[str, Any]) -> tuple[int, int] | None:
    """Lines [first, last] of a ranged read (Read with `offset`/`limit`; `view_range`)."""
    view = args.get("view_range")
    if isinstance(view, list) and len(view) == 2 and all(isinstance(v, int) for v in view):
        first, last = int(view[0]), int(view[1])
        return (first, last) if last >= first > 0 else None
    offset, limit = args.get("offset"), args.get("limit")
    if not isinstance(offset, int) and not isinstance(limit, int):
        return None
    first = max(int(offset), 1) if isinstance(offset, int) and not isinstance(offset, bool) else 1
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        return (first, 10**9) if first > 1 else None
    return first, first + int(limit) - 1


def first_line_of(text: str, limit: int = 160) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:limit]
    return ""


def tool_call(
    call_id: str,
    name: str,
    args: Mapping[str, Any],
    request_index: int,
    timestamp: datetime | None,
    **extra: Any,
) -> ToolCall:
    """A tool call as every adapter reads it from its arguments: summary, shell command,
    files, whether it writes and, for a write, the lines it added; `extra` sets the fields
    only some logs give (result size, failure, subagent, read range)."""
    summary, command, files, writes = describe_call(name, args)
    return ToolCall(
        id=call_id,
        name=name,
        request_index=request_index,
        timestamp=timestamp,
        summary=summary,
        command=command,
        files=files,
        writes=writes,
        added=added_lines(name, args) if writes else (),
        **extra,
    )
