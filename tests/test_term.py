"""The terminal helpers: tables that fit a width (shorten, then drop, never wrap), prose
wrapping, the width itself, colour and progress."""

from __future__ import annotations

import io

import pytest

from tokentrail import term
from tokentrail.term import Column, Progress, cut, fit, table, wrap, wrap_lines

COLUMNS = (
    Column("ID"),
    Column("SUBJECT", shrink=8),
    Column("INPUT", right=True, keep=20),
    Column("OUTPUT", right=True, keep=50),
    Column("TOKENS", right=True, keep=55, instead_of=("INPUT", "OUTPUT")),
    Column("COST", right=True),
)
ROWS = [
    ["d8e3b3d", "Retry failed requests with exponential backoff", "24", "5.3k", "6.1k", "$0.58"],
    ["13c9d66", "Test the retry loop", "13k", "6.4k", "1.1M", "<$0.01"],
]


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_a_table_with_room_shows_every_column_and_no_stand_in() -> None:
    out = table(COLUMNS, ROWS, limit=200)
    header = out.splitlines()[0].split()
    assert header == ["ID", "SUBJECT", "INPUT", "OUTPUT", "COST"]
    assert "Retry failed requests with exponential backoff" in out


def test_shortening_comes_before_dropping() -> None:
    full = widest(table(COLUMNS, ROWS, limit=None))
    out = table(COLUMNS, ROWS, limit=full - 10)
    assert widest(out) <= full - 10
    assert out.splitlines()[0].split() == ["ID", "SUBJECT", "INPUT", "OUTPUT", "COST"]
    assert "Retry failed requests with expo…" in out or "…" in out.splitlines()[2]


def test_the_least_important_column_goes_first_and_its_stand_in_appears() -> None:
    assert "INPUT" in table(COLUMNS, ROWS, limit=40)  # shortening SUBJECT is enough
    out = table(COLUMNS, ROWS, limit=36)
    assert widest(out) <= 36
    header = out.splitlines()[0].split()
    assert header == ["ID", "SUBJECT", "TOKENS", "COST"]
    assert "$0.58" in out and "<$0.01" in out


def test_columns_that_must_stay_are_shortened_hard_and_lines_cut_at_the_edge() -> None:
    must = [Column("A"), Column("B", shrink=10), Column("C")]
    rows = [["x" * 30, "y" * 30, "z" * 30]]
    out = table(must, rows, limit=50)
    assert widest(out) <= 50
    assert out.splitlines()[2].endswith("…")


def test_fit_reports_the_shown_columns_in_order() -> None:
    shown, widths = fit(COLUMNS, ROWS, 40)
    assert shown == sorted(shown)
    assert sum(widths[i] for i in shown) + term.GAP * (len(shown) - 1) <= 40


def test_plain_headers_never_give_way() -> None:
    out = table(["A", "B"], [["1", "2"]], {1})
    assert out.splitlines() == ["A  B", "-  -", "1  2"]


@pytest.mark.parametrize(("where", "expected"), [("end", "abcd…"), ("start", "…ghij")])
def test_cut(where: str, expected: str) -> None:
    assert cut("abcdefghij", 5, where) == expected
    assert cut("abc", 5, where) == "abc"


def test_wrap_indents_continuations_and_keeps_commands_whole() -> None:
    text = "Likely cause: accumulated tool output: 50% of input-side tokens, largest item 22%"
    out = wrap(text, 40, "  ")
    assert all(len(line) <= 40 for line in out.splitlines())
    assert out.splitlines()[1].startswith("  ") and not out.startswith(" ")
    command = "git -C /a/very/long/path/to/a/folder/that/never/ends log --notes=tokentrail"
    kept = wrap(command, 30, "", break_words=False)
    assert "/a/very/long/path/to/a/folder/that/never/ends" in kept.splitlines()[1]
    assert wrap(text, None, "  ") == text


def test_wrap_lines_only_touches_long_lines() -> None:
    text = "short\n    " + "word " * 30
    out = wrap_lines(text, 40)
    assert out.splitlines()[0] == "short"
    assert all(len(line) <= 40 for line in out.splitlines())
    assert all(line.startswith("    ") for line in out.splitlines()[1:])


def test_width_is_columns_then_the_terminal_then_80(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert term.width(io.StringIO()) == 100
    monkeypatch.setenv("COLUMNS", "12")
    assert term.width(io.StringIO()) == term.MIN_WIDTH
    monkeypatch.delenv("COLUMNS")
    assert term.width(io.StringIO()) == 80  # not a terminal


def test_paint_colours_verdicts_warnings_and_unpriced_only() -> None:
    text = "branch x: $3.06 of $2.00 branch budget: OVER by $1.06\nall fine here"
    painted = term.paint(text)
    assert f"{term.BOLD_RED}OVER by $1.06{term.RESET}" in painted
    assert painted.splitlines()[1] == "all fine here"
    assert term.YELLOW in term.paint("$0.10 + 33 unpriced")
    assert term.plain(painted) == text


def test_colour_needs_a_terminal_and_no_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert not term.color_wanted(io.StringIO())  # not a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    assert not term.color_wanted(io.StringIO())


def test_progress_waits_then_redraws_one_line_and_wipes_it_when_done() -> None:
    out = io.StringIO()
    bar = Progress(out, "reading:", delay=0.0, rate=1e9)
    for done in range(3):
        bar(done, 3)
    assert "\rreading: 2/3" in out.getvalue() and "\n" not in out.getvalue()
    bar(3, 3)  # done: the line is wiped before anything else is printed
    assert out.getvalue().endswith("\r\033[K")
    drawn = out.getvalue()
    bar.close()
    assert out.getvalue() == drawn  # nothing left to wipe


def test_progress_without_escapes_rewrites_and_wipes_with_spaces() -> None:
    """NO_COLOR / --no-color: the same line, but no escape sequence ever reaches the terminal."""
    out = io.StringIO()
    bar = Progress(out, "reading:", delay=0.0, rate=1e9, escapes=False)
    for done in (9, 10, 11):
        bar(done, 12)
    assert out.getvalue() == "\rreading: 9/12\rreading: 10/12\rreading: 11/12"
    bar(12, 12)
    assert out.getvalue().endswith(f"\r{' ' * len('reading: 11/12')}\r")
    assert "\033" not in out.getvalue() and "\n" not in out.getvalue()


def test_progress_stays_silent_for_short_work() -> None:
    out = io.StringIO()
    bar = Progress(out, "reading:", delay=60.0)
    bar(0, 10)
    bar(10, 10)
    bar.close()
    assert out.getvalue() == ""


def test_a_dropped_stand_in_stays_dropped_on_a_very_narrow_terminal() -> None:
    out = table(COLUMNS, ROWS, limit=20)
    assert widest(out) <= 20
    assert out.splitlines()[0].split() == ["ID", "SU…", "COST"]  # shortened to the bone
