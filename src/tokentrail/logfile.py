"""Streaming JSONL reading shared by adapters: one line at a time, bad lines counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from tokentrail.model import ParseIssues


def read_jsonl(
    path: Path, issues: ParseIssues, skip: bytes | None = None, skip_window: int = 600
) -> Iterator[dict[str, Any]]:
    """Yield each JSON object line of `path`.

    A line that is not valid JSON is skipped and counted: as truncated when it is the last
    line and has no newline (the agent was still writing), as garbled otherwise. `skip`
    drops lines containing that byte string within their first `skip_window` bytes
    without decoding them (a cheap filter for record types a caller ignores).
    """
    bad = truncated = 0
    try:
        fh = path.open("rb")
    except OSError as exc:
        issues.warnings.append(f"{path}: cannot open ({exc.strerror or exc})")
        return
    with fh:
        for line in fh:
            if skip is not None and line.find(skip, 0, skip_window) != -1:
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                if not line.strip():
                    continue
                if line.endswith(b"\n"):
                    bad += 1
                else:
                    truncated += 1
                continue
            if isinstance(obj, dict):
                yield obj
    if bad:
        issues.bad_lines += bad
        issues.warnings.append(f"{path}: skipped {bad} garbled line(s)")
    if truncated:
        issues.truncated_lines += truncated
        issues.warnings.append(f"{path}: skipped a truncated last line")


def parse_ts(value: Any) -> datetime | None:
    """ISO-8601 timestamp (with `Z`) to an aware datetime; None for anything else."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def as_int(value: Any) -> int:
    """Token counts as logged: ints, sometimes floats or strings; anything else is 0."""
    if type(value) is int:  # the common case first: this runs for every token field
        return value if value > 0 else 0
    if isinstance(value, bool):
        return 0
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def first_line(path: Path, limit: int = 1 << 20) -> dict[str, Any] | None:
    """Decode only the first line of a file (cheap discovery); None if it is not JSON."""
    try:
        with path.open("rb") as fh:
            line = fh.readline(limit)
    except OSError:
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def as_dict(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty one: logs drift, parsers shouldn't."""
    return value if isinstance(value, dict) else {}


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
