"""Parsing in worker processes gives exactly what parsing in-process gives."""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import isolated_env, tokentrail
from tests.logs import claude_call, write_jsonl
from tokentrail.builtin.claude_code import ClaudeCodeAdapter
from tokentrail.demo import Bash, Filler, Reply, write_claude_session
from tokentrail.index import Index
from tokentrail.logfile import file_state
from tokentrail.model import SessionRef
from tokentrail.parse_pool import MIN_BYTES, MIN_FILES, Job, parse_all, workers
from tokentrail.plugins import get_plugin_manager


def test_workers_and_in_process_parsing_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = big_home(tmp_path, monkeypatch)
    jobs = [Job("claude-code", ClaudeCodeAdapter(), r, "v") for r in refs]
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


class KilledInWorker(ClaudeCodeAdapter):
    """A real adapter whose parse dies (SIGKILL, as the OOM killer would) when it runs in a
    worker process on one chosen session."""

    def __init__(self, victim: str) -> None:
        self.victim = victim
        self.parent = os.getpid()

    def parse(self, ref: SessionRef) -> Any:
        if os.getpid() != self.parent and ref.id == self.victim:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().parse(ref)


def big_home(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[SessionRef]:
    start = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    for i in range(MIN_FILES + 4):
        write_claude_session(
            tmp / "claude",
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
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp / "claude"))
    refs = list(ClaudeCodeAdapter().discover(None))
    assert sum(r.size for r in refs) >= MIN_BYTES
    return refs


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_killed_worker_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refs = big_home(tmp_path, monkeypatch)
    monkeypatch.setenv("TOKENTRAIL_JOBS", "2")
    pm = get_plugin_manager()
    adapter = KilledInWorker(victim=refs[3].id)
    jobs = [Job("claude-code", adapter, r, "v", "d", None) for r in refs]
    assert workers(jobs) == 2
    index = Index(tmp_path / "pooled.sqlite3")
    try:
        done = parse_all(jobs, index, pm, "p")
        assert all(isinstance(result, int) for _, result in done)
        stored = index.sessions([result for _, result in done])  # type: ignore[misc]
        by_id = {s.id: s for s in stored.values()}
        for ref in refs:
            stored_session = by_id[ref.id]
            for request in stored_session.requests:  # the index stores them priced
                request.cost_usd = request.price_source = None
            assert stored_session == ClaudeCodeAdapter().parse(ref), ref.id
    finally:
        index.close()


class AppendsWhileRead(ClaudeCodeAdapter):
    """The agent writes another call to the log while tokentrail is reading it."""

    def __init__(self, line: bytes) -> None:
        self.line = line

    def parse_resumable(self, ref: SessionRef, previous: Any, token: Any) -> Any:
        result = super().parse_resumable(ref, previous, token)
        if self.line:
            with ref.path.open("ab") as fh:
                fh.write(self.line)
            self.line = b""
        return result


def test_a_log_appended_while_it_is_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = write_jsonl(
        tmp_path / "claude" / "projects" / "-work-app" / "s1.jsonl",
        claude_call(1, "2026-02-10T12:00:00.000Z", "claude-sonnet-4-5", read=1000),
    )
    extra = "".join(
        json.dumps(r) + "\n"
        for r in claude_call(2, "2026-02-10T12:01:00.000Z", "claude-sonnet-4-5", read=2000)
    ).encode()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    (ref,) = ClaudeCodeAdapter().discover(None)
    pm = get_plugin_manager()
    index = Index(tmp_path / "index.sqlite3")
    try:
        state = file_state(ref.paths)
        job = Job("claude-code", AppendsWhileRead(extra), ref, "v", "before", state)
        ((_, sid),) = parse_all([job], index, pm, "p")
        key = (ref.agent, ref.id, str(ref.path))
        assert index.known([key])[key].digest == ""  # not "before": read again next time
        assert len(index.sessions([sid])[sid].requests) == 1  # what was read is kept
    finally:
        index.close()
    assert log.stat().st_size > state[0][2]
