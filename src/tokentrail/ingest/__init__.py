"""Turning files other tools wrote (OpenTelemetry exports, JSONL traces) into records of
the local store (`tokentrail.store`). Nothing here prices or attributes anything: the
store is read back by an adapter like any agent's logs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tokentrail.toolcalls import commits_in_output, describe_call, first_line_of, is_git_commit


@dataclass
class Imported:
    """What a file held, for the store and for the import's summary."""

    records: list[dict[str, Any]] = field(default_factory=list)
    used: Counter[str] = field(default_factory=Counter)  # record kinds turned into calls/tools
    ignored: Counter[str] = field(default_factory=Counter)  # known, nothing to count
    unknown: Counter[str] = field(default_factory=Counter)  # shapes tokentrail does not know
    sessions: set[tuple[str, str]] = field(default_factory=set)
    metrics_only: set[tuple[str, str]] = field(default_factory=set)
    bad_lines: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """Where calls ran, when the imported file does not say: `--cwd` / `--branch`."""

    cwd: str | None = None
    branch: str | None = None


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts else None


def tool_records(
    base: dict[str, Any],
    name: str,
    args: dict[str, Any],
    *,
    output: str | None = None,
    size: int | None = None,
    failed: bool = False,
    error: str | None = None,
) -> list[dict[str, Any]]:
    """A tool record (and the agent's commits its output shows) with what the model keeps:
    names, paths, the command and sizes; never the output itself."""
    summary, command, files, writes = describe_call(name, args)
    chars = size if size is not None else len(output or "")
    tool = {
        **base,
        "kind": "tool",
        "name": name,
        "summary": summary,
        "command": command,
        "files": list(files),
        "writes": writes,
        "is_error": failed,
        "error_head": first_line_of(error or output or "") if failed else None,
        "result_chars": chars,
    }
    out = [tool]
    if output and is_git_commit(command):
        for branch, sha in commits_in_output(output):
            out.append(
                {
                    **base,
                    "kind": "commit",
                    "key": f"{base['key']}:commit:{sha}",
                    "sha": sha,
                    "branch": branch,
                    "tool": base["key"],
                }
            )
    return out
