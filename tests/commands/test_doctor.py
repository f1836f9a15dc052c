"""`tokentrail doctor`: one test per finding — log folders per agent (found, missing, from
which variable), sessions per agent, the cache, the config, the hooks, the notes here and on
the remote — on real repositories and logs, in-process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli_inprocess import invoke, run_json, run_ok
from tests.gitrepo import Env, GitRepo, at
from tokentrail.demo import Reply, write_claude_session


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    repo.commit("work", at(10))
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env.claude_dir))
    monkeypatch.setenv("CODEX_HOME", str(env.codex_home))
    return repo


def doctor(*args: str) -> Any:
    return run_json("doctor", "--no-remote", *args)


def agent(doc: Any, name: str) -> Any:
    return next(a for a in doc["agents"] if a["agent"] == name)


def test_log_folders_found_missing_and_from_which_variable(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo.env.claude_dir / "projects").mkdir()
    doc = doctor()
    claude = agent(doc, "claude-code")
    assert claude["status"] == "found" and claude["from_variable"] is True
    assert claude["variable"] == "CLAUDE_CONFIG_DIR"
    assert claude["folders"] == [{"path": str(repo.env.claude_dir / "projects"), "exists": True}]
    pi = agent(doc, "pi")
    assert pi["status"] == "missing" and pi["from_variable"] is False
    assert pi["variable"] == "PI_AGENT_DIR"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "gone"))
    doc = doctor()
    assert agent(doc, "claude-code")["status"] == "missing"
    assert any("CLAUDE_CONFIG_DIR names a folder that does not exist" in a for a in doc["advice"])
    text = run_ok("doctor", "--no-remote", env={"COLUMNS": "100"}).stdout
    assert "CLAUDE_CONFIG_DIR" in text and "missing" in text


def test_sessions_per_agent_and_in_this_repository(repo: GitRepo, tmp_path: Path) -> None:
    for n, cwd in enumerate((repo.path, repo.path, tmp_path)):
        write_claude_session(
            repo.env.claude_dir, cwd, branch="feat", start=at(1 + n), seed=n, events=[Reply()]
        )
    claude = agent(doctor(), "claude-code")
    assert claude["sessions"] == 3 and claude["sessions_in_repo"] == 2
    assert agent(doctor(), "codex")["sessions"] == 0


def test_no_sessions_anywhere_is_advice_naming_the_variables(repo: GitRepo) -> None:
    doc = doctor()
    assert doc["advice"][0].startswith("no agent sessions on this machine")
    assert "CLAUDE_CONFIG_DIR" in doc["advice"][0] and "CODEX_HOME" in doc["advice"][0]


def test_the_cache_location_and_size(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("TOKENTRAIL_CACHE_DIR", str(cache))
    assert doctor()["cache"] == {
        "path": str(cache / "index.sqlite3"),
        "enabled": True,
        "exists": False,
        "entries": 0,
        "bytes": 0,
    }
    write_claude_session(
        repo.env.claude_dir, repo.path, branch="feat", start=at(1), events=[Reply()]
    )
    run_ok("report")  # parses the session into the index
    facts = doctor()["cache"]
    files = [p for p in cache.iterdir() if p.name.startswith("index.sqlite3")]
    assert facts["exists"] is True and facts["entries"] == 1
    assert facts["bytes"] == sum(p.stat().st_size for p in files) > 0
    assert "1 parsed session(s)" in run_ok("doctor", "--no-remote", env={"COLUMNS": "200"}).stdout
    monkeypatch.setenv("TOKENTRAIL_NO_CACHE", "1")
    assert doctor()["cache"]["enabled"] is False


def test_the_config_found_valid_or_not(repo: GitRepo) -> None:
    assert doctor()["config"]["found"] is False
    config = repo.path / ".tokentrail.yml"
    config.write_text("budget:\n  branch_usd: 5\n")
    facts = doctor()["config"]
    assert facts["found"] and facts["valid"] and facts["problems"] == []
    config.write_text("budgets:\n  branch_usd: 5\n")
    facts = doctor()["config"]
    assert facts["valid"] and "did you mean `budget`?" in facts["problems"][0]
    config.write_text("budget:\n  branch_usd: lots\n")
    facts = doctor()["config"]
    assert facts["valid"] is False and facts["code"] == "budget_invalid"
    assert "INVALID" in run_ok("doctor", "--no-remote").stdout


def test_hooks_installed_in_this_repository(repo: GitRepo) -> None:
    hooks = doctor()["hooks"]
    assert [h["status"] for h in hooks["hooks"]] == ["absent", "absent"]
    assert hooks["rewrite_ref"] is False
    assert any("tokentrail install" in a for a in doctor()["advice"])
    run_ok("install")
    hooks = doctor()["hooks"]
    assert [h["status"] for h in hooks["hooks"]] == ["installed", "installed"]
    assert hooks["rewrite_ref"] is True and hooks["hooks_path"] is None
    assert not any("tokentrail install" in a for a in doctor()["advice"])


def test_notes_here_and_on_the_remote(repo: GitRepo, tmp_path: Path) -> None:
    notes = doctor()["notes"]
    assert notes["local"] is False and notes["remote"] is None
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    write_claude_session(
        repo.env.claude_dir, repo.path, branch="feat", start=at(5), events=[Reply()]
    )
    run_ok("note", "HEAD", "--quiet")
    notes = run_json("doctor")["notes"]
    assert notes["local"] is True and notes["noted_commits"] == 1
    assert notes["remote"] == "origin" and notes["on_remote"] is False
    assert any("tokentrail notes push" in a for a in run_json("doctor")["advice"])
    run_ok("notes", "push", "origin")
    assert run_json("doctor")["notes"]["on_remote"] is True
    assert doctor()["notes"]["on_remote"] is None  # --no-remote: not asked


def test_outside_a_repository_it_still_reports_the_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    doc = doctor()
    assert doc["repo"] is None and doc["hooks"] is None and doc["notes"] is None
    assert {a["agent"] for a in doc["agents"]} >= {"claude-code", "codex"}
    result = invoke("doctor", "--no-remote")
    assert result.exit_code == 0 and "not inside a git repository" in result.stdout
    assert json.loads(invoke("doctor", "--json").stdout)["kind"] == "doctor"
