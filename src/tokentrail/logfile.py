"""Streaming JSONL reading shared by adapters: one line at a time, bad lines counted."""

from __future__ import annotations

from collections import Counter
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


def ms_ts(value: Any) -> datetime | None:
    """Milliseconds since the epoch (as OpenCode and Pi write them) to an aware datetime."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def as_float(value: Any) -> float | None:
    """A recorded dollar figure: a finite non-negative number (or numeric string), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 and number != float("inf") else None


class RecordKinds:
    """Schema drift, said out loud: the record types of one file the adapter does not know.

    A file in which nothing is recognised, or a file with record types never seen before,
    gives one warning line with the count, so a new log format never reads as zero usage.
    """

    def __init__(self, agent: str, known: frozenset[str]) -> None:
        self.agent = agent
        self.known = known
        self.lines = 0
        self.recognised = 0
        self.unknown: Counter[str] = Counter()

    def see(self, kind: Any) -> bool:
        """Count one record; whether its type is one the adapter knows."""
        self.lines += 1
        if isinstance(kind, str) and kind in self.known:
            self.recognised += 1
            return True
        self.unknown[kind if isinstance(kind, str) else "(no type)"] += 1
        return False

    def report(self, where: Path | str, issues: ParseIssues) -> None:
        """Add this file's warning (if any) and start counting the next file."""
        unknown = sum(self.unknown.values())
        if self.lines and not self.recognised:
            issues.warnings.append(
                f"{where}: no {self.agent} record recognised in {self.lines} record(s); "
                "a log format tokentrail does not know yet, nothing was counted from it"
            )
        elif unknown:
            kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(self.unknown.items())[:6])
            issues.warnings.append(
                f"{where}: skipped {unknown} {self.agent} record(s) of a type tokentrail "
                f"does not know ({kinds})"
            )
        self.lines = self.recognised = 0
        self.unknown.clear()
