"""The Claude Code adapter through the CLI: dedup, subagents, sidechains, bad lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli_run import isolated_env, tokentrail, tokentrail_json
from tests.logs import claude_call, write_jsonl
from tokentrail.builtin.claude_code import project_slug

TS = "2026-02-10T12:0{}:00.000Z"


def env_for(tmp: Path) -> dict[str, str]:
    return isolated_env(tmp / "home", CLAUDE_CONFIG_DIR=tmp / "claude", CODEX_HOME=tmp / "codex")


def project(tmp: Path, cwd: str = "/work/app") -> Path:
    return tmp / "claude" / "projects" / project_slug(cwd)


def test_split_lines_count_once_keeping_the_largest(tmp_path: Path) -> None:
    records = claude_call(
        1, TS.format(0), "claude-sonnet-4-5", inp=5, read=1000, w5=200, out=441, blocks=6
    )
    write_jsonl(project(tmp_path) / "s1.jsonl", records)
    row = tokentrail_json("sessions", env=env_for(tmp_path))["sessions"][0]
    assert (
        row["requests"],
        row["input_tokens"],
        row["cache_read_tokens"],
        row["cache_write_tokens"],
        row["output_tokens"],
    ) == (1, 5, 1000, 200, 441)


def test_progress_copies_and_tool_result_usage_are_not_counted(tmp_path: Path) -> None:
    call = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=50)
    progress = {
        "type": "progress",
        "cwd": "/work/app",
        "sessionId": "s1",
        "timestamp": TS.format(1),
        "data": {
            "type": "agent_progress",
            "message": {"message": {"id": "msg_sub", "usage": {"input_tokens": 999_999}}},
        },
    }
    tool_result = {
        "type": "user",
        "cwd": "/work/app",
        "sessionId": "s1",
        "timestamp": TS.format(2),
        "toolUseResult": {"usage": {"input_tokens": 77}},
        "message": {"role": "user", "content": "hi"},
    }
    write_jsonl(project(tmp_path) / "s1.jsonl", [*call, progress, tool_result])
    row = tokentrail_json("sessions", env=env_for(tmp_path))["sessions"][0]
    assert row["requests"] == 1 and row["input_tokens"] == 3


def test_subagent_files_and_inline_sidechains_belong_to_the_session(tmp_path: Path) -> None:
    folder = project(tmp_path)
    main = claude_call(1, TS.format(0), "claude-opus-4-6", read=5000, out=100)
    inline = claude_call(2, TS.format(1), "claude-sonnet-4-5", read=100, out=5, isSidechain=True)
    for rec in inline:
        rec["isSidechain"] = True
    write_jsonl(folder / "s1.jsonl", [*main, *inline])
    sub = claude_call(
        3, TS.format(2), "claude-haiku-4-5-20251001", read=700, out=7, agentId="a1b2c3"
    )
    for rec in sub:
        rec["isSidechain"] = True
    write_jsonl(folder / "s1" / "subagents" / "agent-a1b2c3.jsonl", sub)
    (folder / "s1" / "subagents" / "agent-a1b2c3.meta.json").write_text('{"agentType":"x"}')
    env = env_for(tmp_path)
    listing = tokentrail_json("sessions", env=env)
    assert [s["id"] for s in listing["sessions"]] == ["s1"]
    detail = tokentrail_json("session", "s1", env=env)
    by_sub = {r["subagent"]: r["cache_read_tokens"] for r in detail["by_subagent"]}
    assert by_sub == {"main": 5000, "sidechain-u2-0": 100, "a1b2c3": 700}
    assert len(detail["by_file"]) == 2


def test_summary_only_file_is_not_a_session(tmp_path: Path) -> None:
    write_jsonl(
        project(tmp_path) / "s0.jsonl", [{"type": "summary", "summary": "x", "leafUuid": "u"}]
    )
    assert tokentrail_json("sessions", env=env_for(tmp_path))["sessions"] == []


def test_garbled_and_truncated_lines_are_skipped_counted_and_reported(tmp_path: Path) -> None:
    first = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=10)
    second = claude_call(2, TS.format(1), "claude-sonnet-4-5", read=2000, out=20)
    path = project(tmp_path) / "s1.jsonl"
    lines = (
        [json.dumps(r) for r in first]
        + ['{"type": "assistant", "message": {oops']
        + [json.dumps(r) for r in second]
    )
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + '\n{"type":"assistant","message":{"usage":{"input_to')
    env = env_for(tmp_path)
    doc = tokentrail_json("sessions", env=env)
    assert doc["skipped"]["bad_lines"] == 1 and doc["skipped"]["truncated_lines"] == 1
    assert doc["sessions"][0]["cache_read_tokens"] == 3000
    assert any("garbled" in w for w in doc["warnings"])
    proc = tokentrail("sessions", env=env)
    assert "1 garbled and 1 truncated" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_record_types_are_ignored(tmp_path: Path) -> None:
    odd: list[dict[str, Any]] = [{"type": "worktree-state", "x": 1}, {"type": "tool_use"}, [1], 5]
    path = project(tmp_path) / "s1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        "\n".join(
            json.dumps(r) for r in odd + claude_call(1, TS.format(0), "claude-sonnet-4-5", out=5)
        )
        + "\n"
    )
    row = tokentrail_json("sessions", env=env_for(tmp_path))["sessions"][0]
    assert row["requests"] == 1


def test_agent_commit_and_placeholder_output_are_reported(tmp_path: Path) -> None:
    call = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=8, blocks=1)
    call[0]["message"]["content"] = [
        {"type": "text", "text": "x" * 900},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "Bash",
            "input": {"command": "git add -A && git commit -m 'Fix retry'"},
        },
    ]
    result = {
        "type": "user",
        "cwd": "/work/app",
        "sessionId": "s1",
        "gitBranch": "main",
        "timestamp": TS.format(1),
        "message": {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "[feature/retry 1a2b3c4] Fix retry\n 1 file changed",
                }
            ],
        },
    }
    write_jsonl(project(tmp_path) / "s1.jsonl", [*call, result])
    env = env_for(tmp_path)
    detail = tokentrail_json("session", "s1", env=env)
    assert detail["agent_commits"] == [{"sha": "1a2b3c4", "branch": "feature/retry"}]
    assert detail["session"]["output_lower_bound_requests"] == 1
    assert "≥8" in tokentrail("sessions", env=env).stdout


def test_empty_and_missing_directories_say_where_they_looked(tmp_path: Path) -> None:
    (tmp_path / "claude" / "projects").mkdir(parents=True)
    env = env_for(tmp_path)
    doc = tokentrail_json("sessions", env=env)
    assert doc["sessions"] == [] and doc["totals"]["requests"] == 0
    text = tokentrail("sessions", env=env).stdout
    assert "No agent sessions found" in text
    assert f"{tmp_path}/codex/sessions (missing)" in text
    assert "tokentrail demo" in text
    missing = isolated_env(
        tmp_path / "home", CLAUDE_CONFIG_DIR=tmp_path / "nope", CODEX_HOME=tmp_path / "codex"
    )
    text = tokentrail("sessions", env=missing).stdout
    assert f"{tmp_path}/nope/projects (missing)" in text


def test_session_lookup_errors_are_json_documents(tmp_path: Path) -> None:
    write_jsonl(
        project(tmp_path) / "abc1.jsonl",
        claude_call(1, TS.format(0), "claude-sonnet-4-5", session="abc1"),
    )
    write_jsonl(
        project(tmp_path) / "abc2.jsonl",
        claude_call(2, TS.format(1), "claude-sonnet-4-5", session="abc2"),
    )
    env = env_for(tmp_path)
    for ident, code in (("zzz", "session_not_found"), ("abc", "ambiguous_session")):
        proc = tokentrail("session", ident, "--json", env=env, check=False)
        assert proc.returncode == 1
        doc = json.loads(proc.stdout)
        assert doc == {
            "schema_version": 1,
            "tool_version": doc["tool_version"],
            "kind": "error",
            "error": {"code": code, "message": doc["error"]["message"]},
        }
    assert tokentrail_json("session", "abc2", env=env)["session"]["id"] == "abc2"
    proc = tokentrail("session", "zzz", env=env, check=False)
    assert proc.returncode == 1 and "no session with id 'zzz'" in proc.stderr


def test_filters_by_agent_time_and_repo(tmp_path: Path) -> None:
    write_jsonl(
        project(tmp_path, "/work/app") / "a.jsonl",
        claude_call(1, "2026-01-05T10:00:00.000Z", "claude-sonnet-4-5", session="a"),
    )
    write_jsonl(
        project(tmp_path, "/work/other") / "b.jsonl",
        claude_call(
            2, "2026-02-05T10:00:00.000Z", "claude-sonnet-4-5", session="b", cwd="/work/other"
        ),
    )
    env = env_for(tmp_path)

    def ids(*args: str) -> list[str]:
        return [s["id"] for s in tokentrail_json("sessions", *args, env=env)["sessions"]]

    assert ids() == ["a", "b"]
    assert ids("--since", "2026-02-01") == ["b"]
    assert ids("--until", "2026-01-05") == ["a"]
    assert ids("--agent", "codex") == []
    assert ids("--repo", "/work/other") == ["b"]
    proc = tokentrail("sessions", "--since", "last tuesday", "--json", env=env, check=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)["error"]["code"] == "bad_time"


def test_repo_filter_accepts_a_relative_path(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    write_jsonl(
        project(tmp_path, str(app)) / "a.jsonl",
        claude_call(1, TS.format(0), "claude-sonnet-4-5", session="a", cwd=str(app)),
    )
    env = env_for(tmp_path)
    for repo, cwd in ((".", app), ("app", tmp_path)):
        doc = tokentrail_json("sessions", "--repo", repo, env=env, cwd=cwd)
        assert [row["id"] for row in doc["sessions"]] == ["a"]
