"""`tokentrail session ID`: what the agent said about itself beside the transcript."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import invoke
from tests.logs import claude_call, write_jsonl
from tokentrail.builtin.claude_code import project_slug

TS = "2026-02-10T12:0{}:00.000Z"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | Path]:
    return {"CLAUDE_CONFIG_DIR": tmp_path / "claude", "CODEX_HOME": tmp_path / "codex"}


def show(env: dict[str, str | Path], session_id: str) -> tuple[dict[str, Any], str]:
    as_json = invoke("session", session_id, "--json", env=env)
    text = invoke("session", session_id, env=env)
    assert as_json.exit_code == text.exit_code == 0, as_json.output + text.output
    return json.loads(as_json.stdout), text.stdout


def test_claude_cost_state_and_pr_links(tmp_path: Path, env: dict[str, str | Path]) -> None:
    calls = claude_call(1, TS.format(0), "claude-sonnet-4-5-20250929", inp=1000, out=500)
    cost = {
        "type": "cost-state",
        "sessionId": "s1",
        "totalCostUSD": 0.5,
        "hasUnknownModelCost": False,
        "modelUsage": {"claude-sonnet-4-5-20250929": {"costUSD": 0.5}},
    }
    link = {
        "type": "pr-link",
        "prNumber": 42,
        "prUrl": "https://github.com/org/repo/pull/42",
        "prRepository": "org/repo",
        "timestamp": TS.format(1),
    }
    folder = tmp_path / "claude" / "projects" / project_slug("/work/app")
    write_jsonl(folder / "s1.jsonl", [*calls, link, cost, link])
    doc, text = show(env, "s1")
    transcript = doc["session"]["cost_usd"]
    assert doc["agent_cost"] == {
        "total_usd": 0.5,
        "by_model": {"claude-sonnet-4-5-20250929": 0.5},
        "unknown_models": False,
        "transcript_usd": transcript,
        "outside_transcript_usd": round(0.5 - transcript, 6),
    }
    assert doc["pr_links"] == [
        {"number": 42, "url": "https://github.com/org/repo/pull/42", "repository": "org/repo",
         "at": "2026-02-10T12:01:00Z"}
    ]
    assert doc["rate_limits"] is None
    assert "agent's own cost: $0.50; priced transcript $" in text
    assert "usage outside the transcript $0.49" in text
    assert "linked org/repo#42: https://github.com/org/repo/pull/42" in text


def test_codex_rate_limits(tmp_path: Path, env: dict[str, str | Path]) -> None:
    uuid = "019c8a4c-ed82-79a1-aa28-7738fc5ab61a"
    ts = "2026-02-01T10:00:00.000Z"
    records = [
        {"timestamp": ts, "type": "session_meta", "payload": {"id": uuid, "cwd": "/w"}},
        {"timestamp": ts, "type": "turn_context", "payload": {"model": "gpt-5", "cwd": "/w"}},
        {
            "timestamp": ts,
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"total_token_usage": {"input_tokens": 100, "output_tokens": 5}},
                "rate_limits": {
                    "primary": {"used_percent": 12.5, "window_minutes": 300,
                                "resets_at": 1769950000},
                    "secondary": {"used_percent": 3.0, "window_minutes": 10080,
                                  "resets_at": 1770300000},
                },
            },
        },
    ]
    write_jsonl(tmp_path / "codex" / "sessions" / "2026" / "02" / "01" / f"rollout-x-{uuid}.jsonl",
                records)
    doc, text = show(env, uuid[:8])
    assert doc["agent_cost"] is None and doc["pr_links"] == []
    assert doc["rate_limits"] == {
        "primary": {"used_percent": 12.5, "window_minutes": 300,
                    "resets_at": "2026-02-01T12:46:40Z"},
        "secondary": {"used_percent": 3.0, "window_minutes": 10080,
                      "resets_at": "2026-02-05T14:00:00Z"},
        "reported_at": "2026-02-01T10:00:00Z",
    }
    assert (
        "rate limits: 5-hour window 12.5% used (resets 2026-02-01T12:46:40Z), "
        "weekly window 3% used (resets 2026-02-05T14:00:00Z)"
    ) in text
