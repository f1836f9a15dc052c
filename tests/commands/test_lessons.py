"""`tokentrail lessons` end to end: real git repositories, real JSONL logs, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitrepo import ClaudeLog, Env, GitRepo, at


def _noisy_session(env: Env, repo: Path, branch: str, command: str, chars: int) -> None:
    """A session whose one big command output is re-sent by 20 later requests."""
    log = ClaudeLog(env, repo)
    log.prompt(at(0), "set it up", branch)
    log.request(at(1), branch, cache_write=20000, tool=("t1", "Bash", {"command": command}))
    log.tool_result(at(1.1), branch, "t1", "x" * chars)
    size = round(chars / 2.85) + 100
    prompt = 20010 + 100 + size
    log.request(at(1.2), branch, cache_read=20000, cache_write=prompt - 20010)
    for n in range(20):
        log.request(
            at(1.3 + n / 10), branch, cache_read=prompt + 100 * (n + 1) - 10, cache_write=100
        )


def _setup(tmp_path: Path) -> tuple[Env, GitRepo]:
    env = Env(tmp_path)
    repo = GitRepo(tmp_path / "app", env, branch="main")
    repo.commit("init", at(-10), file="README.md")
    repo.git("checkout", "-q", "-b", "feature")
    _noisy_session(env, repo.path, "feature", "npm install", 60000)
    _noisy_session(env, repo.path, "main", "cargo build --release", 90000)
    return env, repo


def test_branch_lessons_cover_only_this_branch_and_all_covers_every_session(
    tmp_path: Path,
) -> None:
    env, repo = _setup(tmp_path)
    doc = env.json(repo.path, "lessons")
    assert doc["schema_version"] == 1 and doc["scope"]["branch"] == "feature"
    assert doc["sessions"] == 1
    [lesson] = doc["lessons"]
    assert (
        lesson["text"]
        == "Run `npm install` with its output trimmed, e.g. `npm install 2>&1 | tail -40`."
    )
    assert lesson["saved_usd"] > 0 and lesson["count"] == 1
    everything = env.json(repo.path, "lessons", "--all")
    assert everything["sessions"] == 2
    texts = [x["text"] for x in everything["lessons"]]
    assert texts[0].startswith("Run `cargo build`")  # the bigger saving ranks first
    assert "npm install" in texts[1]
    text = env.run(repo.path, "lessons").stdout
    assert "1. Run `npm install`" in text and "Likely cause:" in text


def test_write_keeps_the_block_in_agents_md(tmp_path: Path) -> None:
    env, repo = _setup(tmp_path)
    agents = repo.path / "AGENTS.md"
    agents.write_text("# Rules\n\nBe brief.\n", encoding="utf-8")
    doc = env.json(repo.path, "lessons", "--write", str(agents))
    assert doc["written"]["changed"] is True
    content = agents.read_text(encoding="utf-8")
    assert content.startswith("# Rules\n\nBe brief.\n\n<!-- tokentrail:lessons:begin")
    assert "- Run `npm install` with its output trimmed" in content
    again = env.json(repo.path, "lessons", "--write", str(agents))
    assert again["written"]["changed"] is False
    assert agents.read_text(encoding="utf-8") == content


def test_outside_a_repository_and_bad_thresholds_are_clear_errors(tmp_path: Path) -> None:
    env, repo = _setup(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    proc = env.run(outside, "lessons", "--json", check=False)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "not_a_repo"
    (repo.path / ".tokentrail.yml").write_text("thresholds:\n  noisy_min: 5\n", encoding="utf-8")
    proc = env.run(repo.path, "lessons", check=False)
    assert proc.returncode == 1 and "unknown thresholds ['noisy_min']" in proc.stderr
    assert "Traceback" not in proc.stderr
    (repo.path / ".tokentrail.yml").write_text(
        "thresholds:\n  noisy_min_tokens: 100000\n", encoding="utf-8"
    )
    assert env.json(repo.path, "lessons")["lessons"] == []
