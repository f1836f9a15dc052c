"""Receipts through a team's git workflow, end to end: a bare repository stands in for
origin, each developer has a clone with the real hooks from `tokentrail install` (the
post-commit hook writes notes, the pre-push hook pushes them), and a fresh CI clone with no
logs reads the PR's receipt from the notes alone. Each test asserts that the requests CI
counts are exactly the requests the agent made for the branch, commit by commit."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepo import ClaudeLog, Env, GitRepo, at

pytestmark = pytest.mark.early  # a slow file: started first (see tests/conftest.py)


@dataclass
class Dev:
    """One developer: a clone with the hooks installed and an agent writing logs."""

    env: Env
    repo: GitRepo
    log: ClaudeLog
    made: int = 0  # requests the agent made

    def edit(self, minute: float, name: str, line: str, branch: str) -> None:
        self.log.edit(at(minute), branch, self.repo.path / name, line + "\n")
        self.repo.write(name, line + "\n")
        self.made += 1

    def ask(self, minute: float, branch: str) -> None:
        self.log.request(at(minute), branch, input=3, cache_read=1200, output=40)
        self.made += 1

    def commit(self, minute: float, subject: str) -> str:
        """A commit by hand: the post-commit hook writes the receipts."""
        self.repo.git("add", "-A")
        self.repo.git("commit", "-q", "--allow-empty", "-m", subject, when=at(minute))
        return self.repo.head()

    def push(self, *args: str) -> None:
        """A push: the pre-push hook pushes the notes too."""
        self.repo.git("push", "-q", *args)


def _clone(origin: Path, path: Path, env: Env, name: str) -> GitRepo:
    subprocess.run(
        ["git", "clone", "-q", str(origin), str(path)],
        env=env.environ(),
        check=True,
        capture_output=True,
    )
    repo = GitRepo(path, env, init=False)
    repo.git("config", "user.name", name)
    repo.git("config", "user.email", f"{name.lower()}@example.com")
    repo.git("config", "commit.gpgsign", "false")
    return repo


@dataclass
class Team:
    tmp: Path
    origin: Path
    ada: Dev
    bo: Dev
    server: GitRepo  # GitHub's side: merges and "Update branch" happen here, no hooks

    def ci_receipt(self, branch: str, base: str = "main") -> dict[str, Any]:
        """What the Action sees: a fresh clone, the notes fetched, no agent logs at all."""
        env = Env(self.tmp / f"ci-{branch.replace('/', '-')}", host="ci")
        ci = _clone(self.origin, env.base / "clone", env, "CI")
        ci.git("fetch", "-q", "origin", "+refs/notes/*:refs/notes/*")
        ci.checkout(branch)
        doc: dict[str, Any] = env.json(ci.path, "report", "--from-notes", "--base", base)
        return doc


def _developer(tmp: Path, origin: Path, name: str, session: str) -> Dev:
    env = Env(tmp / name.lower(), host=name.lower())
    repo = _clone(origin, env.base / "clone", env, name)
    env.run(repo.path, "install")
    return Dev(env, repo, ClaudeLog(env, repo.path, session_id=session))


@pytest.fixture
def team(tmp_path: Path) -> Team:
    seed_env = Env(tmp_path / "seed")
    seed = GitRepo(seed_env.base / "repo", seed_env)
    seed.commit("initial", at(0), file="README.md")
    origin = tmp_path / "origin.git"
    seed.git("clone", "-q", "--bare", str(seed.path), str(origin))
    ada = _developer(tmp_path, origin, "Ada", "aaaaaaaa-1111-4000-8000-000000000001")
    bo = _developer(tmp_path, origin, "Bo", "bbbbbbbb-2222-4000-8000-000000000002")
    server = _clone(origin, seed_env.base / "server", seed_env, "GitHub")
    return Team(tmp_path, origin, ada, bo, server)


def _per_commit(doc: dict[str, Any]) -> list[tuple[str, int]]:
    return [(c["subject"], c["requests"]) for c in doc["commits"]]


def test_a_teammates_commit_pulled_between_agent_requests(team: Team) -> None:
    ada, bo = team.ada, team.bo
    ada.repo.checkout("-b", "feat")
    ada.edit(10, "a.py", "alpha_value = compute_alpha(1)", "feat")
    ada.ask(11, "feat")
    ada.commit(12, "Add alpha")
    ada.push("-u", "origin", "feat")
    bo.repo.git("fetch", "-q")
    bo.repo.checkout("feat")
    bo.repo.write("CHANGELOG.md", "- alpha\n")
    bo.commit(14, "Changelog")  # a teammate's commit by hand
    bo.push()
    ada.ask(13, "feat")  # agent work before the pull...
    ada.edit(15, "b.py", "beta_value = compute_beta(2)", "feat")
    ada.repo.git("pull", "-q", "--no-rebase")  # ...then the teammate's commit arrives
    ada.ask(16, "feat")
    ada.commit(17, "Add beta")
    ada.push()
    doc = team.ci_receipt("feat")
    assert _per_commit(doc) == [("Add alpha", 2), ("Changelog", 0), ("Add beta", 3)]
    assert doc["totals"]["requests"] == ada.made == 5
    assert doc["commits_without_note"] == 0


def test_update_branch_merge_done_on_the_server(team: Team) -> None:
    ada, server = team.ada, team.server
    ada.repo.checkout("-b", "feat")
    ada.edit(10, "a.py", "alpha_value = compute_alpha(1)", "feat")
    ada.commit(12, "Add alpha")
    ada.push("-u", "origin", "feat")
    server.commit("main moves on", at(13), file="main.txt")
    server.git("push", "-q", "origin", "main")
    server.git("fetch", "-q")
    server.checkout("-b", "feat", "origin/feat")
    server.git("merge", "-q", "--no-edit", "main", when=at(14))  # GitHub's "Update branch"
    server.git("push", "-q", "origin", "feat")
    ada.ask(13.5, "feat")  # before pulling the merge
    ada.edit(15, "b.py", "beta_value = compute_beta(2)", "feat")
    ada.repo.git("pull", "-q", "--no-rebase")
    ada.commit(16, "Add beta")
    ada.push()
    doc = team.ci_receipt("feat")
    assert _per_commit(doc) == [
        ("Add alpha", 1),
        ("Merge branch 'main' into feat", 0),
        ("Add beta", 2),
    ]
    assert doc["totals"]["requests"] == ada.made == 3
    assert doc["commits_without_note"] == 0


def test_rebase_onto_a_moved_main_and_force_push(team: Team) -> None:
    ada, server = team.ada, team.server
    ada.repo.checkout("-b", "feat")
    ada.ask(9, "feat")
    ada.edit(10, "a.py", "alpha_value = compute_alpha(1)", "feat")
    ada.commit(12, "Add alpha")
    ada.edit(13, "b.py", "beta_value = compute_beta(2)", "feat")
    ada.commit(14, "Add beta")
    ada.push("-u", "origin", "feat")
    server.commit("main moves on", at(15), file="main.txt")
    server.git("push", "-q", "origin", "main")
    ada.repo.git("fetch", "-q")
    ada.repo.git("rebase", "-q", "origin/main")  # notes.rewriteRef carries the receipts
    ada.push("--force", "origin", "feat")
    ada.ask(20, "feat")
    ada.edit(21, "c.py", "gamma_value = compute_gamma(3)", "feat")
    ada.commit(22, "Add gamma")
    ada.push()
    doc = team.ci_receipt("feat")
    assert _per_commit(doc) == [("Add alpha", 2), ("Add beta", 1), ("Add gamma", 2)]
    assert doc["totals"]["requests"] == ada.made == 5
    assert doc["commits_without_note"] == 0


def test_trunk_based_work_on_main_pushed_after_each_commit(team: Team) -> None:
    ada = team.ada
    base = ada.repo.head()
    for n in range(3):
        ada.ask(10 + 10 * n, "main")
        ada.edit(11 + 10 * n, f"m{n}.py", f"value_{n} = compute_value({n})", "main")
        ada.commit(12 + 10 * n, f"Change {n}")
        ada.push("origin", "main")
    doc = team.ci_receipt("main", base=base)
    assert _per_commit(doc) == [("Change 0", 2), ("Change 1", 2), ("Change 2", 2)]
    assert doc["totals"]["requests"] == ada.made == 6
    assert doc["pending"]["requests"] == 0


def test_a_branch_name_reused_after_its_pr_merged(team: Team) -> None:
    ada, server = team.ada, team.server
    ada.repo.checkout("-b", "feat")
    ada.edit(10, "a.py", "alpha_value = compute_alpha(1)", "feat")
    ada.commit(12, "Add alpha")
    ada.push("-u", "origin", "feat")
    server.git("fetch", "-q")
    server.git("merge", "-q", "--no-ff", "--no-edit", "origin/feat", when=at(20))  # the PR
    server.git("push", "-q", "origin", "main")
    first = ada.made
    ada.repo.checkout("main")
    ada.repo.git("pull", "-q")
    ada.repo.checkout("-B", "feat")  # the same name for the next piece of work
    ada.edit(30, "b.py", "beta_value = compute_beta(2)", "feat")
    ada.ask(31, "feat")
    ada.commit(32, "Add beta")
    ada.push("--force", "-u", "origin", "feat")
    doc = team.ci_receipt("feat")
    assert _per_commit(doc) == [("Add beta", 2)]
    assert doc["totals"]["requests"] == ada.made - first == 2
