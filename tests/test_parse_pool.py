"""Parsing in worker processes gives exactly what parsing in-process gives."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.cli_run import isolated_env, tokentrail
from tokentrail.builtin.claude_code import ClaudeCodeAdapter
from tokentrail.demo import Bash, Filler, Reply, write_claude_session
from tokentrail.parse_pool import MIN_BYTES, MIN_FILES, Job, workers


def test_workers_and_in_process_parsing_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    for i in range(MIN_FILES + 4):
        write_claude_session(
            tmp_path / "claude",
            f"/work/app{i % 3}",
            branch="main",
            start=start + timedelta(hours=i),
            seed=f"pool-{i}",
            events=[
                *[Bash("npm test", output_chars=400_000, exit_code=1)] * 6,
                Filler(20),
                Reply(),
            ],
        )
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    refs = list(ClaudeCodeAdapter().discover(None))
    jobs = [Job("claude-code", ClaudeCodeAdapter(), r, "v") for r in refs]
    assert sum(r.size for r in refs) >= MIN_BYTES
    env = isolated_env(
        tmp_path / "home",
        CLAUDE_CONFIG_DIR=tmp_path / "claude",
        CODEX_HOME=tmp_path / "codex",
        TOKENTRAIL_NO_CACHE="1",
    )
    monkeypatch.setenv("TOKENTRAIL_JOBS", "2")
    assert workers(jobs) == (2 if sys.platform == "linux" else 1)
    assert workers(jobs[: MIN_FILES - 1]) == 1  # too few files to be worth a pool
    serial = tokentrail("sessions", "--json", env={**env, "TOKENTRAIL_JOBS": "1"}).stdout
    pooled = tokentrail("sessions", "--json", env={**env, "TOKENTRAIL_JOBS": "2"}).stdout
    assert pooled == serial
    doc = json.loads(serial)
    assert doc["totals"]["sessions"] == MIN_FILES + 4 and doc["totals"]["requests"] > 0
