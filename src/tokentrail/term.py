"""The terminal: how wide it is, tables and prose that fit it, colour, and progress.

Tables shorten ids, subjects and paths first and then drop their least important columns;
they never wrap a row onto a second line. The width is the terminal's, or `COLUMNS`, or 80
when the output is not a terminal. Colour and progress appear only on a terminal, and
colour honours `NO_COLOR` and `--no-color`.

The project's own table code is used rather than a library such as rich: `tokentrail check`
runs in every pre-commit hook, and importing rich's console and table costs more than the
whole check on a warm cache (measured with `python -X importtime`, see the report of
issue 15), for what is here a hundred lines.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

DEFAULT_WIDTH = 80
MIN_WIDTH = 40
GAP = 2
NEVER_DROP = 100


def width(stream: IO[Any] | None = None) -> int:
    """`COLUMNS` when set, else the terminal's width, else 80 (output to a file or pipe)."""
    raw = os.environ.get("COLUMNS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return max(int(raw), MIN_WIDTH)
    try:
        fd = (stream or sys.stdout).fileno()
        columns = os.get_terminal_size(fd).columns if os.isatty(fd) else 0
        if columns > 0:  # a terminal that reports no size (a new pty) gets the default
            return max(columns, MIN_WIDTH)
    except (AttributeError, OSError, ValueError):
        pass
    return DEFAULT_WIDTH


def is_tty(stream: IO[Any]) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False


# --- tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column and how it gives way when the table is too wide.

    `shrink` is the narrowest a column of ids, subjects or paths may be shortened to (0: it
    keeps its width); `cut` says which end loses characters (`start` keeps a path's file
    name). Columns with the lowest `keep` are dropped first when shortening is not enough;
    `NEVER_DROP` keeps a column whatever happens. A column with `instead_of` stands in for
    others (a token total for the token kinds) and is shown only once one of them is gone.
    """

    header: str
    right: bool = False
    shrink: int = 0
    cut: str = "end"
    keep: int = NEVER_DROP
    instead_of: tuple[str, ...] = ()


def cut(text: str, size: int, where: str = "end") -> str:
    """`text` in at most `size` characters, an ellipsis marking what was left out."""
    if len(text) <= size:
        return text
    if size <= 1:
        return text[:size]
    if where == "start":
        return "…" + text[-(size - 1) :]
    return text[: size - 1] + "…"


def _natural(columns: Sequence[Column], rows: Sequence[Sequence[str]], i: int) -> int:
    return max([len(columns[i].header), *(len(r[i]) for r in rows)])


def _shrunk(
    columns: Sequence[Column], natural: dict[int, int], shown: list[int], limit: int, floor: int
) -> dict[int, int] | None:
    """Widths for the shown columns within `limit`, shortening the widest shrinkable column
    one character at a time (down to its `shrink`, or to `floor` when that is given)."""
    widths = {i: natural[i] for i in shown}
    excess = sum(widths.values()) + GAP * (len(shown) - 1) - limit
    while excess > 0:
        room = [i for i in shown if columns[i].shrink and widths[i] > (floor or columns[i].shrink)]
        if not room:
            return None
        widest = max(room, key=lambda i: (widths[i], -i))
        widths[widest] -= 1
        excess -= 1
    return widths


def fit(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], limit: int | None
) -> tuple[list[int], dict[int, int]]:
    """Which columns to show and how wide, so each line fits in `limit` characters."""
    natural = {i: _natural(columns, rows, i) for i in range(len(columns))}
    shown = [i for i, c in enumerate(columns) if not c.instead_of]
    if limit is None:
        return shown, {i: natural[i] for i in shown}
    dropped: set[int] = set()
    while True:
        widths = _shrunk(columns, natural, shown, limit, 0)
        if widths is not None:
            return shown, widths
        droppable = [i for i in shown if columns[i].keep < NEVER_DROP]
        if not droppable:
            break
        victim = min(droppable, key=lambda i: (columns[i].keep, -i))
        shown.remove(victim)
        dropped.add(victim)
        gone = {columns[i].header for i in dropped}
        for i, column in enumerate(columns):
            if i not in shown and i not in dropped and gone & set(column.instead_of):
                shown.append(i)
        shown.sort()
    # Still too wide with only the columns that must stay: shorten harder; a line that
    # still does not fit is cut at the edge by `table`.
    widths = _shrunk(columns, natural, shown, limit, 3)
    if widths is None:
        widths = {i: min(natural[i], 3) if columns[i].shrink else natural[i] for i in shown}
    return shown, widths


def table(
    headers: Sequence[Column | str],
    rows: Sequence[Sequence[str]],
    right: set[int] | frozenset[int] = frozenset(),
    *,
    limit: int | None = None,
) -> str:
    """Aligned columns under a header and a rule; fitted to `limit` characters when given
    (columns as `Column`s say how they give way; plain strings never do)."""
    columns = [
        h if isinstance(h, Column) else Column(h, right=i in right) for i, h in enumerate(headers)
    ]
    shown, widths = fit(columns, rows, limit)

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i in shown:
            column, size = columns[i], widths[i]
            text = cut(cells[i], size, column.cut)
            parts.append(text.rjust(size) if column.right else text.ljust(size))
        out = (" " * GAP).join(parts).rstrip()
        return cut(out, limit) if limit is not None else out

    header = line([c.header for c in columns])
    rule = line(["-" * widths.get(i, 0) for i in range(len(columns))])
    return "\n".join([header, rule, *map(line, rows)])


# --- prose ----------------------------------------------------------------------------------


def wrap(
    text: str,
    limit: int | None,
    indent: str = "",
    first: str = "",
    *,
    break_words: bool = True,
) -> str:
    """A paragraph wrapped to `limit` columns; `first` starts its first line and `indent`
    the others. Words longer than a line are broken unless `break_words` is false (a path
    or command meant to be copied)."""
    head = first
    if limit is None:
        return head + text
    return textwrap.fill(
        text,
        width=max(limit, len(head) + 10, len(indent) + 10),
        initial_indent=head,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=break_words,
    )


def wrap_lines(text: str, limit: int | None, indent: str = "  ") -> str:
    """Every line of `text` that is too long wrapped, continuing under `indent` plus the
    line's own leading spaces; a single word (a path) longer than a line stays whole."""
    if limit is None:
        return text
    out = []
    for raw in text.split("\n"):
        if len(raw) <= limit:
            out.append(raw)
            continue
        lead = raw[: len(raw) - len(raw.lstrip(" "))]
        out.append(wrap(raw.strip(" "), limit, lead + indent, lead, break_words=False))
    return "\n".join(out)


# --- colour ---------------------------------------------------------------------------------

RED, YELLOW, BOLD_RED, RESET = "\033[31m", "\033[33m", "\033[1;31m", "\033[0m"
_PAINT = (
    (re.compile(r"\bOVER(?: by <?\$[\d,.]+)?"), BOLD_RED),
    (re.compile(r"\bover budget\b[^\n]*"), RED),
    (re.compile(r"^FAILED\b[^\n]*", re.M), RED),
    (re.compile(r"\b\d+ unpriced\b|\bunpriced\b"), YELLOW),
    (re.compile(r"\bwarning:"), YELLOW),
    (re.compile(r"\berror:"), BOLD_RED),
)
_ANSI = re.compile(r"\033\[[0-9;]*m")


def color_wanted(stream: IO[Any], disabled: bool = False) -> bool:
    """Colour only on a terminal, never with `NO_COLOR` (any value) or `--no-color`."""
    if disabled or os.environ.get("NO_COLOR"):
        return False
    return is_tty(stream)


def paint(text: str) -> str:
    """Over-budget verdicts and failures in red, warnings and unpriced figures in yellow."""
    for pattern, color in _PAINT:
        text = pattern.sub(_painter(color), text)
    return text


def _painter(color: str) -> Callable[[re.Match[str]], str]:
    return lambda match: f"{color}{match[0]}{RESET}"


def plain(text: str) -> str:
    """`text` without colour codes."""
    return _ANSI.sub("", text)


# --- progress -------------------------------------------------------------------------------


class Progress:
    """`label done/total` on one stderr line, rewritten in place: shown only once the work
    has taken longer than `delay` seconds, at most `rate` times a second, and wiped when
    the work is done. Without `escapes` (NO_COLOR, --no-color) the line is rewritten and
    wiped with carriage returns and spaces alone: no escape sequence is ever written."""

    def __init__(
        self,
        stream: IO[str],
        label: str,
        delay: float = 1.0,
        rate: float = 10.0,
        escapes: bool = True,
    ):
        self.stream = stream
        self.label = label
        self.delay = delay
        self.interval = 1.0 / rate
        self.escapes = escapes
        self.started: float | None = None
        self.shown_at = 0.0
        self.drawn = False
        self.width = 0  # the longest line drawn (what a wipe without escapes must cover)

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        if done >= total:
            self.close()  # the work is done: never leave the line under what is printed next
            return
        if now - self.started < self.delay:
            return
        if now - self.shown_at < self.interval:
            return
        self.shown_at = now
        line = f"{self.label} {done:,}/{total:,}"
        if self.escapes:
            self.stream.write(f"\r{line}\033[K")
        else:
            self.stream.write(f"\r{line.ljust(self.width)}")
        self.width = max(self.width, len(line))
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K" if self.escapes else f"\r{' ' * self.width}\r")
            self.stream.flush()
            self.drawn = False
