"""Streaming JSONL reading shared by adapters: one line at a time, bad lines counted."""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
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
    return iter(JsonlReader(path, issues, skip=skip, skip_window=skip_window))


TAIL_BYTES = 64  # how much of a file before the resume point must be unchanged


class JsonlReader:
    """`read_jsonl` from a byte offset, remembering where the last whole line ended so a
    later read can go on from there (agents only append to their logs).

    `offset` is the end of the last line consumed (decoded, skipped or counted garbled); a
    last line with no newline that is not valid JSON is not consumed: it is counted as
    truncated (or, with `count_partial=False`, only flagged in `partial`) and read again
    next time, when the agent has finished writing it.
    """

    def __init__(
        self,
        path: Path,
        issues: ParseIssues,
        *,
        start: int = 0,
        skip: bytes | None = None,
        skip_window: int = 600,
        count_partial: bool = True,
        bad: int = 0,
        types: tuple[str, ...] | None = None,
    ) -> None:
        self.path = path
        self.issues = issues
        self.start = self.offset = start
        self.skip = skip
        self.skip_window = skip_window
        self.count_partial = count_partial
        self.partial = False
        self.device = self.inode = 0
        self.bad = bad  # garbled lines so far (an earlier read of this file counts too)
        # `types`: a record whose first key is "type" is decoded only for these types
        self.wanted: tuple[bytes, ...] = tuple(
            f'{{"type":{gap}"{t}"'.encode() for t in types or () for gap in ("", " ")
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        bad, truncated = self.bad, 0
        path, skip, window, wanted = self.path, self.skip, self.skip_window, self.wanted
        typed = (b'{"type":', b'{"type": ')
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        try:
            fh = path.open("rb")
        except OSError as exc:
            self.issues.warnings.append(f"{path}: cannot open ({exc.strerror or exc})")
            return
        consumed = 0  # bytes of the lines read, from `start`
        last, used = b"", False  # the last line, and whether it was a whole record
        with fh:
            st = os.fstat(fh.fileno())
            self.device, self.inode = st.st_dev, st.st_ino
            if self.start:
                fh.seek(self.start)
            for line in fh:
                consumed += len(line)
                last, used = line, False
                if skip is not None and line.find(skip, 0, window) != -1:
                    continue
                if wanted and line.startswith(typed) and not line.startswith(wanted):
                    continue  # a record type the caller ignores: not worth decoding
                try:
                    obj = loads(line)
                except decode_error:
                    if not line.strip():
                        continue
                    if line.endswith(b"\n"):
                        bad += 1
                    else:
                        self.partial = True
                        truncated += self.count_partial
                    continue
                used = True
                if type(obj) is dict:
                    yield obj
        # a last line with no newline is read again next time unless it was a whole record
        unfinished = bool(last) and not used and not last.endswith(b"\n")
        self.offset = self.start + consumed - (len(last) if unfinished else 0)
        self.bad = bad
        if bad:
            self.issues.bad_lines += bad
            self.issues.warnings.append(f"{path}: skipped {bad} garbled line(s)")
        if truncated:
            self.issues.truncated_lines += truncated
            self.issues.warnings.append(f"{path}: skipped a truncated last line")

    def mark(self) -> FileMark:
        """Where a later read of this file can go on from."""
        return FileMark.at(self.path, self.device, self.inode, self.offset)


@dataclass(frozen=True, slots=True)
class FileMark:
    """A read position in a file, with the bytes just before it, to tell later whether the
    file only grew since (same inode, at least as long, same bytes before the mark)."""

    path: str
    device: int
    inode: int
    offset: int
    tail: bytes

    @classmethod
    def at(cls, path: Path, device: int, inode: int, offset: int) -> FileMark:
        tail = b""
        try:
            with path.open("rb") as fh:
                fh.seek(max(offset - TAIL_BYTES, 0))
                tail = fh.read(min(offset, TAIL_BYTES))
        except OSError:
            offset = 0
        return cls(str(path), device, inode, offset, tail)

    def only_grew(self) -> bool:
        try:
            with open(self.path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if (st.st_dev, st.st_ino) != (self.device, self.inode) or st.st_size < self.offset:
                    return False
                fh.seek(self.offset - len(self.tail))
                return fh.read(len(self.tail)) == self.tail
        except OSError:
            return False

    def to_json(self) -> list[Any]:
        return [self.path, self.device, self.inode, self.offset, self.tail.hex()]

    @classmethod
    def from_json(cls, data: list[Any]) -> FileMark:
        return cls(str(data[0]), int(data[1]), int(data[2]), int(data[3]), bytes.fromhex(data[4]))


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
    """Decode only the first line of a file (cheap discovery); None if it is not JSON.

    While `heads` holds a memo (the catalog lends it the index's during discovery), a file
    whose device, inode, size and mtime are unchanged is not opened again."""
    line: bytes | None = None
    memo = heads.memo
    if memo is not None:
        try:
            state = state_of(os.stat(path))
        except OSError:
            return None
        known = memo.get(str(path))
        if known is not None and known[0] == state:
            line = known[1]
    if line is None:
        try:
            with path.open("rb") as fh:
                line = fh.readline(limit)
        except OSError:
            return None
        if memo is not None and len(line) <= heads.MAX_LINE:
            heads.new[str(path)] = (state, line)
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def list_dir(path: Path) -> list[os.DirEntry[str]]:
    """A folder's entries sorted by name (no stat per entry)."""
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: e.name)


def note(path: Path) -> bool:
    """Whether a path discovery looks for is a folder."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode)


def state_of(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _Heads:
    """First lines already read, by path, with the file state they were read at."""

    MAX_LINE = 1 << 16

    def __init__(self) -> None:
        self.memo: dict[str, tuple[tuple[int, int, int, int], bytes]] | None = None
        self.new: dict[str, tuple[tuple[int, int, int, int], bytes]] = {}


heads = _Heads()


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
