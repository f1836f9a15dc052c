"""Reading agent logs that may be broken, hostile or still being written.

Shared by the adapters: files are opened only when they are regular files of a sane size
(a FIFO, a device or a symlink loop never hangs or floods a run), read one line at a time
with a cap on line length, and decoded with orjson first; a line orjson rejects is read
again leniently (a BOM, invalid UTF-8, NUL bytes, raw control characters and lone UTF-16
surrogates are replaced, not allowed to cost the line's other fields). Fields are read
through typed accessors that reject a wrong type or an implausible number *per field*, so
one absurd value never takes its line, its request or its session down with it.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from tokentrail.model import ParseIssues

# One token field of one API call. The largest context windows are ~2M tokens, so a value
# 50 times that is corruption, not usage (docs/cli.md, "Limits").
MAX_REQUEST_TOKENS = 100_000_000
# A cumulative total (Codex `total_token_usage`): a whole session, however long.
MAX_TOTAL_TOKENS = 100_000_000_000
# Dollar figures an agent logs about itself (Claude Code `cost-state`).
MAX_AGENT_COST_USD = 1_000_000.0
MAX_LINE_BYTES = 64 << 20  # a longer line is skipped, never held in memory whole
MAX_FILE_BYTES = 4 << 30  # a bigger "log" is not read at all
# Timestamps outside this range are treated as missing (they overflow date arithmetic).
MIN_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_TIME = datetime(2200, 1, 1, tzinfo=timezone.utc)

_NONBLOCK = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_INT_DIGITS = 40  # longer integer literals become inf (implausible), never a slow int


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def open_regular(path: Path | str) -> tuple[IO[bytes] | None, str]:
    """The file opened for reading, or None and why not.

    Opened non-blocking (opening a FIFO never waits for a writer), then checked on the open
    descriptor, so a file swapped for a FIFO between a listing and this call is still
    refused. Only regular files up to MAX_FILE_BYTES are returned.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    except OSError as exc:
        return None, _os_reason(exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            reason = _kind(st.st_mode)
        elif st.st_size > MAX_FILE_BYTES:
            reason = f"{st.st_size >> 20} MB, over the {MAX_FILE_BYTES >> 30} GB limit"
        else:
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb"), ""
    except OSError as exc:
        reason = _os_reason(exc)
    os.close(fd)
    return None, reason


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "missing or a dangling symlink"
    if exc.errno == 40:  # ELOOP
        return "a symlink loop"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


def is_regular(path: Path) -> bool:
    """Whether `path` (symlinks followed) is a regular file; never raises."""
    return irregular(path) is None


def irregular(path: Path) -> str | None:
    """Why `path` (symlinks followed) is not a readable regular file; None when it is."""
    return regular_state(path)[0]


def _lines(fh: IO[bytes], limit: int) -> Iterator[bytes]:
    """Each line with its newline, at most `limit` bytes long (read by C-level iteration:
    this is the hot loop). A longer line comes out in pieces; `_skip_rest` drops them."""
    return iter(partial(fh.readline, limit), b"")


def _skip_rest(fh: IO[bytes]) -> int:
    """Read past the rest of an overlong line in bounded chunks; how many bytes."""
    skipped = 0
    while True:
        chunk = fh.readline(1 << 20)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def _big_int(digits: str) -> float | int:
    return int(digits) if len(digits) < _MAX_INT_DIGITS else math.inf


def _no_constant(_: str) -> None:
    return None  # NaN / Infinity are not JSON; read them as "no value"


def _fix_strings(value: Any) -> Any:
    """Lone surrogates (valid JSON as JavaScript writes it) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_fix_strings(v) for v in value]
    if isinstance(value, dict):
        return {_fix_strings(k): _fix_strings(v) for k, v in value.items()}
    return value


def lenient_loads(line: bytes) -> Any:
    """A line orjson rejected, read as leniently as keeps its meaning; None if it is not
    JSON at all. Invalid UTF-8 becomes U+FFFD, a BOM is dropped, NUL bytes become spaces
    (never joining two tokens into one), raw control characters are allowed inside strings,
    integers too long to be real become inf, and NaN/Infinity become null."""
    text = line.decode("utf-8", "replace").replace("\x00", " ").lstrip("\ufeff \t\r\n")
    try:
        obj = json.loads(text, strict=False, parse_int=_big_int, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return _fix_strings(obj) if "\\u" in text or "\ufffd" in text else obj


def read_jsonl(
    path: Path,
    issues: ParseIssues,
    skip: bytes | None = None,
    skip_window: int = 600,
    max_line: int = MAX_LINE_BYTES,
) -> Iterator[dict[str, Any]]:
    """Yield each JSON object line of `path`.

    A line that is not valid JSON even when read leniently is skipped and counted: as
    truncated when it is the last line and has no newline (the agent was still writing), as
    garbled otherwise. `skip` drops lines containing that byte string within their first
    `skip_window` bytes without decoding them (a cheap filter for record types a caller
    ignores). A file that cannot be read is named in one warning that says it was left out;
    a line longer than `max_line` bytes is skipped and counted as garbled.
    """
    return iter(JsonlReader(path, issues, skip=skip, skip_window=skip_window, max_line=max_line))


class JsonlReader:
    """`read_jsonl` from a byte offset, remembering where the last whole line ended so a
    later read can go on from there (agents only append to their logs).

    `offset` is the end of the last line consumed (decoded, skipped or counted garbled); a
    last line with no newline that is not valid JSON is not consumed: it is counted as
    truncated (or, with `count_partial=False`, only flagged in `partial`) and read again
    next time, when the agent has finished writing it. `bad`, `repaired` and `oversized`
    carry the counts of an earlier read of the same file, so a resumed read reports what a
    fresh one would.
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
        repaired: int = 0,
        oversized: int = 0,
        types: tuple[str, ...] | None = None,
        max_line: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = path
        self.issues = issues
        self.start = self.offset = start
        self.skip = skip
        self.skip_window = skip_window
        self.count_partial = count_partial
        self.partial = False
        self.device = self.inode = 0
        self.bad = bad  # garbled lines so far (an earlier read counts too)
        self.repaired = repaired  # lines read leniently so far
        self.oversized = oversized  # lines over `max_line` so far
        self.truncated = 0
        self.max_line = max_line
        # `types`: a record whose first key is "type" is decoded only for these types
        self.wanted: tuple[bytes, ...] = tuple(
            f'{{"type":{gap}"{t}"'.encode() for t in types or () for gap in ("", " ")
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.records()
        self.account()

    def records(self) -> Iterator[dict[str, Any]]:
        """The records, without adding what was skipped to `issues` yet (`account`): a
        caller may first keep its own state as of the last whole line."""
        bad, repaired, truncated, oversized = self.bad, self.repaired, 0, self.oversized
        path, skip, window, wanted = self.path, self.skip, self.skip_window, self.wanted
        limit = self.max_line
        typed = (b'{"type":', b'{"type": ')
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        fh, why = open_regular(path)
        if fh is None:
            self.issues.skip_file(path, why)
            return
        consumed = 0  # bytes of the lines read, from `start`
        last, used = b"", False  # the last line, and whether it was a whole record
        with fh:
            try:
                st = os.fstat(fh.fileno())
                self.device, self.inode = st.st_dev, st.st_ino
                if self.start:
                    fh.seek(self.start)
                for line in _lines(fh, limit):
                    consumed += len(line)
                    if len(line) == limit and not line.endswith(b"\n"):
                        consumed += _skip_rest(fh)
                        oversized += 1
                        last, used = b"\n", True
                        continue
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
                        obj = lenient_loads(line)
                        if obj is None:
                            if line.endswith(b"\n"):
                                bad += 1
                            else:
                                self.partial = True
                                truncated += self.count_partial
                            continue
                        repaired += 1
                    used = True
                    if type(obj) is dict:
                        yield obj
            except OSError as exc:
                self.issues.warnings.append(
                    f"{display(path)}: read failed part way ({_os_reason(exc)}); "
                    "the rest of the file is not counted"
                )
        # a last line with no newline is read again next time unless it was a whole record
        unfinished = bool(last) and not used and not last.endswith(b"\n")
        self.offset = self.start + consumed - (len(last) if unfinished else 0)
        self.bad, self.repaired, self.oversized = bad, repaired, oversized
        self.truncated = truncated

    def account(self) -> None:
        """Add what this read (and the earlier reads it goes on from) skipped to `issues`."""
        bad, repaired, oversized = self.bad, self.repaired, self.oversized
        path, limit, truncated = self.path, self.max_line, self.truncated
        if bad:
            self.issues.bad_lines += bad
            self.issues.warnings.append(f"{display(path)}: skipped {bad} garbled line(s)")
        if truncated:
            self.issues.truncated_lines += truncated
            self.issues.warnings.append(f"{display(path)}: skipped a truncated last line")
        if oversized:
            self.issues.bad_lines += oversized
            self.issues.warnings.append(
                f"{display(path)}: skipped {oversized} line(s) longer than {limit:,} bytes"
            )
        if repaired:
            self.issues.repaired_lines += repaired
            self.issues.warnings.append(
                f"{display(path)}: read {repaired} line(s) leniently (BOM, invalid UTF-8, NUL "
                "bytes, control characters or lone surrogates replaced)"
            )


RESUME_FORMAT = 1  # bump when what `checkpoint` stores changes
LIVE_SECONDS = 24 * 3600  # logs written to within this long may grow: worth a resume point


@dataclass(slots=True)
class Resumed:
    """A parser as a checkpoint left it, and where its last file's reading goes on."""

    parser: Any
    offset: int
    carried: tuple[int, int, int]  # the reader's garbled, lenient and overlong lines so far


def is_live(mtime: float) -> bool:
    """Whether a log written to at `mtime` may still be growing."""
    import time

    return time.time() - mtime < LIVE_SECONDS


def checkpoint(paths: Sequence[Path], reader: JsonlReader, parser: object) -> bytes | None:
    """A resume point: `parser` (pickled) as of the last whole line `reader` read of the
    last of `paths`, before the reader's skipped lines were added to the issues (`account`),
    with what proves later that the files only grew: the state of the others, and a digest
    of every byte of the last one up to that line. None when a file cannot be read."""
    import pickle

    others = file_state(paths[:-1])
    digest = _prefix_digest(paths[-1], reader.offset, (reader.device, reader.inode))
    if others is None or digest is None:
        return None
    carried = (reader.bad, reader.repaired, reader.oversized)
    payload = pickle.dumps(
        (RESUME_FORMAT, [str(p) for p in paths], others, reader.offset, digest, carried, parser),
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    return zlib.crc32(payload).to_bytes(4, "big") + payload


def resume(paths: Sequence[Path], token: bytes) -> Resumed | None:
    """The parser a `checkpoint` holds, when the files are the same ones and only the last
    grew past its point (its bytes up to there unchanged, the others unchanged); else None,
    and the caller reads everything again."""
    import pickle

    payload = token[4:]
    if len(token) < 4 or zlib.crc32(payload).to_bytes(4, "big") != token[:4]:
        return None
    try:
        fmt, names, others, offset, digest, carried, parser = pickle.loads(payload)
    except Exception:  # an older or foreign token: read again
        return None
    if fmt != RESUME_FORMAT or names != [str(p) for p in paths]:
        return None
    if file_state(paths[:-1]) != others or _prefix_digest(paths[-1], offset) != digest:
        return None
    bad, repaired, oversized = carried
    return Resumed(parser, offset, (bad, repaired, oversized))


def _prefix_digest(
    path: Path, offset: int, identity: tuple[int, int] | None = None
) -> bytes | None:
    """A digest of the first `offset` bytes of `path`, if it is at least that long (and
    still the file of that device and inode, when `identity` names them)."""
    import hashlib

    fh, _ = open_regular(path)  # never waits on a FIFO put in the log's place
    if fh is None:
        return None
    try:
        with fh:
            st = os.fstat(fh.fileno())
            if st.st_size < offset or identity not in (None, (st.st_dev, st.st_ino)):
                return None
            digest = hashlib.blake2b(digest_size=16)
            left = offset
            while left:
                chunk = fh.read(min(left, 1 << 20))
                if not chunk:
                    return None
                digest.update(chunk)
                left -= len(chunk)
            return digest.digest()
    except (OSError, ValueError):
        return None


def first_line(
    path: Path | str, limit: int = 1 << 20, *, state: tuple[int, int, int, int] | None = None
) -> dict[str, Any] | None:
    """Decode only the first line of a file (cheap discovery); None if it is not JSON or
    not a readable regular file.

    While `heads` holds a memo (the catalog lends it the index's during discovery), a file
    whose device, inode, size and mtime are unchanged is not opened again (`state`: the
    caller's own stat of it)."""
    line: bytes | None = None
    memo = heads.memo
    if memo is not None:
        state = state or stat_state(path)
        if state is None:
            return None
        known = memo.get(str(path))
        if known is not None and known[0] == state:
            line = known[1]
    if line is None:
        fh, _ = open_regular(path)
        if fh is None:
            return None
        try:
            with fh:
                line = fh.readline(limit)
        except OSError:
            return None
        if state is not None and memo is not None and len(line) <= heads.MAX_LINE:
            heads.new[str(path)] = (state, line)
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        obj = lenient_loads(line)
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


FileState = tuple[int, int, int, int]  # (device, inode, size, mtime_ns): changed or not


def state_of(st: os.stat_result) -> FileState:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def stat_state(path: Path | str) -> FileState | None:
    """The state of the file at `path`, None when it cannot be read."""
    try:
        return state_of(os.stat(path))
    except (OSError, ValueError):
        return None


def file_state(paths: Iterable[Path]) -> list[FileState] | None:
    """The state of each file, None when one cannot be read."""
    out = []
    for path in paths:
        state = stat_state(path)
        if state is None:
            return None
        out.append(state)
    return out


class _Heads:
    """First lines already read, by path, with the file state they were read at."""

    MAX_LINE = 1 << 16

    def __init__(self) -> None:
        self.memo: dict[str, tuple[tuple[int, int, int, int], bytes]] | None = None
        self.new: dict[str, tuple[tuple[int, int, int, int], bytes]] = {}


heads = _Heads()


def display(path: Path | str) -> str:
    """A path as text that can always be printed (undecodable bytes shown as U+FFFD)."""
    return _LONE_SURROGATE.sub("\ufffd", str(path))


def parse_ts(value: Any) -> datetime | None:
    """ISO-8601 timestamp to an aware UTC datetime; None for anything else, including
    times outside 1970-2199 (an offset at the edge of the range overflows arithmetic)."""
    if not isinstance(value, str) or not 10 <= len(value) <= 64:
        return None
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        ts = datetime.fromisoformat(text)
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        elif ts.tzinfo is not timezone.utc:
            ts = ts.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    return ts if MIN_TIME <= ts < MAX_TIME else None


def tokens(value: Any, issues: ParseIssues, ceiling: int = MAX_REQUEST_TOKENS) -> int:
    """A token count: 0 when absent; a wrong type, a negative number or one above
    `ceiling` is skipped (0) and counted in `issues`."""
    if type(value) is int and 0 <= value <= ceiling:  # the common case, first
        return value
    found = count_or_none(value, issues, ceiling)
    return found or 0


def count_or_none(value: Any, issues: ParseIssues, ceiling: int = MAX_REQUEST_TOKENS) -> int | None:
    """A token count, or None when the field is absent or unusable (counted in `issues`),
    for callers to whom a missing value differs from 0."""
    if type(value) is int and 0 <= value <= ceiling:
        return value
    if value is None:
        return None
    number: float | int
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        issues.wrong_types += 1
        return None
    if isinstance(value, str):
        try:
            number = int(value) if len(value) < _MAX_INT_DIGITS else math.inf
        except ValueError:
            issues.wrong_types += 1
            return None
    elif isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        issues.wrong_types += 1  # 1.5 tokens: not a count
        return None
    else:
        number = value
    if number != number or not 0 <= number <= ceiling:  # NaN, negative, implausible
        issues.implausible_values += 1
        return None
    return int(number)


def money(value: Any, issues: ParseIssues, ceiling: float = MAX_AGENT_COST_USD) -> float | None:
    """A dollar figure: finite, 0..ceiling; None when absent or unusable (counted)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        issues.wrong_types += 1
        return None
    if not (math.isfinite(value) and 0 <= value <= ceiling):
        issues.implausible_values += 1
        return None
    return float(value)


def as_int(value: Any) -> int:
    """A non-negative count as logged (ints, sometimes floats or numeric strings) for
    adapters without per-field issue counting; anything else, or anything above
    MAX_TOTAL_TOKENS, is 0."""
    if type(value) is int:  # the common case first
        return value if 0 < value <= MAX_TOTAL_TOKENS else 0
    if isinstance(value, bool):
        return 0
    if isinstance(value, str):
        if len(value) >= _MAX_INT_DIGITS:
            return 0
        try:
            value = int(value)
        except ValueError:
            return 0
    if isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= MAX_TOTAL_TOKENS:
        return int(value)
    return 0


def as_dict(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty one: logs drift, parsers shouldn't."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    """A non-empty string, or None."""
    return value if isinstance(value, str) and value else None


def text_len(value: Any) -> int:
    """Characters of a text field; 0 when it is not a string."""
    return len(value) if isinstance(value, str) else 0


def scan_dir(folder: Path, skipped: list[str]) -> list[Path]:
    """The entries of `folder`, sorted; an unreadable folder is named in `skipped` (a
    missing one is not: most agents are simply not installed)."""
    try:
        return sorted(folder.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        skipped.append(f"{display(folder)}: folder not readable ({_os_reason(exc)})")
        return []


def scan_entries(folder: Path | str, skipped: list[str]) -> list[os.DirEntry[str]]:
    """`scan_dir` without a `Path` per entry: the entries of `folder` sorted by name, whose
    kind (`is_dir`, `is_file`) costs no system call. Not being a folder counts as missing."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        skipped.append(f"{display(folder)}: folder not readable ({_os_reason(exc)})")
        return []
    except ValueError:  # a NUL in the name
        return []
    entries.sort(key=_entry_name)
    return entries


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def suffix(name: str) -> str:
    """`Path(name).suffix`, without making a Path."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def regular_state(path: Path | str) -> tuple[str | None, FileState | None]:
    """(why `path`, symlinks followed, is not a readable regular file, or None; and its
    state when it is one): `irregular` and `state_of` from one stat."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return _os_reason(exc), None
    except ValueError:
        return "an unusable name", None
    if not stat.S_ISREG(st.st_mode):
        return _kind(st.st_mode), None
    return None, state_of(st)


def walk_files(root: Path, pattern: str, skipped: list[str]) -> list[str]:
    """Every file under `root` whose name matches the glob `pattern`, as text, in the order
    of their `Path`s (by component); symlinked folders are not followed (no loops) and
    unreadable folders are named in `skipped`."""
    import fnmatch

    found: list[str] = []

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename is not None else root
        if isinstance(exc, FileNotFoundError) and where == root:
            return  # the agent is not installed
        skipped.append(f"{display(where)}: folder not readable ({_os_reason(exc)})")

    for folder, _dirs, names in os.walk(root, onerror=unreadable, followlinks=False):
        found.extend(os.path.join(folder, n) for n in fnmatch.filter(names, pattern))
    found.sort(key=_components)
    return found


def _components(path: str) -> list[str]:
    return path.split(os.sep)


def ms_ts(value: Any) -> datetime | None:
    """Milliseconds since the epoch (as OpenCode and Pi write them) to an aware datetime."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        ts = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return ts if MIN_TIME <= ts < MAX_TIME else None


def as_float(value: Any) -> float | None:
    """A recorded figure (dollars, a percentage, seconds): a finite non-negative number
    (or numeric string), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number >= 0 and math.isfinite(number) else None


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
        where = display(where)
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
