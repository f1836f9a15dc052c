"""`tokentrail import trace`: TokenCause-style JSONL traces and the common aliases, tool
steps, re-imports, and the calls landing in a branch receipt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli_inprocess import invoke, run_json
from tests.gitrepo import Env, GitRepo, at, stamp


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_tokencause_fields_tools_and_reimport(tmp_path: Path) -> None:
    trace = write(
        tmp_path / "run.jsonl",
        [
            {
                "session_id": "fix-auth",
                "cwd": "/w/app",
                "step": "plan",
                "model": "gpt-5-mini",
                "input_tokens": 12000,
                "output_tokens": 900,
                "cost_usd": 0.42,
                "timestamp": "2026-03-02T09:00:00Z",
            },
            {
                "session_id": "fix-auth",
                "step": "test",
                "tool": "shell",
                "model": "gpt-5-mini",
                "command": "pytest tests/test_auth.py",
                "input_tokens": 15000,
                "output_tokens": 600,
                "cost_usd": 0.46,
                "status": "failed",
                "error": "pytest failed: timeout",
                "timestamp": "2026-03-02T09:01:00Z",
            },
            {"session_id": "fix-auth", "step": "note", "text": "no tokens, no tool"},
        ],
    )
    doc = run_json("import", "trace", str(trace))
    assert (doc["calls"], doc["tool_results"], doc["written"]) == (2, 1, 3)
    assert doc["sessions"] == [
        {"agent": "custom", "id": "fix-auth", "calls": 2, "metrics_only": False}
    ]
    assert doc["unknown"] == {"line without token counts or a tool": 1}

    (row,) = run_json("sessions", "--agent", "custom")["sessions"]
    assert row["cwd"] == "/w/app" and row["models"] == {"gpt-5-mini": 2}
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"]) == (27000, 1500, 0)
    assert row["agent_cost_usd"] == 0.88 and row["cost_usd"] is not None
    detail = run_json("session", "fix-auth")
    assert detail["tool_calls"] == 1 and detail["tool_errors"] == 1

    again = run_json("import", "trace", str(trace))
    assert (again["written"], again["already_imported"]) == (0, 3)
    assert run_json("sessions")["totals"]["requests"] == 2


def test_aliases_and_where_the_cache_is_counted(tmp_path: Path) -> None:
    trace = write(
        tmp_path / "aliases.jsonl",
        [
            # OpenAI: prompt_tokens include the cached part
            {
                "run_id": "r1",
                "model": "gpt-4o",
                "prompt_tokens": 1000,
                "completion_tokens": 50,
                "prompt_tokens_details": {"cached_tokens": 800},
                "timestamp": 1772442000,
            },
            # nested usage, Anthropic names: cache reads are apart from input
            {
                "run_id": "r1",
                "model": "claude-sonnet-4-5",
                "provider": "anthropic",
                "usage": {
                    "input_tokens": 7,
                    "output_tokens": 40,
                    "cache_read_input_tokens": 900,
                    "cache_creation_input_tokens": 100,
                },
            },
            # camelCase, with a total that only adds up with the cache inside the input
            {
                "runId": "r1",
                "model": "gemini-2.5-flash",
                "inputTokens": 300,
                "outputTokens": 30,
                "cachedInputTokens": 200,
                "totalTokens": 330,
            },
            {
                "traceId": "r2",
                "agent": "Bad Name!",
                "model": "gpt-4o",
                "input_tokens": 1,
                "output_tokens": 1,
            },
        ],
    )
    doc = run_json("import", "trace", str(trace), "--agent", "nightly-bot")
    assert {(s["agent"], s["id"]) for s in doc["sessions"]} == {
        ("nightly-bot", "r1"),
        ("nightly-bot", "r2"),
    }
    assert doc["unknown"] == {"agent name 'bad name!' (counted as nightly-bot)": 1}
    r1 = next(
        r for r in run_json("sessions", "--agent", "nightly-bot")["sessions"] if r["id"] == "r1"
    )
    assert r1["requests"] == 3
    assert r1["input_tokens"] == 200 + 7 + 100
    assert r1["cache_read_tokens"] == 800 + 900 + 200
    assert r1["cache_write_tokens"] == 100
    assert r1["output_tokens"] == 50 + 40 + 30
    assert r1["start"] == "2026-03-02T09:00:00Z"  # epoch seconds


def test_a_bad_agent_name_is_a_usage_error(tmp_path: Path) -> None:
    trace = write(tmp_path / "t.jsonl", [{"model": "m", "input_tokens": 1, "output_tokens": 1}])
    result = invoke("import", "trace", str(trace), "--agent", "My Agent", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "bad_agent_name"


def test_traced_calls_land_in_the_branch_receipt(tmp_path: Path, monkeypatch: Any) -> None:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    c1 = repo.commit("first change", at(13))
    trace = write(
        tmp_path / "t.jsonl",
        [
            {
                "session_id": "bot-run",
                "model": "gpt-4o-mini",
                "input_tokens": 500,
                "output_tokens": 50,
                "timestamp": stamp(at(10)),
            },
            {
                "session_id": "bot-run",
                "model": "gpt-4o-mini",
                "input_tokens": 700,
                "output_tokens": 70,
                "timestamp": stamp(at(20)),
            },
        ],
    )
    monkeypatch.chdir(repo.path)
    run_json("import", "trace", str(trace), "--cwd", str(repo.path), "--branch", "feat")
    report = run_json("report")
    (commit,) = report["commits"]
    assert commit["sha"] == c1
    assert (commit["requests"], commit["input_tokens"]) == (1, 500)
    assert (report["pending"]["requests"], report["pending"]["input_tokens"]) == (1, 700)
    assert [(s["agent"], s["id"], s["link"]) for s in report["sessions"]] == [
        ("custom", "bot-run", "window")
    ]
