"""`tokentrail import otel` end to end: the corpus export (metrics only), per-request log
events of Claude Code and Codex, cumulative metrics, re-imports that add nothing twice,
events that replace metric totals, and a file of a shape tokentrail does not know."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import genai_prices

from tests.cli_inprocess import invoke, run_json, run_ok
from tests.cli_run import CORPUS

SAMPLE = CORPUS / "otel" / "happyaaa-tokencause-synthetic" / "claude_otel_sample.json"


def price(
    model: str, prompt: int, out: int, cached: int = 0, written: int = 0, when: str | None = None
) -> float:
    usage = genai_prices.Usage(
        input_tokens=prompt, cache_read_tokens=cached, cache_write_tokens=written, output_tokens=out
    )
    stamp = datetime.fromisoformat(when.replace("Z", "+00:00")) if when else None
    return float(genai_prices.calc_price(usage, model, genai_request_timestamp=stamp).total_price)


def attrs(**values: Any) -> list[dict[str, Any]]:
    out = []
    for key, value in values.items():
        key = key.replace("__", ".")
        if isinstance(value, bool):
            out.append({"key": key, "value": {"boolValue": value}})
        elif isinstance(value, int):
            out.append({"key": key, "value": {"intValue": str(value)}})
        elif isinstance(value, float):
            out.append({"key": key, "value": {"doubleValue": value}})
        else:
            out.append({"key": key, "value": {"stringValue": value}})
    return out


def logs(service: str, *records: dict[str, Any]) -> dict[str, Any]:
    resource = {"attributes": attrs(service__name=service)}
    return {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": list(records)}]}]}


def event(body: str, **values: Any) -> dict[str, Any]:
    return {"timeUnixNano": "0", "body": {"stringValue": body}, "attributes": attrs(**values)}


def sums(
    name: str, points: list[tuple[dict[str, Any], float, int, int]], temporality: int = 1
) -> dict[str, Any]:
    data = [
        {
            "attributes": attrs(**a),
            "asDouble" if isinstance(v, float) else "asInt": v if isinstance(v, float) else str(v),
            "startTimeUnixNano": str(start),
            "timeUnixNano": str(end),
        }
        for a, v, start, end in points
    ]
    metric = {"name": name, "sum": {"aggregationTemporality": temporality, "dataPoints": data}}
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]}


def write(path: Path, *docs: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def session_row(agent: str, session: str) -> dict[str, Any]:
    rows = [r for r in run_json("sessions", "--agent", agent)["sessions"] if r["id"] == session]
    assert len(rows) == 1
    return rows[0]


def test_corpus_sample_metrics_only_into_the_default_store(isolated_home: Path) -> None:
    doc = run_json("import", "otel", str(SAMPLE))
    assert (doc["calls"], doc["tool_results"], doc["written"]) == (1, 1, 2)
    assert doc["sessions"] == [
        {"agent": "claude-code", "id": "demo-session", "calls": 1, "metrics_only": True}
    ]
    assert doc["warnings"] == []
    stored = isolated_home / ".local/share/tokentrail/sessions/claude-code/demo-session.jsonl"
    assert len(stored.read_text().splitlines()) == 2

    # The sample: claude_code.token.usage input 12,000 and output 1,400, cost.usage $0.18.
    row = session_row("claude-code", "demo-session")
    assert row["requests"] == 1 and row["models"] == {"claude-sonnet-4": 1}
    assert (row["input_tokens"], row["output_tokens"]) == (12000, 1400)
    assert row["cost_usd"] == round(price("claude-sonnet-4", 12000, 1400), 6)
    assert row["agent_cost_usd"] == 0.18
    detail = run_json("session", "demo-session")
    assert detail["tool_calls"] == 1 and detail["tool_errors"] == 0

    text = run_ok("import", "otel", str(SAMPLE)).stdout
    assert "imported 0 new record(s)" in text and "2 were already imported" in text
    assert "from metrics only" in text
    assert session_row("claude-code", "demo-session")["requests"] == 1  # not counted twice


def test_the_store_follows_tokentrail_data_dir_then_xdg(tmp_path: Path) -> None:
    for variable, folder in (
        ("TOKENTRAIL_DATA_DIR", tmp_path / "own"),
        ("XDG_DATA_HOME", tmp_path / "xdg"),
    ):
        env = {variable: str(folder)}
        run_json("import", "otel", str(SAMPLE), env=env)
        under = folder if variable == "TOKENTRAIL_DATA_DIR" else folder / "tokentrail"
        assert (under / "sessions" / "claude-code" / "demo-session.jsonl").is_file()
        rows = run_json("sessions", env=env)["sessions"]
        assert [(r["id"], r["input_tokens"]) for r in rows] == [("demo-session", 12000)]


def claude_request(session: str, n: int, when: str, **tokens: int) -> dict[str, Any]:
    return event(
        "claude_code.api_request",
        event__name="api_request",
        session__id=session,
        event__sequence=n,
        event__timestamp=when,
        model="claude-sonnet-4-5-20250929",
        cost_usd=0.5,
        **tokens,
    )


def test_claude_and_codex_events_per_request(tmp_path: Path) -> None:
    s = "cc-1"
    export = write(
        tmp_path / "export.jsonl",
        logs(
            "claude-code",
            claude_request(
                s,
                1,
                "2026-03-01T10:00:00Z",
                input_tokens=10,
                output_tokens=200,
                cache_read_tokens=5000,
                cache_creation_tokens=1200,
            ),
            event(
                "claude_code.tool_result",
                session__id=s,
                event__timestamp="2026-03-01T10:00:05Z",
                tool_name="Bash",
                success="false",
                error="Exit code 1",
                tool_result_size_bytes=2048,
                tool_parameters=json.dumps({"bash_command": "pytest", "full_command": "pytest -x"}),
            ),
            claude_request(
                s,
                2,
                "2026-03-01T10:01:00Z",
                input_tokens=4,
                output_tokens=50,
                cache_read_tokens=6200,
                cache_creation_tokens=0,
            ),
            event("claude_code.user_prompt", session__id=s, prompt_length=20),
        ),
        # the same session's metrics must not be added on top of its events
        sums(
            "claude_code.token.usage",
            [({"session.id": s, "model": "x", "type": "input"}, 99999, 1, 2)],
        ),
        logs(
            "codex_cli_rs",
            event(
                "codex.sse_event",
                conversation__id="cx-1",
                event__kind="response.completed",
                event__timestamp="2026-03-01T11:00:00Z",
                model="gpt-5",
                input_token_count=10000,
                cached_token_count=8000,
                output_token_count=300,
                reasoning_token_count=120,
            ),
            event(
                "codex.sse_event", conversation__id="cx-1", event__kind="response.output_text.delta"
            ),
            event(
                "codex.tool_result",
                conversation__id="cx-1",
                event__timestamp="2026-03-01T11:00:09Z",
                tool_name="shell",
                call_id="call_1",
                arguments=json.dumps({"command": ["bash", "-lc", "git commit -m 'Add x'"]}),
                success="true",
                output="[feat 1a2b3c4] Add x\n 1 file changed",
            ),
        ),
    )
    repo = tmp_path / "repo"
    repo.mkdir()
    doc = run_json("import", "otel", str(export), "--cwd", str(repo), "--branch", "feat")
    assert doc["calls"] == 3 and doc["tool_results"] == 2
    assert not any(row["metrics_only"] for row in doc["sessions"])
    assert doc["not_counted"] == {"claude_code.user_prompt": 1, "codex.sse_event": 1}

    listed = run_json("sessions", "--repo", str(repo))["sessions"]
    rows = {row["agent"]: row for row in listed}
    claude, codex = rows["claude-code"], rows["codex"]
    assert claude["requests"] == 2 and claude["branches"] == ["feat"]
    assert (claude["input_tokens"], claude["cache_read_tokens"]) == (14, 11200)
    assert (claude["cache_write_tokens"], claude["output_tokens"]) == (1200, 250)
    assert claude["agent_cost_usd"] == 1.0
    expected = price("claude-sonnet-4-5-20250929", 6210, 200, 5000, 1200, "2026-03-01T10:00:00Z")
    expected += price("claude-sonnet-4-5-20250929", 6204, 50, 6200, 0, "2026-03-01T10:01:00Z")
    assert claude["cost_usd"] == round(expected, 6)
    # Codex counts cached input inside input_token_count, reasoning inside output
    assert (codex["input_tokens"], codex["cache_read_tokens"]) == (2000, 8000)
    assert (codex["output_tokens"], codex["reasoning_tokens"]) == (300, 120)
    assert codex["agent_cost_usd"] is None

    detail = run_json("session", "cc-1")
    assert detail["tool_calls"] == 1 and detail["tool_errors"] == 1
    assert run_json("session", "cx-1")["agent_commits"] == [{"sha": "1a2b3c4", "branch": "feat"}]


def test_cumulative_metrics_and_a_later_overlapping_export(tmp_path: Path) -> None:
    point = {"session.id": "m-1", "model": "claude-haiku-4-5", "type": "input"}
    first = write(
        tmp_path / "a.json",
        sums("claude_code.token.usage", [(point, 100, 1, 10), (point, 250, 1, 20)], temporality=2),
    )
    later = write(
        tmp_path / "b.json",
        sums(
            "claude_code.token.usage",
            [(point, 100, 1, 10), (point, 250, 1, 20), (point, 400, 1, 30)],
            temporality=2,
        ),
    )
    run_json("import", "otel", str(first))
    assert session_row("claude-code", "m-1")["input_tokens"] == 250
    doc = run_json("import", "otel", str(later))
    assert doc["written"] == 1 and doc["already_imported"] == 2
    row = session_row("claude-code", "m-1")
    assert (row["requests"], row["input_tokens"]) == (3, 400)


def test_events_imported_later_replace_metric_totals(tmp_path: Path) -> None:
    metrics = write(
        tmp_path / "metrics.json",
        sums(
            "claude_code.token.usage",
            [({"session.id": "s-9", "model": "claude-sonnet-4", "type": "output"}, 700, 1, 2)],
        ),
    )
    run_json("import", "otel", str(metrics))
    assert session_row("claude-code", "s-9")["output_tokens"] == 700
    events = write(
        tmp_path / "events.json",
        logs(
            "claude-code",
            claude_request("s-9", 1, "2026-03-01T10:00:00Z", input_tokens=5, output_tokens=640),
        ),
    )
    run_json("import", "otel", str(events))
    row = session_row("claude-code", "s-9")
    assert (row["requests"], row["output_tokens"]) == (1, 640)


def test_a_file_of_unknown_shape_is_said(tmp_path: Path) -> None:
    odd = write(tmp_path / "odd.json", {"spans": [{"name": "llm", "tokens": 5}]})
    result = invoke("import", "otel", str(odd))
    assert result.exit_code == 0
    assert result.stdout.startswith("imported 0 new record(s)")
    assert (
        f"tokentrail: warning: {odd}: no Claude Code or Codex usage event or metric "
        "recognised; nothing was imported from it"
    ) in result.stderr
    assert run_json("sessions")["sessions"] == []
