"""logfile: hostile bytes, hostile files and hostile values never cost a valid line; and
schema drift is said out loud: record types an adapter has never seen, and files in which
it recognises nothing, give one warning line with the count (through the Claude Code and
Codex adapters, on the corpus's drift fixture and on a rollout of a new shape)."""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.cli_inprocess import run_json
from tests.cli_run import CORPUS
from tests.logs import codex_rollout
from tokentrail.logfile import (
    MAX_REQUEST_TOKENS,
    RecordKinds,
    count_or_none,
    first_line,
    lenient_loads,
    money,
    open_regular,
    parse_ts,
    read_jsonl,
    tokens,
    walk_files,
)
from tokentrail.model import ParseIssues

GOOD = b'{"n": 1, "text": "ok"}\n'


def read(path: Path, **kwargs: Any) -> tuple[list[dict[str, Any]], ParseIssues]:
    issues = ParseIssues()
    return list(read_jsonl(path, issues, **kwargs)), issues


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'\xef\xbb\xbf{"n": 2}\n', {"n": 2}),  # a BOM
        (b'{"n": 2, "text": "caf\xe9 \xff"}\n', {"n": 2, "text": "caf\ufffd \ufffd"}),
        (b'{"n": 2, "text": "a\x00b"}\x00\n', {"n": 2, "text": "a b"}),  # NUL bytes
        (b'{"n": 2, "text": "\\ud83d lone"}\n', {"n": 2, "text": "\ufffd lone"}),
        (b'{"n": 2, "text": "raw\x01control"}\r\n', {"n": 2, "text": "raw\x01control"}),
        (b'{"n": 2, "big": 18446744073709551616}\n', {"n": 2, "big": 18446744073709551616}),
        (b'{"n": 2, "inf": 1e400, "nan": NaN}\n', {"n": 2, "inf": math.inf, "nan": None}),
    ],
)
def test_lines_orjson_rejects_are_read_leniently_and_counted(
    tmp_path: Path, raw: bytes, expected: dict[str, Any]
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(GOOD + raw + GOOD)
    records, issues = read(path)
    assert records[1] == expected
    assert [r["n"] for r in records] == [1, 2, 1]
    assert issues.repaired_lines in (0, 1)  # NaN/1e400 lines are orjson-invalid too
    assert issues.bad_lines == issues.truncated_lines == 0


def test_a_lone_surrogate_line_keeps_its_tokens(tmp_path: Path) -> None:
    """Valid JSON as JavaScript writes it: orjson refuses it, the tokens must survive."""
    line = b'{"usage": {"input_tokens": 1234}, "text": "\\udc80"}\n'
    path = tmp_path / "log.jsonl"
    path.write_bytes(line)
    [record], issues = read(path)
    assert record["usage"]["input_tokens"] == 1234
    assert issues.repaired_lines == 1
    assert "read 1 line(s) leniently" in issues.warnings[0]


def test_garbled_truncated_and_overlong_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    long_line = b'{"x": "' + b"a" * 5000 + b'"}\n'
    path.write_bytes(GOOD + b"{nope\n" + long_line + GOOD + b'{"n": 3, "partial')
    records, issues = read(path, max_line=1000)
    assert [r["n"] for r in records] == [1, 1]
    assert (issues.bad_lines, issues.truncated_lines) == (2, 1)
    assert any("longer than 1,000 bytes" in w for w in issues.warnings)


def test_lenient_loads_refuses_what_is_not_json() -> None:
    assert lenient_loads(b"{nope") is None
    assert lenient_loads(b"[" * 100_000) is None  # too deep: no RecursionError escapes
    assert lenient_loads(b"\xff\xfe") is None


def _read_in_thread(path: Path) -> tuple[list[dict[str, Any]], ParseIssues] | None:
    """read() with a deadline: a FIFO that blocked the reader would hang the suite."""
    out: list[tuple[list[dict[str, Any]], ParseIssues]] = []
    worker = threading.Thread(target=lambda: out.append(read(path)), daemon=True)
    worker.start()
    worker.join(10)
    return out[0] if out else None


def test_a_fifo_a_device_a_loop_and_a_dangling_link_are_refused_not_hung(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.jsonl"
    zero.symlink_to("/dev/zero")
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(tmp_path / "nowhere")
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    expected = {
        fifo: "a FIFO",
        zero: "a device",
        loop: "a symlink loop",
        dangling: "missing or a dangling symlink",
        folder: "a folder",
    }
    for path, why in expected.items():
        result = _read_in_thread(path)
        assert result is not None, f"reading {path.name} hung"
        records, issues = result
        assert records == []
        assert issues.skipped_files == [f"{path}: {why}"]
        assert issues.warnings == [f"{path}: not read ({why}); its requests are not counted"]
        assert first_line(path) is None


def test_a_regular_file_through_a_symlink_is_read(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_bytes(GOOD)
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    fh, why = open_regular(link)
    assert fh is not None and why == ""
    fh.close()
    assert read(link)[0] == [{"n": 1, "text": "ok"}]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_files_and_folders_are_named(tmp_path: Path) -> None:
    secret = tmp_path / "secret.jsonl"
    secret.write_bytes(GOOD)
    secret.chmod(0)
    assert read(secret)[1].skipped_files == [f"{secret}: permission denied"]
    folder = tmp_path / "locked"
    (folder / "inner").mkdir(parents=True)
    folder.chmod(0)
    try:
        skipped: list[str] = []
        assert walk_files(tmp_path, "*.jsonl", skipped) == [str(secret)]
        assert skipped == [f"{folder}: folder not readable (permission denied)"]
    finally:
        folder.chmod(0o755)


def test_walk_files_does_not_follow_folder_links(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "rollout-1.jsonl").write_bytes(GOOD)
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    skipped: list[str] = []
    assert walk_files(tmp_path, "rollout-*.jsonl", skipped) == [
        str(tmp_path / "a" / "rollout-1.jsonl")
    ]
    assert walk_files(tmp_path / "missing", "*", skipped) == [] and skipped == []


def test_walk_files_lists_in_the_order_of_paths(tmp_path: Path) -> None:
    """Text paths come in the order `Path`s sort in (by component): "a/x" before "a-b/x",
    though "-" sorts before "/" as text."""
    for folder in ("a", "a-b", "a.b", "a/c"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "rollout-1.jsonl").write_bytes(GOOD)
    found = walk_files(tmp_path, "rollout-*.jsonl", [])
    assert found == [str(p) for p in sorted(map(Path, found))]
    assert found.index(str(tmp_path / "a" / "c" / "rollout-1.jsonl")) < found.index(
        str(tmp_path / "a-b" / "rollout-1.jsonl")
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-01T10:00:00.123Z", datetime(2026, 2, 1, 10, 0, 0, 123000, timezone.utc)),
        ("2026-02-01T12:00:00+02:00", datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc)),
        ("2026-02-01T10:00:00", datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc)),
        ("0001-01-01T00:00:00+05:00", None),  # overflows when made UTC
        ("9999-12-31T23:59:59-05:00", None),
        ("1969-12-31T23:59:59Z", None),
        ("2200-01-01T00:00:00Z", None),
        ("2026-13-01T00:00:00Z", None),
        ("2026-02-01" + "9" * 100, None),
        (1738400000, None),
        (["2026-02-01T10:00:00Z"], None),
        ("", None),
    ],
)
def test_timestamps_are_parsed_defensively(value: Any, expected: datetime | None) -> None:
    assert parse_ts(value) == expected


@pytest.mark.parametrize(
    ("value", "count", "implausible", "wrong"),
    [
        (1234, 1234, 0, 0),
        (None, 0, 0, 0),
        (12.0, 12, 0, 0),
        (1.5, 0, 0, 1),  # not a count
        ("57", 57, 0, 0),
        (MAX_REQUEST_TOKENS, MAX_REQUEST_TOKENS, 0, 0),
        (MAX_REQUEST_TOKENS + 1, 0, 1, 0),
        (2**64, 0, 1, 0),
        (1e21, 0, 1, 0),
        (10**30, 0, 1, 0),
        (-5, 0, 1, 0),
        (math.nan, 0, 1, 0),
        (math.inf, 0, 1, 0),
        ("9" * 5000, 0, 1, 0),
        (True, 0, 0, 1),
        ("abc", 0, 0, 1),
        ([5], 0, 0, 1),
        ({"n": 5}, 0, 0, 1),
    ],
)
def test_token_counts_reject_wrong_types_and_implausible_values(
    value: Any, count: int, implausible: int, wrong: int
) -> None:
    issues = ParseIssues()
    assert tokens(value, issues) == count
    assert (issues.implausible_values, issues.wrong_types) == (implausible, wrong)
    assert count_or_none(None, issues) is None


def test_money_is_finite_and_bounded() -> None:
    issues = ParseIssues()
    assert money(1.25, issues) == 1.25
    assert money(None, issues) is None
    for bad in (math.nan, math.inf, -1.0, 1e12, "1.0", True):
        assert money(bad, issues) is None
    assert (issues.implausible_values, issues.wrong_types) == (4, 2)


DRIFT = CORPUS / "claude-code" / "jazzyalex-agent-sessions-synthetic" / "schema_drift.jsonl"


def test_record_kinds_counts_per_file() -> None:
    issues = ParseIssues()
    kinds = RecordKinds("acme", frozenset({"a", "b"}))
    for kind in ("a", "zz", "zz", None, "b"):
        kinds.see(kind)
    kinds.report("f1", issues)
    for kind in ("x", "y"):
        kinds.see(kind)
    kinds.report("f2", issues)
    kinds.report("f3", issues)  # nothing seen: nothing said
    assert issues.warnings == [
        "f1: skipped 3 acme record(s) of a type tokentrail does not know ((no type) ×1, zz ×2)",
        "f2: no acme record recognised in 2 record(s); a log format tokentrail does not know "
        "yet, nothing was counted from it",
    ]


def test_the_corpus_drift_fixture_is_warned_about(isolated_home: Path) -> None:
    folder = isolated_home / ".claude" / "projects" / "-tmp-project"
    folder.mkdir(parents=True)
    (folder / "ses_stage0_drift.jsonl").symlink_to(DRIFT)
    doc = run_json("sessions")
    assert doc["warnings"] == [
        f"{folder / 'ses_stage0_drift.jsonl'}: skipped 2 claude-code record(s) of a type "
        "tokentrail does not know (tool_result ×1, tool_use ×1)"
    ]


def test_a_rollout_of_a_new_shape(isolated_home: Path) -> None:
    day = isolated_home / ".codex" / "sessions" / "2026" / "02" / "01"
    rollout = codex_rollout(
        day / "rollout-2026-02-01T10-00-00-019c8a4c-ed82-79a1-aa28-7738fc5ab61a.jsonl",
        [(1000, 0, 10, 0)],
        model="gpt-5",
    )
    with rollout.open("a") as fh:
        fh.write(json.dumps({"timestamp": "2026-02-01T10:05:00Z", "type": "turn_summary"}) + "\n")
    new_shape = day / "rollout-2026-02-01T11-00-00-019c8a4c-ed82-79a1-aa28-7738fc5ab61b.jsonl"
    shutil.copy(rollout, new_shape)
    new_shape.write_text(
        "".join(json.dumps({"kind": "step", "usage": {"in": n}}) + "\n" for n in range(3))
    )
    doc = run_json("sessions", "--agent", "codex")
    assert doc["warnings"] == [
        f"{rollout}: skipped 1 codex record(s) of a type tokentrail does not know "
        "(turn_summary ×1)",
        f"{new_shape}: no codex record recognised in 3 record(s); a log format tokentrail "
        "does not know yet, nothing was counted from it",
    ]
    assert [row["requests"] for row in doc["sessions"]] == [1]
