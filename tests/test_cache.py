"""The parsed-session cache: used when it matches, rebuilt when stale or corrupt."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.cli_run import isolated_env, tokentrail_json
from tests.logs import claude_call, write_jsonl

TS = "2026-02-10T12:0{}:00.000Z"


def setup(tmp: Path) -> tuple[Path, dict[str, str]]:
    log = write_jsonl(
        tmp / "claude" / "projects" / "-work-app" / "s1.jsonl",
        claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=10),
    )
    env = isolated_env(
        tmp / "home",
        CLAUDE_CONFIG_DIR=tmp / "claude",
        CODEX_HOME=tmp / "x",
        TOKENTRAIL_CACHE_DIR=tmp / "cache",
    )
    return log, env


def entries(tmp: Path) -> list[Path]:
    return sorted((tmp / "cache").rglob("*.pickle"))


def test_second_run_reads_the_cache_and_gives_the_same_answer(tmp_path: Path) -> None:
    log, env = setup(tmp_path)
    first = tokentrail_json("sessions", env=env)
    assert len(entries(tmp_path)) == 1
    # Same size and mtime, different content: only a cache hit can still answer 1000.
    st = log.stat()
    log.write_bytes(
        log.read_bytes().replace(
            b'"cache_read_input_tokens": 1000', b'"cache_read_input_tokens": 9999'
        )
    )
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = tokentrail_json("sessions", env=env)
    assert second["sessions"] == first["sessions"]
    assert second["sessions"][0]["cache_read_tokens"] == 1000


def test_a_grown_log_is_parsed_again(tmp_path: Path) -> None:
    log, env = setup(tmp_path)
    assert tokentrail_json("sessions", env=env)["sessions"][0]["requests"] == 1
    with log.open("a") as fh:
        for rec in claude_call(2, TS.format(1), "claude-sonnet-4-5", read=2000, out=20):
            fh.write(json.dumps(rec) + "\n")
    row = tokentrail_json("sessions", env=env)["sessions"][0]
    assert row["requests"] == 2 and row["cache_read_tokens"] == 3000


def test_corrupt_or_truncated_entries_are_rebuilt_never_trusted(tmp_path: Path) -> None:
    _, env = setup(tmp_path)
    good = tokentrail_json("sessions", env=env)["sessions"]
    (entry,) = entries(tmp_path)
    blob = entry.read_bytes()
    for damaged in (
        blob[: len(blob) // 2],
        blob.replace(b"claude-sonnet-4-5", b"claude-opus-4-6"),
        b"garbage",
        b"",
    ):
        entry.write_bytes(damaged)
        assert tokentrail_json("sessions", env=env)["sessions"] == good
        assert entry.read_bytes() == blob  # rewritten whole


def test_concurrent_runs_share_the_cache_safely(tmp_path: Path) -> None:
    _, env = setup(tmp_path)
    with ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(lambda _: tokentrail_json("sessions", env=env)["sessions"], range(6))
        )
    assert all(r == results[0] for r in results)
    assert len(entries(tmp_path)) == 1
    assert not list((tmp_path / "cache").rglob(".tmp-*"))


def test_cache_can_be_disabled(tmp_path: Path) -> None:
    _, env = setup(tmp_path)
    env["TOKENTRAIL_NO_CACHE"] = "1"
    tokentrail_json("sessions", env=env)
    assert entries(tmp_path) == []
