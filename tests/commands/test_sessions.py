"""`tokentrail sessions --agent`: a name nobody knows is a usage error naming the agents
that exist (built-in, plugins', and those in the local store), never an empty answer."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_inprocess import invoke, run_json
from tests.cli_run import tokentrail

BUILT_IN = "claude-code, codex, gemini, opencode, pi"


def test_an_unknown_agent_is_a_usage_error() -> None:
    result = invoke("sessions", "--agent", "gemini-cli", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == {
        "code": "unknown_agent",
        "message": f"no agent named 'gemini-cli'; known agents: {BUILT_IN}",
    }
    text = invoke("sessions", "--agent", "gemini-cli")
    assert text.exit_code == 2 and text.stdout == ""
    assert (
        f"tokentrail: error: no agent named 'gemini-cli'; known agents: {BUILT_IN}" in text.stderr
    )


def test_a_known_agent_without_sessions_is_an_empty_answer() -> None:
    doc = run_json("sessions", "--agent", "gemini")
    assert doc["sessions"] == [] and doc["totals"]["sessions"] == 0


def test_logged_agents_are_known(tmp_path: Path) -> None:
    run_json(
        "log", "--agent", "nightly", "--provider", "openai", "--model", "gpt-4o-mini",
        "--input-tokens", "1", "--output-tokens", "1", "--cwd", str(tmp_path),
    )  # fmt: skip
    assert [r["agent"] for r in run_json("sessions", "--agent", "nightly")["sessions"]] == [
        "nightly"
    ]
    message = json.loads(invoke("sessions", "--agent", "x", "--json").stdout)["error"]["message"]
    assert message.endswith(f"known agents: {BUILT_IN}, nightly")


def test_plugin_agents_are_known_and_the_exit_code_reaches_the_shell(
    plugin_env: dict[str, str],
) -> None:
    proc = tokentrail("sessions", "--agent", "nobody", env=plugin_env, check=False)
    assert proc.returncode == 2
    assert f"known agents: {BUILT_IN}, fake-agent" in proc.stderr
    ok = tokentrail("sessions", "--agent", "fake-agent", "--json", env=plugin_env)
    assert json.loads(ok.stdout)["sessions"] == []
