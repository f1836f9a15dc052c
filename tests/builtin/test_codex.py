"""The Codex adapter through the CLI: cumulative totals, re-emits, resets, tool calls."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import CORPUS, invoke, isolated_env, tokentrail_json
from tests.logs import codex_rollout, write_jsonl
from tokentrail.builtin.codex import CodexAdapter
from tokentrail.logfile import resume
from tokentrail.model import Session, SessionRef

UUID = "019c8a4c-ed82-79a1-aa28-7738fc5ab61a"


def day(tmp: Path) -> Path:
    return tmp / "codex" / "sessions" / "2026" / "02" / "01"


def env_for(tmp: Path) -> dict[str, str]:
    return isolated_env(tmp / "home", CLAUDE_CONFIG_DIR=tmp / "claude", CODEX_HOME=tmp / "codex")


def test_reemitted_totals_count_once_and_cached_is_part_of_input(tmp_path: Path) -> None:
    codex_rollout(
        day(tmp_path) / f"rollout-2026-02-01T10-00-00-{UUID}.jsonl",
        [(10_000, 8000, 300, 100), (25_000, 20_000, 700, 250)],
        model="gpt-5.3-codex",
    )
    row = tokentrail_json("sessions", env=env_for(tmp_path))["sessions"][0]
    assert row["agent"] == "codex" and row["id"] == UUID
    assert row["requests"] == 2
    assert row["input_tokens"] == 25_000 - 20_000
    assert row["cache_read_tokens"] == 20_000
    assert row["output_tokens"] == 700 and row["reasoning_tokens"] == 250
    assert row["branches"] == ["main"] and row["models"] == {"gpt-5.3-codex": 2}
    assert row["cost_usd"] is not None and row["unpriced_requests"] == 0


def test_a_total_that_goes_down_is_a_reset(tmp_path: Path) -> None:
    codex_rollout(
        day(tmp_path) / f"rollout-2026-02-01T10-00-00-{UUID}.jsonl",
        [(10_000, 0, 100, 0), (4000, 0, 50, 0), (6000, 0, 80, 0)],
        model="gpt-5",
    )
    row = tokentrail_json("sessions", env=env_for(tmp_path))["sessions"][0]
    assert row["input_tokens"] == 10_000 + 4000 + 2000
    assert row["output_tokens"] == 100 + 50 + 30


def test_tool_calls_failures_and_agent_commits(tmp_path: Path) -> None:
    ts = "2026-02-01T10:00:00.000Z"
    recs = [
        {
            "timestamp": ts,
            "type": "session_meta",
            "payload": {"id": UUID, "cwd": "/w", "git": {"branch": "feat"}},
        },
        {"timestamp": ts, "type": "turn_context", "payload": {"model": "gpt-5"}},
        {"timestamp": ts, "type": "event_msg", "payload": {"type": "token_count", "info": None}},
        {
            "timestamp": ts,
            "type": "response_item",
            "payload": {
                "type": "function_call",
                "name": "exec_command",
                "call_id": "c1",
                "arguments": json.dumps({"cmd": "pytest -q"}),
            },
        },
        {
            "timestamp": ts,
            "type": "response_item",
            "payload": {
                "type": "function_call_output",
                "call_id": "c1",
                "output": "Process exited with code 1\nFAILED test_x",
            },
        },
        {
            "timestamp": ts,
            "type": "response_item",
            "payload": {
                "type": "function_call",
                "name": "exec_command",
                "call_id": "c2",
                "arguments": json.dumps({"cmd": "git commit -am 'wip'"}),
            },
        },
        {
            "timestamp": ts,
            "type": "response_item",
            "payload": {
                "type": "function_call_output",
                "call_id": "c2",
                "output": "Process exited with code 0\n[feat 0badc0de] wip\n",
            },
        },
        {
            "timestamp": ts,
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": {
                        "input_tokens": 100,
                        "cached_input_tokens": 0,
                        "output_tokens": 10,
                        "reasoning_output_tokens": 0,
                    }
                },
            },
        },
    ]
    write_jsonl(
        day(tmp_path) / f"rollout-2026-02-01T10-00-00-{UUID}.jsonl",
        recs,
        tail='{"timestamp": "2026',
    )
    env = env_for(tmp_path)
    detail = tokentrail_json("session", UUID[:8], env=env)
    assert detail["tool_calls"] == 2 and detail["tool_errors"] == 1
    assert detail["agent_commits"] == [{"sha": "0badc0de", "branch": "feat"}]
    listing = tokentrail_json("sessions", env=env)
    assert listing["skipped"]["truncated_lines"] == 1
    assert listing["sessions"][0]["requests"] == 1


# --- replays, absent fields, implausible snapshots, 2026 records ---------------------------


def meta(ts: str = "2026-02-01T10:00:00.000Z") -> list[dict[str, Any]]:
    return [
        {"timestamp": ts, "type": "session_meta", "payload": {"id": UUID, "cwd": "/w"}},
        {"timestamp": ts, "type": "turn_context", "payload": {"model": "gpt-5", "cwd": "/w"}},
    ]


def count(minute: int, **usage: Any) -> dict[str, Any]:
    return {
        "timestamp": f"2026-02-01T10:{minute:02d}:00.000Z",
        "type": "event_msg",
        "payload": {"type": "token_count", "info": {"total_token_usage": usage}},
    }


def parse(tmp: Path, records: list[dict[str, Any]]) -> Session:
    path = write_jsonl(day(tmp) / f"rollout-2026-02-01T10-00-00-{UUID}.jsonl", records)
    [ref] = [r for r in CodexAdapter().discover(None) if r.path == path] or [None]
    assert ref is not None
    return CodexAdapter().parse(ref)


@pytest.fixture(autouse=True)
def codex_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))


def test_an_exact_copy_of_an_earlier_snapshot_never_counts_again(tmp_path: Path) -> None:
    a = count(1, input_tokens=1000, cached_input_tokens=0, output_tokens=10)
    b = count(2, input_tokens=3000, cached_input_tokens=1000, output_tokens=30)
    c = count(4, input_tokens=3500, cached_input_tokens=1000, output_tokens=40)
    session = parse(tmp_path, [*meta(), a, b, a, b, c])
    u = session.usage()
    assert (len(session.requests), u.input + u.cache_read, u.output) == (3, 3500, 40)
    assert session.issues.replayed_events == 1


def test_an_absent_field_keeps_its_value_and_a_zero_is_a_zero(tmp_path: Path) -> None:
    """cache_write_input_tokens (Codex >= 0.145) is part of input, billed as a cache write;
    a snapshot written without it is not a reset."""
    a = count(
        1,
        input_tokens=1000,
        cached_input_tokens=200,
        output_tokens=10,
        cache_write_input_tokens=300,
    )
    b = count(2, input_tokens=2000, cached_input_tokens=500, output_tokens=20)  # no field
    c = count(
        3,
        input_tokens=2600,
        cached_input_tokens=500,
        output_tokens=25,
        cache_write_input_tokens=300,
    )
    session = parse(tmp_path, [*meta(), a, b, c])
    usages = [(r.usage.input, r.usage.cache_read, r.usage.cache_write_5m) for r in session.requests]
    assert usages == [(500, 200, 300), (700, 300, 0), (600, 0, 0)]
    u = session.usage()
    assert u.input + u.cache_read + u.cache_write == 2600 and u.output == 25


def test_an_implausible_snapshot_is_skipped_without_moving_the_baseline(tmp_path: Path) -> None:
    a = count(1, input_tokens=1000, output_tokens=10)
    huge = count(2, input_tokens=5 * 10**9, output_tokens=20)
    absurd = count(3, input_tokens=10**30, output_tokens="lots")
    b = count(4, input_tokens=3000, output_tokens=30)
    session = parse(tmp_path, [*meta(), a, huge, absurd, b])
    assert [r.usage.input for r in session.requests] == [1000, 2000]
    assert session.usage().output == 30
    assert session.issues.implausible_values == 2 and session.issues.wrong_types == 1


def test_a_snapshot_where_one_counter_went_down_is_garbled_not_a_reset(tmp_path: Path) -> None:
    """Found by the fuzz suite: a cached count of 1.5 (or any lower one) in one snapshot
    while input kept growing was read as a fork, and the whole total counted again."""
    a = count(1, input_tokens=1000, cached_input_tokens=800, output_tokens=10)
    bad = count(2, input_tokens=2000, cached_input_tokens=1.5, output_tokens=20)
    lower = count(3, input_tokens=2500, cached_input_tokens=5, output_tokens=25)
    b = count(4, input_tokens=3000, cached_input_tokens=2400, output_tokens=30)
    session = parse(tmp_path, [*meta(), a, bad, lower, b])
    u = session.usage()
    assert (u.input + u.cache_read, u.output) == (3000, 30)  # cached stays within input
    assert session.issues.wrong_types == 1 and session.issues.implausible_values == 1


def test_a_garbled_field_in_a_reset_does_not_carry_the_old_total(tmp_path: Path) -> None:
    """Found by the fuzz suite: a reset (totals back to 0) whose input was garbled took
    the previous input as its own and counted it again."""
    a = count(1, input_tokens=16341, cached_input_tokens=3584, output_tokens=81, total_tokens=16422)
    reset = count(2, input_tokens=1e21, cached_input_tokens=0, output_tokens=0, total_tokens=0)
    session = parse(tmp_path, [*meta(), a, reset])
    assert figures_of(session) == (16341, 81)
    after = count(3, input_tokens=500, cached_input_tokens=0, output_tokens=7, total_tokens=507)
    assert figures_of(parse(tmp_path, [*meta(), a, reset, after])) == (16341 + 500, 88)


def figures_of(session: Session) -> tuple[int, int]:
    u = session.usage()
    return u.input + u.cache_read + u.cache_write, u.output


def test_user_prompts_from_the_turn_items_that_replaced_user_message(tmp_path: Path) -> None:
    item = {
        "timestamp": "2026-02-01T10:01:00.000Z",
        "type": "event_msg",
        "payload": {
            "type": "item_completed",
            "turn_id": "t1",
            "item": {
                "type": "UserMessage",
                "id": "i1",
                "content": [{"type": "text", "text": "fix the test"}, {"type": "image"}],
            },
        },
    }
    legacy = {
        "timestamp": "2026-02-01T10:01:00.000Z",
        "type": "event_msg",
        "payload": {"type": "user_message", "message": "fix the test"},
    }
    agent = {**item, "payload": {**item["payload"], "item": {"type": "AgentMessage"}}}
    assert [p.chars for p in parse(tmp_path, [*meta(), item, agent]).prompts] == [12]
    assert [p.chars for p in parse(tmp_path, [*meta(), legacy]).prompts] == [12]
    both = parse(tmp_path, [*meta(), legacy, item])  # a build writing both: counted once
    assert [p.chars for p in both.prompts] == [12]


def test_the_latest_rate_limits_are_kept(tmp_path: Path) -> None:
    def limits(minute: int, primary: Any, secondary: Any) -> dict[str, Any]:
        return {
            "timestamp": f"2026-02-01T10:{minute:02d}:00.000Z",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": None,
                "rate_limits": {"primary": primary, "secondary": secondary},
            },
        }

    session = parse(
        tmp_path,
        [
            *meta(),
            limits(
                1,
                {"used_percent": 10.0, "window_minutes": 300, "resets_at": 1769950000},
                {"used_percent": 3, "window_minutes": 10080, "resets_at": 1770300000},
            ),
            limits(
                2,
                {"used_percent": 12.5, "window_minutes": 300, "resets_at": 1769950000},
                {"used_percent": "x"},
            ),
            limits(3, {"used_percent": float("nan")}, None),
        ],
    )
    rl = session.rate_limits
    assert rl is not None and rl.primary is not None and rl.secondary is None
    assert (rl.primary.used_percent, rl.primary.window_minutes) == (12.5, 300)
    assert rl.primary.resets_at == datetime(2026, 2, 1, 12, 46, 40, tzinfo=timezone.utc)


def test_corpus_cache_write_field_and_turn_items_are_read(tmp_path: Path) -> None:
    path = day(tmp_path) / "rollout-small.jsonl"
    path.parent.mkdir(parents=True)
    path.symlink_to(CORPUS / "codex/jazzyalex-agent-sessions-synthetic/small.jsonl")
    [ref] = CodexAdapter().discover(None)
    session = CodexAdapter().parse(ref)
    assert session.requests and session.rate_limits is not None
    assert session.prompts  # from the UserMessage items


def test_broken_rollouts_hide_nothing_and_hang_nothing(tmp_path: Path) -> None:
    good = day(tmp_path) / f"rollout-2026-02-01T10-00-00-{UUID}.jsonl"
    write_jsonl(good, [*meta(), count(1, input_tokens=100, output_tokens=5)])
    (day(tmp_path) / "rollout-dangling.jsonl").symlink_to(tmp_path / "nowhere")
    loop = day(tmp_path) / "rollout-loop.jsonl"
    loop.symlink_to(loop)
    os.mkfifo(day(tmp_path) / "rollout-fifo.jsonl")
    (day(tmp_path) / "rollout-zero.jsonl").symlink_to("/dev/zero")
    result = invoke("sessions", "--json", env={"CODEX_HOME": tmp_path / "codex"})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["id"] for s in doc["sessions"]] == [UUID]
    names = sorted(Path(f.split(": ")[0]).name for f in doc["skipped"]["files"])
    assert names == [
        "rollout-dangling.jsonl",
        "rollout-fifo.jsonl",
        "rollout-loop.jsonl",
        "rollout-zero.jsonl",
    ]
    fifo = day(tmp_path) / "rollout-fifo.jsonl"
    assert f"{fifo}: a FIFO: not read; its sessions are not counted" in doc["warnings"]
    text = invoke("sessions", env={"CODEX_HOME": tmp_path / "codex"})
    assert f"tokentrail: warning: {fifo}: a FIFO: not read" in text.stderr


def test_a_grown_rollout_read_from_its_resume_point_equals_a_whole_read(tmp_path: Path) -> None:
    """Every real rollout cut at a line end and inside a line, read, grown back and read
    from the resume point: the same session, issues and warnings included, as one read of
    the whole."""
    adapter = CodexAdapter()
    rollouts = sorted((CORPUS / "codex").rglob("*.jsonl"))
    assert len(rollouts) >= 5
    resumed_reads = 0
    for n, source in enumerate(rollouts):
        log = tmp_path / f"rollout-{n}.jsonl"
        whole = source.read_bytes()
        log.write_bytes(whole)
        expected = adapter.parse(ref_of(log))
        line_end = whole.find(b"\n", len(whole) // 4) + 1
        for cut in sorted({line_end, len(whole) // 2, len(whole)} - {0}):
            log.write_bytes(whole[:cut])
            first, token = adapter.parse_resumable(ref_of(log), None, None)
            assert token is not None, source  # written just now: may still grow
            log.write_bytes(whole)
            ref = ref_of(log)
            assert resume(ref.paths, token) is not None, (source, cut)
            again, _ = adapter.parse_resumable(ref, first, token)
            assert again == expected, (source, cut)
            resumed_reads += 1
    assert resumed_reads >= 2 * len(rollouts)


def ref_of(log: Path) -> SessionRef:
    st = log.stat()
    return SessionRef(agent="codex", id=log.stem, path=log, size=st.st_size, mtime=st.st_mtime)
