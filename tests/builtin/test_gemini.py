"""The Gemini CLI adapter through the CLI: the corpus chats (JSON and JSONL) where Gemini
CLI keeps them, the project hash mapped back to a repository, updated messages, tool calls
and the agent's own commits, and a chat of a shape tokentrail does not know."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import genai_prices
import pytest

from tests.cli_inprocess import run_json
from tests.cli_run import CORPUS

FIXTURES = CORPUS / "gemini" / "jazzyalex-agent-sessions-synthetic"
MODEL = "gemini-3-flash-preview"
# (file name under chats/, corpus file)
CHATS = (
    ("session-2026-01-16T18-34-3739ef95.json", FIXTURES / "small.json"),
    ("session-2026-04-29T21-39-stage0.jsonl", FIXTURES / "jsonl_v040.jsonl"),
)
# Read off the fixtures: small.json has one reply (input 10, output 5); jsonl_v040 has two,
# the second with 11,502 of its 12,069 prompt tokens cached (total 12,216 = input +
# output, so the cached part is inside `input`).
EXPECTED = {
    "session-2026-01-16T18-34-3739ef95": {
        "requests": 1,
        "input_tokens": 10,
        "cache_read_tokens": 0,
        "output_tokens": 5,
        "calls": [("2026-01-16T18:34:02Z", 10, 0, 5)],
    },
    "gemini_stage0_jsonl": {
        "requests": 2,
        "input_tokens": 11855 + 12069 - 11502,
        "cache_read_tokens": 11502,
        "output_tokens": 81 + 147,
        "calls": [
            ("2026-04-29T21:39:35Z", 11855, 0, 81),
            ("2026-04-29T21:39:45Z", 12069, 11502, 147),
        ],
    },
}


def genai_price(calls: list[tuple[str, int, int, int]]) -> float:
    """genai-prices' own price of the raw per-message counts (prompt includes the cache)."""
    total = 0.0
    for when, prompt, cached, out in calls:
        usage = genai_prices.Usage(input_tokens=prompt, cache_read_tokens=cached, output_tokens=out)
        stamp = datetime.fromisoformat(when.replace("Z", "+00:00"))
        total += float(
            genai_prices.calc_price(usage, MODEL, genai_request_timestamp=stamp).total_price
        )
    return total


def lay_out(home: Path, folder: str) -> Path:
    chats = home / ".gemini" / "tmp" / folder / "chats"
    chats.mkdir(parents=True)
    for name, source in CHATS:
        (chats / name).symlink_to(source)
    return chats


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in doc["sessions"]}


def check_sums(doc: dict[str, Any]) -> None:
    rows = by_id(doc)
    assert set(rows) == set(EXPECTED)
    for session_id, want in EXPECTED.items():
        row = rows[session_id]
        assert row["agent"] == "gemini"
        for key in ("requests", "input_tokens", "cache_read_tokens", "output_tokens"):
            assert row[key] == want[key], (session_id, key)
        assert row["cache_write_tokens"] == 0 and row["reasoning_tokens"] == 0
        assert row["models"] == {MODEL: want["requests"]}
        assert row["unpriced_requests"] == 0
        assert row["cost_usd"] == pytest.approx(genai_price(want["calls"]), abs=1e-6)
        assert row["agent_cost_usd"] is None  # Gemini CLI records no cost
    assert doc["warnings"] == []


def test_corpus_chats_in_the_default_place(isolated_home: Path) -> None:
    lay_out(isolated_home, "0b7dfb1274ee51b336813b17f2ddab1f56b6591f723e7314126bbd502c69e9c9")
    check_sums(run_json("sessions", "--agent", "gemini"))


def test_corpus_chats_under_gemini_cli_home(tmp_path: Path) -> None:
    lay_out(tmp_path / "profile", "some-project")
    check_sums(run_json("sessions", env={"GEMINI_CLI_HOME": str(tmp_path / "profile")}))
    assert run_json("sessions", "--agent", "gemini")["sessions"] == []  # ~ is empty


def test_a_repository_finds_its_folder_by_hash_or_marker(
    isolated_home: Path, tmp_path: Path
) -> None:
    repo, other = (tmp_path / "repo").resolve(), (tmp_path / "other").resolve()
    repo.mkdir()
    other.mkdir()
    lay_out(isolated_home, hashlib.sha256(str(repo).encode()).hexdigest())
    lay_out(isolated_home, hashlib.sha256(str(other).encode()).hexdigest())
    doc = run_json("sessions", "--repo", str(repo))
    assert len(doc["sessions"]) == 2
    assert {row["cwd"] for row in doc["sessions"]} == {str(repo)}
    check_sums(doc)

    # newer builds: a short folder name whose .project_root names the repository
    newer = tmp_path / "newer"
    newer.mkdir()
    chats = isolated_home / ".gemini" / "tmp" / "newer" / "chats"
    chats.mkdir(parents=True)
    (chats.parent / ".project_root").write_text(str(newer.resolve()), encoding="utf-8")
    (chats / "session-x.json").symlink_to(FIXTURES / "small.json")
    doc = run_json("sessions", "--repo", str(newer))
    assert [(r["id"], r["cwd"]) for r in doc["sessions"]] == [
        ("session-2026-01-16T18-34-3739ef95", str(newer.resolve()))
    ]


def reply(msg_id: str, ts: str, tokens: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {
        "id": msg_id,
        "timestamp": ts,
        "type": "gemini",
        "model": MODEL,
        "tokens": tokens,
        **extra,
    }


def shell(call_id: str, command: str, output: str, status: str = "success") -> dict[str, Any]:
    response = {"output": output} if status == "success" else {"error": output}
    return {
        "id": call_id,
        "name": "run_shell_command",
        "args": {"command": command},
        "result": [
            {"functionResponse": {"id": call_id, "name": "run_shell_command", "response": response}}
        ],
        "status": status,
    }


def test_updated_messages_tools_and_the_agents_commits(isolated_home: Path) -> None:
    chats = isolated_home / ".gemini" / "tmp" / "p" / "chats"
    chats.mkdir(parents=True)
    ts = "2026-05-01T10:00:0{}.000Z"
    lines = [
        {"sessionId": "g-tools", "projectHash": "x", "startTime": ts.format(0), "kind": "main"},
        {"id": "u1", "timestamp": ts.format(1), "type": "user", "content": [{"text": "commit it"}]},
        # written while streaming, then again when done: only the final copy counts
        reply("r1", ts.format(2), {"input": 900, "output": 3, "cached": 0, "total": 903}),
        {"$set": {"lastUpdated": ts.format(3)}},
        reply(
            "r1",
            ts.format(2),
            {"input": 900, "output": 40, "cached": 800, "thoughts": 20, "total": 960},
            toolCalls=[
                shell("c1", "pytest -q", "1 failed", status="error"),
                shell("c2", 'git commit -m "Add x"', "[feat 1a2b3c4] Add x\n 1 file changed"),
            ],
        ),
    ]
    (chats / "session-tools.jsonl").write_text(
        "".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8"
    )
    detail = run_json("session", "g-tools")
    row = detail["session"]
    assert row["requests"] == 1
    # 800 of the 900 prompt tokens cached; the 20 thought tokens are billed as output
    assert (row["input_tokens"], row["cache_read_tokens"]) == (100, 800)
    assert (row["output_tokens"], row["reasoning_tokens"]) == (60, 20)
    assert detail["tool_calls"] == 2 and detail["tool_errors"] == 1
    assert detail["prompts"] == 1
    assert detail["agent_commits"] == [{"sha": "1a2b3c4", "branch": "feat"}]


def test_a_chat_of_unknown_shape_is_said_not_counted(isolated_home: Path) -> None:
    chats = lay_out(isolated_home, "p")
    odd = chats / "session-odd.json"
    odd.write_text(json.dumps({"conversation": [{"role": "model", "usage": {"n": 5}}]}))
    doc = run_json("sessions")
    assert [w for w in doc["warnings"] if str(odd) in w] == [
        f"{odd}: no gemini record recognised in 1 record(s); a log format tokentrail "
        "does not know yet, nothing was counted from it"
    ]
    assert {row["id"] for row in doc["sessions"]} == set(EXPECTED)
