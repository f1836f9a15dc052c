"""The Pi adapter through the CLI: the corpus session where pi keeps it, its folder
variable, tool calls and the agent's own commits, pi's own cost beside ours, discovery
scoped to a repository, and a record type tokentrail does not know."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import genai_prices

from tests.cli_inprocess import run_json, run_ok
from tests.cli_run import CORPUS

FIXTURE = CORPUS / "pi" / "jazzyalex-agent-sessions-synthetic" / "small.jsonl"
SESSION = "019e19b4-eb48-746a-aa6b-8dfcfa37954b"


def lay_out(sessions: Path) -> None:
    folder = sessions / "--tmp-as-agent-fixture-project--"
    folder.mkdir(parents=True)
    (folder / f"2026-05-12T01-02-27-657Z_{SESSION}.jsonl").symlink_to(FIXTURE)


def check_fixture(doc: dict[str, Any]) -> None:
    # Read off the fixture: two assistant messages of 12 in / 7 out each, a model nobody
    # prices (pi wrote cost 0 for it), two compactions.
    (row,) = doc["sessions"]
    assert (row["agent"], row["id"]) == ("pi", SESSION)
    assert row["cwd"] == "/tmp/as-agent-fixture/project"
    assert row["requests"] == 2 and row["models"] == {"pi-fixture-model": 2}
    assert (row["input_tokens"], row["output_tokens"]) == (24, 14)
    assert row["cache_read_tokens"] == row["cache_write_tokens"] == 0
    assert row["cost_usd"] is None and row["unpriced_requests"] == 2  # unpriced, never $0
    assert row["agent_cost_usd"] is None  # pi's 0 means it did not know the price
    assert doc["warnings"] == []


def test_corpus_session_in_the_default_place(isolated_home: Path) -> None:
    lay_out(isolated_home / ".pi" / "agent" / "sessions")
    check_fixture(run_json("sessions", "--agent", "pi"))
    detail = run_json("session", SESSION[:8])
    assert detail["compactions"] == 2 and detail["prompts"] == 2


def test_corpus_session_under_pi_agent_dir(tmp_path: Path) -> None:
    lay_out(tmp_path / "pi-sessions")
    check_fixture(run_json("sessions", env={"PI_AGENT_DIR": str(tmp_path / "pi-sessions")}))


def line(kind: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "id": f"e{n}", "timestamp": f"2026-05-12T10:00:{n:02d}.000Z", **fields}


def assistant(n: int, content: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    message = {
        "role": "assistant",
        "content": content,
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "usage": usage,
    }
    return line("message", n, message=message)


def test_tools_commits_own_cost_and_repo_scope(isolated_home: Path, tmp_path: Path) -> None:
    repo = (tmp_path / "repo").resolve()
    repo.mkdir()
    usage = {
        "input": 3,
        "output": 150,
        "cacheRead": 9000,
        "cacheWrite": 500,
        "totalTokens": 9653,
        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "total": 0.0123},
    }
    commit = {"command": "git add -A && git commit -m 'Add x'"}
    records = [
        {
            "type": "session",
            "version": 3,
            "id": "pi-1",
            "timestamp": "2026-05-12T10:00:00Z",
            "cwd": str(repo),
        },
        line("message", 1, message={"role": "user", "content": [{"type": "text", "text": "go"}]}),
        assistant(
            2, [{"type": "toolCall", "id": "t1", "name": "bash", "arguments": commit}], usage
        ),
        line(
            "message",
            3,
            message={
                "role": "toolResult",
                "toolCallId": "t1",
                "toolName": "bash",
                "content": [{"type": "text", "text": "[feat 1a2b3c4] Add x\n 1 file changed"}],
                "isError": False,
            },
        ),
        assistant(
            4,
            [{"type": "toolCall", "id": "t2", "name": "read", "arguments": {"path": "a.py"}}],
            usage,
        ),
        line(
            "message",
            5,
            message={
                "role": "toolResult",
                "toolCallId": "t2",
                "content": [{"type": "text", "text": "ENOENT"}],
                "isError": True,
            },
        ),
        line("weird_new_entry", 6),
    ]
    folder = (
        isolated_home
        / ".pi"
        / "agent"
        / "sessions"
        / ("--" + str(repo).strip("/").replace("/", "-") + "--")
    )
    folder.mkdir(parents=True)
    (folder / "2026-05-12_pi-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    doc = run_json("sessions", "--repo", str(repo))
    (row,) = doc["sessions"]
    assert row["requests"] == 2
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (
        6,
        18000,
        1000,
    )
    assert row["output_tokens"] == 300
    assert row["agent_cost_usd"] == 0.0246 and row["agent_cost_requests"] == 2
    one = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=9503, cache_read_tokens=9000, cache_write_tokens=500, output_tokens=150
        ),
        "claude-sonnet-4-5",
    )
    assert row["cost_usd"] == round(2 * float(one.total_price), 6)
    assert doc["warnings"] == [
        f"{folder / '2026-05-12_pi-1.jsonl'}: skipped 1 pi record(s) of a type tokentrail "
        "does not know (weird_new_entry ×1)"
    ]
    detail = run_json("session", "pi-1")
    assert detail["agent_commits"] == [{"sha": "1a2b3c4", "branch": "feat"}]
    assert detail["tool_calls"] == 2 and detail["tool_errors"] == 1
    # both costs, when they differ
    text = run_ok("session", "pi-1").stdout
    assert "the agent's own cost: $0.0246 for 2 requests (tokentrail: $" in text

    other = tmp_path / "other"
    other.mkdir()
    assert run_json("sessions", "--repo", str(other))["sessions"] == []


def test_detectors_see_pi_tool_calls(isolated_home: Path, tmp_path: Path) -> None:
    """`read` of an unchanged file twice: the reread detector fires on a pi session."""
    records: list[dict[str, Any]] = [
        {"type": "session", "id": "pi-2", "timestamp": "2026-05-12T10:00:00Z", "cwd": "/w"}
    ]
    context = 2000
    for n in range(1, 7):
        content = []
        if n in (1, 2):
            read = {
                "type": "toolCall",
                "id": f"r{n}",
                "name": "read",
                "arguments": {"path": "src/app.py"},
            }
            content.append(read)
        usage = {"input": 5, "output": 40, "cacheRead": context, "cacheWrite": 0}
        records.append(assistant(2 * n, content, usage))
        if n in (1, 2):
            result = [{"type": "text", "text": "x = 1\n" * 1500}]
            records.append(
                line(
                    "message",
                    2 * n + 1,
                    message={"role": "toolResult", "toolCallId": f"r{n}", "content": result},
                )
            )
            context += 3300
    folder = isolated_home / ".pi" / "agent" / "sessions" / "--w--"
    folder.mkdir(parents=True)
    (folder / "s_pi-2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    doc = run_json("lessons", "--all")
    assert doc["sessions"] == 1 and doc["findings"] >= 1
    assert any("reread" in lesson["detectors"] for lesson in doc["lessons"])
