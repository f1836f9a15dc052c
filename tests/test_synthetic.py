"""The synthetic writers, checked through the real CLI: what the writer says it wrote is
what `tokentrail sessions --json` finds, traps included."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests.cli_run import run_in_process
from tokentrail.demo import (
    HAIKU,
    Bash,
    Commit,
    Compact,
    Filler,
    Idle,
    Read,
    Reply,
    Task,
    UserPrompt,
    WrittenSession,
    call_times,
    write_claude_session,
    write_codex_session,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
TOKEN_KEYS = (
    "requests",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def run_cli(tmp: Path, *args: str) -> Any:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("TOKENTRAIL_CONFIG",)}
    env.update(
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(tmp / "claude"),
        CODEX_HOME=str(tmp / "codex"),
        TOKENTRAIL_PLUGINS="",
        TOKENTRAIL_NO_CACHE="1",
    )
    proc = run_in_process([*args, "--json"], env, tmp)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def rows_by_id(doc: Any) -> dict[str, Any]:
    return {row["id"]: row for row in doc["sessions"]}


def assert_matches(row: dict[str, Any], written: WrittenSession) -> None:
    assert {k: row[k] for k in TOKEN_KEYS} == written.totals.as_dict()


def busy_claude(tmp: Path, **kw: Any) -> WrittenSession:
    return write_claude_session(
        tmp / "claude",
        tmp / "repo",
        branch="feature/x",
        start=START,
        seed=7,
        events=[
            UserPrompt("Add retries."),
            Task("Explore", requests=4, model=HAIKU),
            Filler(6),
            Read("src/app.py", chars=9000),
            Read("src/app.py", chars=9000),
            Bash("npm test", output_chars=30000, exit_code=1),
            Commit("0123456789abcdef0123456789abcdef01234567", "Add retries"),
            Idle(20),
            Filler(4),
            Compact(),
            Filler(3),
            Reply(),
        ],
        **kw,
    )


def naive_usage_sum(paths: list[Path]) -> int:
    """What a parser that adds every `usage` it sees (split lines, progress copies,
    toolUseResult copies) would count: the traps the writer must set."""
    total = 0

    def walk(value: Any) -> None:
        nonlocal total
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "usage" and isinstance(item, dict):
                    total += int(item.get("cache_read_input_tokens") or 0)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in paths:
        for line in path.read_text().splitlines():
            walk(json.loads(line))
    return total


def test_claude_totals_match_the_writer(tmp_path: Path) -> None:
    written = busy_claude(tmp_path, placeholder_bug=0.3)
    doc = run_cli(tmp_path, "sessions")
    row = rows_by_id(doc)[written.id]
    assert_matches(row, written)
    assert doc["skipped"]["bad_lines"] == 0
    # main calls + 4 subagent calls + 1 compaction call
    assert written.totals.requests == 1 + 6 + 2 + 1 + 1 + 4 + 3 + 1 + 4 + 1
    assert row["models"][HAIKU] == 4
    assert row["branches"] == ["feature/x"]
    assert row["cwd"] == str(tmp_path / "repo")
    assert len(written.paths) == 3  # main file, one subagent, one compaction agent
    assert all(p.is_relative_to(tmp_path / "claude" / "projects") for p in written.paths)
    assert written.paths[1].parent.name == "subagents"


def test_claude_writer_sets_the_traps(tmp_path: Path) -> None:
    written = busy_claude(tmp_path)
    lines = [json.loads(x) for x in written.paths[0].read_text().splitlines()]
    assistant = [x for x in lines if x.get("type") == "assistant"]
    ids = [x["message"]["id"] for x in assistant]
    assert len(ids) > len(set(ids))  # split responses share message.id
    for message_id in set(ids):
        outputs = [
            x["message"]["usage"]["output_tokens"]
            for x in assistant
            if x["message"]["id"] == message_id
        ]
        assert outputs[-1] == max(outputs)  # placeholders first, the real count last
    agent_progress = [
        x for x in lines if x.get("type") == "progress" and x["data"]["type"] == "agent_progress"
    ]
    assert len(agent_progress) == 4
    assert all(x["data"]["message"]["message"]["usage"] for x in agent_progress)
    assert any(x.get("type") == "progress" and x["data"]["type"] == "hook_progress" for x in lines)
    assert any(
        isinstance(x.get("toolUseResult"), dict) and "usage" in x["toolUseResult"] for x in lines
    )
    assert any(x.get("subtype") == "compact_boundary" for x in lines)
    assert naive_usage_sum(written.paths) > written.totals.cache_read_tokens * 1.2
    sub = [json.loads(x) for x in written.paths[1].read_text().splitlines()]
    assert all(x["isSidechain"] and x["sessionId"] == written.id for x in sub)
    assert {x["message"]["model"] for x in sub if x["type"] == "assistant"} == {HAIKU}


def test_agent_commit_is_found(tmp_path: Path) -> None:
    written = busy_claude(tmp_path)
    doc = run_cli(tmp_path, "session", written.id)
    assert [c["sha"] for c in doc["agent_commits"]] == ["0123456"] == written.commits
    assert doc["agent_commits"][0]["branch"] == "feature/x"


def test_idle_gap_rewrites_the_cache(tmp_path: Path) -> None:
    written = write_claude_session(
        tmp_path / "claude",
        tmp_path / "repo",
        start=START,
        seed=3,
        progress=False,
        events=[Filler(3), Idle(30), Filler(1)],
    )
    lines = [json.loads(x) for x in written.paths[0].read_text().splitlines()]
    usage = {}
    for x in lines:
        if x.get("type") == "assistant":
            usage[x["message"]["id"]] = x["message"]["usage"]
    calls = list(usage.values())
    assert calls[1]["cache_read_input_tokens"] == (
        calls[0]["cache_read_input_tokens"] + calls[0]["cache_creation_input_tokens"]
    )
    assert calls[3]["cache_read_input_tokens"] == 0  # the cache expired while idle
    assert calls[3]["cache_creation_input_tokens"] > calls[2]["cache_read_input_tokens"]
    assert not any(x.get("type") == "progress" for x in lines)


def test_call_times_match_the_log(tmp_path: Path) -> None:
    script = [UserPrompt("go"), Filler(2), Idle(10), Bash("ls"), Reply()]
    spacing = timedelta(seconds=40)
    times = call_times(script, START, spacing)
    assert times == [
        START,
        START + spacing,
        START + 2 * spacing + timedelta(minutes=10),
        START + 3 * spacing + timedelta(minutes=10),
    ]
    written = write_claude_session(
        tmp_path / "claude", tmp_path / "repo", start=START, spacing=spacing, events=script
    )
    first_line: dict[str, str] = {}
    for x in map(json.loads, written.paths[0].read_text().splitlines()):
        if x.get("type") == "assistant":
            first_line.setdefault(x["message"]["id"], x["timestamp"])
    logged = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in first_line.values()]
    assert all(t <= seen < t + timedelta(seconds=2) for t, seen in zip(times, logged))
    assert len(logged) == len(times)


def test_codex_totals_match_and_reemitted_events_count_once(tmp_path: Path) -> None:
    written = write_codex_session(
        tmp_path / "codex",
        tmp_path / "repo",
        branch="feature/x",
        start=START,
        requests=15,
        seed=5,
        reemit=1.0,
        events=[
            UserPrompt("fix it"),
            Filler(6),
            Commit("abcdef0123", "Fix"),
            UserPrompt("more"),
            Filler(6),
            Reply(),
        ],
    )
    lines = [json.loads(x) for x in written.paths[0].read_text().splitlines()]
    counts = [x["payload"] for x in lines if x["payload"].get("type") == "token_count"]
    infos = [json.dumps(c["info"], sort_keys=True) for c in counts if c["info"] is not None]
    assert len(infos) == 2 * len(set(infos))  # every snapshot written twice
    assert any(c["info"] is None for c in counts)
    assert lines[0]["type"] == "session_meta"
    assert lines[0]["payload"]["git"]["branch"] == "feature/x"
    assert "sessions/2026/03/02/rollout-2026-03-02T09-00-00-" in str(written.paths[0])
    doc = run_cli(tmp_path, "sessions")
    row = rows_by_id(doc)[written.id]
    assert_matches(row, written)
    assert row["models"] == {"gpt-5.3-codex": written.totals.requests}
    assert row["branches"] == ["feature/x"]
    session = run_cli(tmp_path, "session", written.id)
    assert [c["sha"] for c in session["agent_commits"]] == ["abcdef0"]


def test_many_sessions_sum_up(tmp_path: Path) -> None:
    written = [
        write_claude_session(
            tmp_path / "claude",
            tmp_path / f"p{i % 3}",
            start=START + timedelta(hours=i),
            requests=5 + i,
            seed=i,
        )
        for i in range(6)
    ] + [
        write_codex_session(
            tmp_path / "codex", tmp_path / "p0", start=START + timedelta(days=1, hours=i), seed=i
        )
        for i in range(3)
    ]
    doc = run_cli(tmp_path, "sessions")
    assert doc["totals"]["sessions"] == 9
    for key in TOKEN_KEYS:
        assert doc["totals"][key] == sum(w.totals.as_dict()[key] for w in written), key
    scoped = run_cli(tmp_path, "sessions", "--repo", str(tmp_path / "p0"))
    assert {r["id"] for r in scoped["sessions"]} == {w.id for w in written if w.cwd.endswith("p0")}


def test_writers_are_deterministic(tmp_path: Path) -> None:
    def claude(folder: str, seed: int) -> bytes:
        w = write_claude_session(
            tmp_path / folder, "/w/r", start=START, seed=seed, events=[Task(), Filler(5)]
        )
        return b"".join(p.read_bytes() for p in w.paths)

    def codex(folder: str, seed: int) -> bytes:
        return (
            write_codex_session(tmp_path / folder, "/w/r", start=START, seed=seed)
            .paths[0]
            .read_bytes()
        )

    assert claude("a", 1) == claude("b", 1) != claude("c", 2)
    assert codex("d", 1) == codex("e", 1) != codex("f", 2)
