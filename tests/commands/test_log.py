"""`tokentrail log`: a custom agent's calls, from the command line to the branch receipt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli_inprocess import invoke, run_json
from tests.gitrepo import Env, GitRepo, at, stamp

CALL = ("--agent", "my-bot", "--provider", "openai", "--model", "gpt-4o-mini")


def log(*args: str, tokens: tuple[int, int] = (1000, 100)) -> dict[str, Any]:
    return run_json(
        "log", *CALL, "--input-tokens", str(tokens[0]), "--output-tokens", str(tokens[1]), *args
    )


def test_three_logged_calls_go_into_the_right_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    base = repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    c1 = repo.commit("first change", at(13))
    c2 = repo.commit("second change", at(16.5))
    (repo.path / "src").mkdir()
    monkeypatch.chdir(repo.path / "src")  # the repository's top level is the default cwd

    first = log("--timestamp", stamp(at(10)), tokens=(1000, 100))
    assert first["call"]["cwd"] == str(repo.path.resolve()) and first["call"]["branch"] == "feat"
    assert first["call"]["session"] == "my-bot-2026-02-23"
    log("--timestamp", stamp(at(14)), tokens=(2000, 200))
    log("--timestamp", stamp(at(20)), tokens=(4000, 400))
    log("--timestamp", stamp(at(12)), "--branch", "other", tokens=(9999, 999))  # not this branch

    (row,) = run_json("sessions", "--agent", "my-bot")["sessions"]
    assert (row["id"], row["requests"], row["input_tokens"]) == ("my-bot-2026-02-23", 4, 16999)
    assert row["branches"] == ["feat", "other"]

    report = run_json("report")
    assert report["base"] == base
    by_sha = {c["sha"]: c for c in report["commits"]}
    assert (by_sha[c1]["requests"], by_sha[c1]["input_tokens"]) == (1, 1000)
    assert (by_sha[c2]["requests"], by_sha[c2]["input_tokens"]) == (1, 2000)
    assert (report["pending"]["requests"], report["pending"]["input_tokens"]) == (1, 4000)
    (session,) = report["sessions"]
    assert (session["agent"], session["link"], session["requests"]) == ("my-bot", "window", 3)
    assert report["totals"]["cost_usd"] > 0


def test_json_answers_with_the_price_and_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not a repository: the folder itself, no branch
    doc = log("--cost", "0.5", "--session-id", "run-7", "--cache-read-tokens", "3000")
    assert doc["kind"] == "log" and doc["price_source"].startswith("genai-prices")
    assert doc["cost_usd"] > 0 and doc["agent_cost_usd"] == 0.5
    assert doc["call"]["cwd"] == str(tmp_path.resolve()) and doc["call"]["branch"] is None
    assert Path(doc["store"]).name == "run-7.jsonl"

    (tmp_path / ".tokentrail.yml").write_text(
        "prices:\n  gpt-4o-mini:\n    input: 1.0\n    output: 2.0\n", encoding="utf-8"
    )
    doc = log(tokens=(1_000_000, 1_000_000))
    assert (doc["price_source"], doc["cost_usd"]) == ("config", 3.0)
    detail = run_json("session", "run-7")
    assert detail["session"]["agent_cost_usd"] == 0.5


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(
        "log", "--agent", "My Bot", "--provider", "p", "--model", "m",
        "--input-tokens", "1", "--output-tokens", "1", "--json",
    )  # fmt: skip
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "bad_agent_name"
    assert invoke("log", *CALL, "--input-tokens", "-5", "--output-tokens", "1").exit_code == 2
    assert invoke("log", "--agent", "a", "--input-tokens", "1").exit_code == 2
    assert run_json("sessions")["sessions"] == []


def test_concurrent_processes_lose_no_call(tmp_path: Path) -> None:
    """Separate `tokentrail log` processes appending to one session file at once."""
    cmd = [sys.executable, "-m", "tokentrail", "log", *CALL, "--session-id", "busy", "-q"]
    procs = [
        subprocess.Popen(
            [*cmd, "--input-tokens", str(100 + n), "--output-tokens", "1", "--cwd", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(6)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out == b""
    (row,) = run_json("sessions", "--agent", "my-bot")["sessions"]
    assert row["requests"] == 6
    assert row["input_tokens"] == sum(100 + n for n in range(6))
