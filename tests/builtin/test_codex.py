"""The Codex adapter through the CLI: cumulative totals, re-emits, resets, tool calls."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_run import isolated_env, tokentrail_json
from tests.logs import codex_rollout, write_jsonl

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
