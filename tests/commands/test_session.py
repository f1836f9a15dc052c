"""`tokentrail session` (the postmortem of one session) and `tokentrail sessions` (ranking),
in-process with click's CliRunner on the real corpus; and what the agent said about itself
beside the transcript (its own cost, linked PRs, rate limits) on small written logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.cli_run import CORPUS, claude_config_from_corpus
from tests.cli_run import invoke as run_cli
from tests.logs import claude_call, write_jsonl
from tokentrail.builtin.claude_code import project_slug
from tokentrail.cli import cli


@pytest.fixture(autouse=True)
def corpus_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_config_from_corpus(tmp_path)))
    monkeypatch.setenv("CODEX_HOME", str(CORPUS / "codex" / "madshn-localpush"))


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def as_json(*args: str) -> dict[str, Any]:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_the_postmortem_names_the_cause_the_findings_and_what_burned_context() -> None:
    """4d5611e5: two idle re-writes ($0.95) lead; session_live.ex is what burned context."""
    doc = as_json("session", "4d5611e5")
    assert doc["kind"] == "session" and doc["session"]["id"].startswith("4d5611e5")
    assert doc["likely_cause"].startswith("2 cache re-writes after idle gaps")
    idle = [f for f in doc["findings"] if f["evidence"][0].get("kind") == "idle"]
    assert len(idle) == 2 and all(f["wasted_usd"] > 0.4 for f in idle)
    assert doc["waste"]["wasted_usd"] == pytest.approx(
        sum(f["wasted_usd"] for f in doc["findings"])
    )
    top = doc["carry"]["top_groups"][0]
    assert top["what"] == "lib/spotter_web/live/session_live.ex"  # relative to where it ran
    assert top["tools"]["Read"] == 4 and top["carried_requests"] == 73 and top["carry_usd"] > 0.5
    assert doc["lessons"] and all(lesson["saved_usd"] >= 0.01 for lesson in doc["lessons"])
    assert {r["subagent"] for r in doc["by_subagent"]} == {"main", "a2898e3", "acompact-e1f845"}
    text = invoke("session", "4d5611e5").stdout
    for part in ("Likely cause: 2 cache re-writes", "Waste found: $1.", "What burned context"):
        assert part in text
    assert "lib/spotter_web/live/session_live.ex" in text and "Lessons for the next run" in text


def test_the_postmortem_renders_as_markdown_and_html() -> None:
    md = invoke("session", "258c7280", "--format", "markdown").stdout
    assert md.startswith("### tokentrail postmortem of Claude Code session `258c7280")
    assert "**Likely cause:** lib/spotter\\_web/live/session\\_live.ex in the context" in md
    assert "| `lib/spotter_web/live/session_live.ex` | 5× Edit, 3× Read, 1× Write |" in md
    assert "background task notification" in md
    page = invoke("session", "258c7280", "--format", "html").stdout
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert "What burned context" in page


def test_last_is_the_session_active_most_recently() -> None:
    listing = as_json("sessions")
    latest = max(listing["sessions"], key=lambda r: r["end"] or r["start"] or "")
    assert as_json("session", "--last")["session"]["id"] == latest["id"]


@pytest.mark.parametrize("args", [(), ("4d5611e5", "--last")])
def test_an_id_or_last_exactly_one_of_them(args: tuple[str, ...]) -> None:
    result = invoke("session", *args, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "bad_usage"


def test_sessions_ranked_by_cost_top_n() -> None:
    doc = as_json("sessions", "--sort", "cost", "--top", "3")
    costs = [r["cost_usd"] for r in doc["sessions"]]
    assert len(costs) == 3 and costs == sorted(costs, reverse=True)
    assert doc["sessions"][0]["id"].startswith("258c7280")  # $12.23, the corpus's largest
    assert doc["totals"]["sessions"] > 3  # totals cover every session considered


def test_sessions_ranked_by_waste_with_their_likely_cause() -> None:
    doc = as_json("sessions", "--sort", "waste", "--top", "4")
    waste = [r["wasted_usd"] for r in doc["sessions"]]
    assert waste == sorted(waste, reverse=True) and waste[0] > 1.0
    assert doc["sessions"][0]["id"].startswith("019c8a59")  # 11 idle prompt-cache losses
    assert all(r["likely_cause"] and r["findings"] >= 1 for r in doc["sessions"])
    text = invoke("sessions", "--sort", "waste", "--top", "4").stdout
    assert "WASTE" in text and "ranked by waste" in text and "Likely causes:" in text


def test_sessions_by_model_and_the_most_recent_only() -> None:
    codex = as_json("sessions", "--model", "CODEX")
    assert codex["sessions"] and {r["agent"] for r in codex["sessions"]} == {"codex"}
    recent = as_json("sessions", "--model", "gpt-5.3", "--limit", "2")
    everything = as_json("sessions", "--model", "gpt-5.3")["sessions"]
    latest = sorted(everything, key=lambda r: r["end"] or r["start"])[-2:]
    assert {r["id"] for r in recent["sessions"]} == {r["id"] for r in latest}
    assert recent["totals"]["sessions"] == 2


def test_bad_ranking_options_are_usage_errors() -> None:
    assert invoke("sessions", "--top", "0").exit_code == 2
    assert invoke("sessions", "--sort", "tokens").exit_code == 2


# --- what the agent said about itself ---------------------------------------------------

TS = "2026-02-10T12:0{}:00.000Z"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | Path]:
    return {"CLAUDE_CONFIG_DIR": tmp_path / "claude", "CODEX_HOME": tmp_path / "codex"}


def show(env: dict[str, str | Path], session_id: str) -> tuple[dict[str, Any], str]:
    as_json = run_cli("session", session_id, "--json", env=env)
    text = run_cli("session", session_id, env=env)
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
        {
            "number": 42,
            "url": "https://github.com/org/repo/pull/42",
            "repository": "org/repo",
            "at": "2026-02-10T12:01:00Z",
        }
    ]
    assert doc["rate_limits"] is None
    assert doc["session"]["agent_cost_usd"] == 0.5  # the cost-state total, for all requests
    assert doc["session"]["agent_cost_requests"] == 1
    assert doc["session"]["cost_usd_same_requests"] == transcript
    assert f"the agent's own cost: $0.5000 for 1 requests (tokentrail: ${transcript:,.4f})" in text
    assert "usage outside the transcript: $0.49" in text
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
                    "primary": {
                        "used_percent": 12.5,
                        "window_minutes": 300,
                        "resets_at": 1769950000,
                    },
                    "secondary": {
                        "used_percent": 3.0,
                        "window_minutes": 10080,
                        "resets_at": 1770300000,
                    },
                },
            },
        },
    ]
    write_jsonl(
        tmp_path / "codex" / "sessions" / "2026" / "02" / "01" / f"rollout-x-{uuid}.jsonl", records
    )
    doc, text = show(env, uuid[:8])
    assert doc["agent_cost"] is None and doc["pr_links"] == []
    assert doc["rate_limits"] == {
        "primary": {
            "used_percent": 12.5,
            "window_minutes": 300,
            "resets_at": "2026-02-01T12:46:40Z",
        },
        "secondary": {
            "used_percent": 3.0,
            "window_minutes": 10080,
            "resets_at": "2026-02-05T14:00:00Z",
        },
        "reported_at": "2026-02-01T10:00:00Z",
    }
    assert (
        "rate limits: 5-hour window 12.5% used (resets 2026-02-01T12:46:40Z), "
        "weekly window 3% used (resets 2026-02-05T14:00:00Z)"
    ) in " ".join(text.split())  # the line wraps to the terminal's width
