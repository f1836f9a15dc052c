"""`tokentrail report` on real repos with matching logs, run as a subprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.gitrepo import ClaudeLog, CodexLog, Env, GitRepo, at, feature_branch

TOKENS = ("requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")
REQUIRED_ROOT = {
    "schema_version",
    "tool_version",
    "repo",
    "branch",
    "base",
    "head",
    "totals",
    "sessions",
    "commits",
    "pending",
    "findings",
    "lessons",
}


def figures(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[k] for k in TOKENS)


def test_report_json_attributes_requests_to_commits(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    doc = f.env.json(f.repo.path, "report")
    assert set(doc) >= REQUIRED_ROOT
    assert doc["schema_version"] == 1 and doc["receipt_version"] == 1
    assert doc["branch"] == "feat" and doc["base"] == f.base and doc["head"] == f.c2
    assert doc["repo"] == str(f.repo.path.resolve())
    for key in (*TOKENS, "cost_usd", "unpriced_requests"):
        assert key in doc["totals"] and key in doc["pending"]
    c1, c2 = doc["commits"]
    assert (c1["sha"], c2["sha"]) == (f.c1, f.c2)
    assert figures(c1) == (5, 870, 2000, 2000, 590)
    assert figures(c2) == (2, 12, 3100, 0, 90)
    # the request at 16 is after the agent's own `git commit` of c2: pending, though c2's
    # committer time (16.5) is later
    assert figures(doc["pending"]) == (2, 201, 3000, 0, 110)
    assert figures(doc["totals"]) == (9, 1083, 8100, 2000, 790)
    assert doc["totals"]["reasoning_tokens"] == 30
    assert doc["findings"] == [] and doc["lessons"] == []
    for row in (c1, c2, doc["pending"], doc["totals"]):
        assert row["cost_usd"] > 0 and row["unpriced_requests"] == 0


def test_links_and_exclusions(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    doc = f.env.json(f.repo.path, "report")
    links = {s["id"][:8]: s["link"] for s in doc["sessions"]}
    # the other-folder (5555) and on-main (6666) sessions are not there at all
    assert links == {
        "11111111": "exact",
        "22222222": "window",
        "33333333": "window",
        "44444444": "window",
    }
    c1, c2 = doc["commits"]
    assert {s["id"][:8]: s["link"] for s in c1["sessions"]} == {
        "11111111": "window",
        "22222222": "window",
        "33333333": "window",
    }
    assert [(s["id"][:8], s["link"]) for s in c2["sessions"]] == [("11111111", "exact")]
    s1 = next(s for s in doc["sessions"] if s["id"].startswith("1111"))
    # the subagent request rides with its parent; the request on `other` is left out
    assert s1["requests"] == 6 and s1["subagent_requests"] == 1
    assert s1["input_tokens"] == 100 + 20 + 50 + 7 + 5 + 1
    assert doc["excluded_requests"] == 2  # S1 on `other`, the session on main (5555 never loads)


def test_text_output(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    out = f.env.run(f.repo.path, "report").stdout
    assert "Branch feat" in out and "API-equivalent" in out
    assert f.c1[:7] in out and f.c2[:7] in out
    assert "Pending (next commit): 2 requests" in out
    assert "exact" in out and "window" in out
    md = f.env.run(f.repo.path, "report", "--markdown").stdout
    assert md.startswith("### tokentrail receipt for") and "| _pending_ |" in md


def test_branch_switch_inside_a_session(tmp_path: Path) -> None:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.git("branch", "feat-a")
    repo.git("branch", "feat-b")
    repo.checkout("feat-a")
    a = repo.commit("a work", at(30))
    log = ClaudeLog(env, repo.path)
    log.request(at(10), "feat-a", input=11, output=1)
    log.request(at(20), "feat-b", input=22, output=2)
    log.request(at(25), "feat-a", input=33, output=3)
    log.request(at(40), "feat-b", input=44, output=4)
    doc = env.json(repo.path, "report")
    assert [c["sha"] for c in doc["commits"]] == [a]
    assert figures(doc["commits"][0]) == (2, 44, 0, 0, 4)
    assert doc["pending"]["requests"] == 0
    repo.checkout("feat-b")
    b = repo.commit("b work", at(50))
    doc = env.json(repo.path, "report")
    assert [c["sha"] for c in doc["commits"]] == [b]
    assert figures(doc["commits"][0]) == (2, 66, 0, 0, 6)


def test_no_commits_beyond_base_puts_everything_in_pending(tmp_path: Path) -> None:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "fresh")
    CodexLog(env, repo.path, at(1), "fresh").request(at(2), input=50, output=5)
    doc = env.json(repo.path, "report")
    assert doc["commits"] == [] and doc["base"] == doc["head"]
    assert figures(doc["pending"]) == (1, 50, 0, 0, 5)
    text = env.run(repo.path, "report").stdout
    assert "No commits beyond the base yet" in text


def test_explicit_base_and_worktree(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    doc = f.env.json(f.repo.path, "report", "--base", f.c1)
    assert [c["sha"] for c in doc["commits"]] == [f.c2]
    # a worktree on its own branch: its sessions live under the worktree's path
    wt = tmp_path / "wt"
    f.repo.git("worktree", "add", "-q", "-b", "wt-branch", str(wt), f.base)
    wt_repo = GitRepo(wt, f.env, init=False)
    wt_commit = wt_repo.commit("worktree work", at(40))
    ClaudeLog(f.env, wt).request(at(35), "wt-branch", input=77, output=7)
    doc = f.env.json(wt, "report")
    assert doc["repo"] == str(wt.resolve()) and doc["branch"] == "wt-branch"
    assert [c["sha"] for c in doc["commits"]] == [wt_commit]
    assert figures(doc["commits"][0]) == (1, 77, 0, 0, 7)
    # and the main checkout's report does not pick the worktree session up
    main_doc = f.env.json(f.repo.path, "report")
    assert main_doc["totals"]["requests"] == 9


def _error(env: Env, cwd: Path, *args: str) -> dict[str, Any]:
    proc = env.run(cwd, *args, "--json", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    import json

    doc: dict[str, Any] = json.loads(proc.stdout)["error"]
    return doc


def test_errors_are_clear(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    assert _error(f.env, f.elsewhere, "report")["code"] == "not_a_repo"
    assert _error(f.env, f.repo.path, "report", "--base", "nope")["code"] == "unknown_base"
    f.repo.checkout("--detach", f.c1)
    err = _error(f.env, f.repo.path, "report")
    assert err["code"] == "detached_head" and "detached" in err["message"]
    proc = f.env.run(f.repo.path, "report", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("tokentrail: error: HEAD is detached")
    # no main/master and no remote: say how to pick a base
    env = Env(tmp_path / "env2")
    repo = GitRepo(tmp_path / "trunk", env, branch="trunk")
    repo.commit("initial", at(0))
    repo.checkout("-b", "topic")
    assert _error(env, repo.path, "report")["code"] == "no_base"
    assert env.json(repo.path, "report", "--base", "trunk")["commits"] == []
