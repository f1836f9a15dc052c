"""`tokentrail demo` on a machine with no logs and no git identity: a real repo, real
logs, and the sessions listing scoped to that repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tokentrail.demo.repo import AGENT_COMMIT, BRANCH, build_demo


def bare_env(tmp: Path, **extra: str) -> dict[str, str]:
    """HOME is an empty folder: no ~/.claude, no ~/.codex, no ~/.gitconfig."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "TOKENTRAIL_CONFIG")
        and not k.startswith("GIT_")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        TOKENTRAIL_PLUGINS="",
        TOKENTRAIL_NO_CACHE="1",
        TMPDIR=str(tmp / "tmp"),
        **extra,
    )
    (tmp / "tmp").mkdir(exist_ok=True)
    return env


def tokentrail(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokentrail", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    tmp = tmp_path_factory.mktemp("demo")
    env = bare_env(tmp)
    dest = tmp / "kept"
    proc = tokentrail(env, tmp, "demo", "--keep", str(dest))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return dest, env, proc.stdout


def sessions_json(env: dict[str, str], dest: Path, *args: str) -> Any:
    env = {**env, "CLAUDE_CONFIG_DIR": str(dest / "claude"), "CODEX_HOME": str(dest / "codex")}
    proc = tokentrail(env, dest, "sessions", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_demo_builds_a_real_repo(kept: tuple[Path, dict[str, str], str]) -> None:
    dest, _, _ = kept
    repo = dest / "shop-api"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == BRANCH
    assert set(git(repo, "branch", "--format=%(refname:short)").split()) == {"main", BRANCH}
    feature = git(repo, "log", "--format=%H %an %s", f"main..{BRANCH}").splitlines()
    assert len(feature) == 3
    assert all(" Demo Developer " in line for line in feature)
    assert len(git(repo, "log", "--format=%H", "main").splitlines()) == 1
    assert git(repo, "status", "--porcelain") == ""


def test_demo_prints_only_the_repos_sessions(kept: tuple[Path, dict[str, str], str]) -> None:
    dest, _, out = kept
    assert "claude-code" in out and "codex" in out
    assert f"Branch {BRANCH}" in out
    sessions = out.split("Sessions:\n", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert sorted(line.split()[0] for line in sessions) == ["claude-code", "codex"]
    assert "scratch-notes" not in out
    assert str(dest / "claude") in out  # --keep says where the files are


def test_sessions_for_the_repo_are_exactly_the_demo_ones(
    kept: tuple[Path, dict[str, str], str],
) -> None:
    dest, env, _ = kept
    everything = sessions_json(env, dest)
    assert everything["totals"]["sessions"] == 3
    scoped = sessions_json(env, dest, "--repo", str(dest / "shop-api"))
    rows = scoped["sessions"]
    assert sorted(r["agent"] for r in rows) == ["claude-code", "codex"]
    assert all(r["cwd"] == str(dest.resolve() / "shop-api") for r in rows)
    assert all(r["branches"] == [BRANCH] for r in rows)
    others = {r["id"] for r in everything["sessions"]} - {r["id"] for r in rows}
    assert len(others) == 1
    (other,) = (r for r in everything["sessions"] if r["id"] in others)
    assert other["cwd"].endswith("scratch-notes")
    claude = next(r for r in rows if r["agent"] == "claude-code")
    assert len(claude["models"]) == 2  # main thread and a haiku subagent


def test_agent_commit_names_a_real_commit(kept: tuple[Path, dict[str, str], str]) -> None:
    dest, env, _ = kept
    repo = dest / "shop-api"
    scoped = sessions_json(env, dest, "--repo", str(repo))
    claude = next(r for r in scoped["sessions"] if r["agent"] == "claude-code")
    env = {**env, "CLAUDE_CONFIG_DIR": str(dest / "claude"), "CODEX_HOME": str(dest / "codex")}
    proc = tokentrail(env, dest, "session", claude["id"], "--json")
    assert proc.returncode == 0, proc.stderr
    commits = json.loads(proc.stdout)["agent_commits"]
    assert len(commits) == 1
    full = git(repo, "rev-parse", commits[0]["sha"])
    feature = git(repo, "log", "--reverse", "--format=%H", f"main..{BRANCH}").splitlines()
    assert full == feature[AGENT_COMMIT]
    # work continued after the last commit: the session ends after it
    last_commit = int(git(repo, "log", "-1", "--format=%ct", BRANCH))
    end = claude["end"].replace("Z", "+00:00")
    assert datetime.fromisoformat(end).timestamp() > last_commit + 60


def test_demo_report_json_attributes_every_commit(tmp_path: Path) -> None:
    proc = tokentrail(bare_env(tmp_path), tmp_path, "demo", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1 and doc["branch"] == BRANCH
    assert len(doc["commits"]) == 3 and all(c["requests"] > 0 for c in doc["commits"])
    assert doc["pending"]["requests"] > 0
    links = {s["agent"]: s["link"] for s in doc["sessions"]}
    assert links == {"claude-code": "exact", "codex": "window"}
    parts = [*doc["commits"], doc["pending"]]
    assert sum(p["requests"] for p in parts) == doc["totals"]["requests"]
    assert doc["likely_cause"]


def test_build_demo_returns_what_it_made(tmp_path: Path) -> None:
    demo = build_demo(tmp_path / "d")
    assert demo.repo.is_dir() and (demo.repo / ".git").is_dir()
    assert len(demo.commits) == 3 and demo.agent_commit == demo.commits[AGENT_COMMIT]
    assert demo.commit_times == sorted(demo.commit_times)
    assert git(demo.repo, "rev-parse", demo.base) == demo.base_sha
    claude = demo.sessions[0]
    assert claude.start < demo.commit_times[0] and claude.end > demo.commit_times[-1]
    assert claude.commits == [demo.agent_commit[:7]]
    assert demo.env()["CLAUDE_CONFIG_DIR"] == str(demo.claude_dir)
    assert all(s.cwd != str(demo.repo) for s in demo.other_sessions)


def test_build_demo_refuses_a_used_folder(tmp_path: Path) -> None:
    build_demo(tmp_path)
    proc = tokentrail(bare_env(tmp_path), tmp_path, "demo", "--keep", str(tmp_path))
    assert proc.returncode == 1
    assert "already exists" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_without_keep_cleans_up(tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    proc = tokentrail(env, tmp_path, "demo")
    assert proc.returncode == 0, proc.stderr
    assert f"Branch {BRANCH}" in proc.stdout and "Pending (next commit)" in proc.stdout
    assert list((tmp_path / "tmp").iterdir()) == []
