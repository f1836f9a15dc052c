"""The local store's adapter: an imported session that the agent's own log also holds is
counted once, from the log; records it does not know are warned about."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_inprocess import run_json
from tests.logs import claude_call, write_jsonl
from tokentrail.builtin.claude_code import project_slug


def otel_request(session: str, output: int) -> dict[str, object]:
    attributes = [
        {"key": "event.name", "value": {"stringValue": "claude_code.api_request"}},
        {"key": "session.id", "value": {"stringValue": session}},
        {"key": "event.timestamp", "value": {"stringValue": "2026-02-10T12:00:00Z"}},
        {"key": "model", "value": {"stringValue": "claude-sonnet-4-5"}},
        {"key": "input_tokens", "value": {"intValue": "5"}},
        {"key": "output_tokens", "value": {"intValue": str(output)}},
    ]
    return {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": attributes}]}]}]}


def test_the_agents_own_log_wins_over_an_import(isolated_home: Path, tmp_path: Path) -> None:
    folder = isolated_home / ".claude" / "projects" / project_slug("/work/app")
    calls = claude_call(
        1, "2026-02-10T12:00:00.000Z", "claude-sonnet-4-5", out=441, session="s-dup"
    )
    write_jsonl(folder / "s-dup.jsonl", calls)
    export = tmp_path / "otel.json"
    export.write_text(
        json.dumps(otel_request("s-dup", 900)) + "\n" + json.dumps(otel_request("s-only", 7))
    )
    run_json("import", "otel", str(export))

    doc = run_json("sessions", "--agent", "claude-code")
    rows = {row["id"]: row for row in doc["sessions"]}
    assert set(rows) == {"s-dup", "s-only"}
    assert rows["s-dup"]["output_tokens"] == 441  # the transcript, not the import's 900
    assert rows["s-dup"]["paths"] == [str(folder / "s-dup.jsonl")]
    assert rows["s-only"]["output_tokens"] == 7
    stored = isolated_home / ".local/share/tokentrail/sessions/claude-code/s-dup.jsonl"
    assert doc["warnings"] == [
        f"claude-code session s-dup is both in the agent's own log and in an import "
        f"({stored}); the import is not counted"
    ]
    assert doc["totals"]["requests"] == 2


def test_unknown_store_records_are_warned(isolated_home: Path) -> None:
    stored = isolated_home / ".local/share/tokentrail/sessions/bot/s.jsonl"
    stored.parent.mkdir(parents=True)
    lines = [
        {"v": 1, "kind": "call", "key": "k1", "session": "s", "model": "m", "input_tokens": 3},
        {"v": 1, "kind": "span", "key": "k2", "session": "s"},
        {"v": 1, "kind": "call", "key": "k1", "session": "s", "model": "m", "input_tokens": 3},
    ]
    stored.write_text("".join(json.dumps(line) + "\n" for line in lines))
    doc = run_json("sessions", "--agent", "bot")
    assert [row["requests"] for row in doc["sessions"]] == [1]  # k1 counted once
    assert doc["warnings"] == [
        f"{stored}: skipped 1 local-store record(s) of a type tokentrail does not know (span ×1)"
    ]
