"""A developer's repository with receipts in notes, a bare remote standing in for GitHub's
copy of it, and merges done "by the server": squash, rebase or a merge commit made in a
clone of the remote the way GitHub makes them (main moved on meanwhile; the PR's head kept
at refs/pull/N/head), then pushed. Tests of `consolidate` and of the Action's merged mode
start from here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cli_run import isolated_env, tokentrail
from tests.fake_github import REPO
from tests.gitrepo import git_env
from tokentrail.demo.repo import Demo, build_demo

PR = 42
SERVER = {
    "GIT_AUTHOR_NAME": "GitHub",
    "GIT_AUTHOR_EMAIL": "noreply@github.com",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
}


def git(cwd: Path, *args: str, home: Path, **env: str) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**git_env(home), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


@dataclass
class Dev:
    """The developer's side, built once per module: the demo repo with its notes written,
    and what its agent sessions made on the branch (from the logs)."""

    demo: Demo
    home: Path
    env: dict[str, str]
    requests: int  # in the branch's commits (what receipts can hold)
    cost_usd: float
    all_requests: int  # with the work after the last commit (pending, in no receipt)


def developer(tmp: Path) -> Dev:
    demo = build_demo(tmp / "dev")
    home = tmp / "home"
    home.mkdir()
    env = isolated_env(home, **demo.env())
    made = json.loads(
        tokentrail("report", "--json", "--base", demo.base, env=env, cwd=demo.repo).stdout
    )
    tokentrail(
        "note",
        "--range",
        f"{demo.base}..{demo.branch}",
        "--base",
        demo.base,
        env=env,
        cwd=demo.repo,
    )
    committed, totals = made["committed"], made["totals"]
    return Dev(demo, home, env, committed["requests"], committed["cost_usd"], totals["requests"])


@dataclass
class Hosted:
    """One test's remote (a fresh copy) and what the server's merge produced."""

    dev: Dev
    tmp: Path
    origin: Path
    fork: Path | None = None
    base: str = ""  # the PR's base sha (main when the PR was opened)
    head: str = ""  # the PR's head sha
    main_before: str = ""  # main just before the merge (after an unrelated change)
    merge: str = ""  # GitHub's merge_commit_sha (the last new commit for a rebase)
    landed: tuple[str, ...] = ()  # the new commits on main, oldest first

    @property
    def home(self) -> Path:
        return self.dev.home

    def git(self, cwd: Path, *args: str, **env: str) -> str:
        return git(cwd, *args, home=self.home, **env)

    def clone(self, name: str) -> Path:
        """A fresh clone of origin with main checked out (as actions/checkout, fetch-depth 0,
        on a push or a closed pull request): no notes, no refs/pull/*."""
        path = self.tmp / name
        self.git(self.tmp, "clone", "-q", str(self.origin), str(path))
        return path

    def pr_event(self, path: Path, merged: bool = True) -> Path:
        head_repo = "someone/shop-api" if self.fork else REPO
        pr: dict[str, Any] = {
            "number": PR,
            "merged": merged,
            "merge_commit_sha": self.merge if merged else None,
            "base": {"sha": self.base, "ref": "main", "repo": {"full_name": REPO}},
            "head": {
                "sha": self.head,
                "ref": self.dev.demo.branch,
                "repo": {"full_name": head_repo, "clone_url": str(self.fork or self.origin)},
            },
        }
        path.write_text(json.dumps({"action": "closed", "number": PR, "pull_request": pr}))
        return path

    def push_event(self, path: Path) -> Path:
        path.write_text(
            json.dumps(
                {
                    "ref": "refs/heads/main",
                    "before": self.main_before,
                    "after": self.merge,
                    "repository": {"full_name": REPO, "default_branch": "main"},
                }
            )
        )
        return path

    def api_pull(self) -> dict[str, Any]:
        """The PR as GET /repos/.../commits/{sha}/pulls answers it."""
        head_repo = "someone/shop-api" if self.fork else REPO
        return {
            "number": PR,
            "merged_at": "2026-03-02T12:00:00Z",
            "merge_commit_sha": self.merge,
            "base": {"sha": self.base, "ref": "main", "repo": {"full_name": REPO}},
            "head": {
                "sha": self.head,
                "repo": {"full_name": head_repo, "clone_url": str(self.fork or self.origin)},
            },
        }

    def receipt(self, name: str) -> dict[str, Any]:
        """CI's receipt of what landed: a fresh clone, origin's notes, `report --from-notes`
        over main_before..main."""
        clone = self.clone(name)
        if self.notes_on_origin():
            notes = "+refs/notes/tokentrail:refs/notes/tokentrail"
            self.git(clone, "fetch", "-q", "origin", notes)
        env = isolated_env(self.tmp / "ci-home")
        out = tokentrail(
            "report", "--from-notes", "--json", "--base", self.main_before, env=env, cwd=clone
        )
        doc: dict[str, Any] = json.loads(out.stdout)
        return doc

    def notes_on_origin(self) -> set[str]:
        """The commits origin's notes ref has a note for."""
        out = self.git(self.origin, "notes", "--ref", "tokentrail", "list")
        return {line.split()[1] for line in out.splitlines()}


def host(dev: Dev, tmp: Path, *, notes: str = "origin", how: str = "squash") -> Hosted:
    """Push the demo to a new bare origin (notes to origin, to a fork, or nowhere), move main
    on with an unrelated commit, and merge the PR on "the server" (`how`: squash, rebase or
    merge), keeping its head at refs/pull/42/head like GitHub."""
    demo = dev.demo
    origin = tmp / "origin.git"
    h = Hosted(dev, tmp, origin, base=demo.base_sha, head=demo.commits[-1])
    h.git(tmp, "init", "-q", "--bare", "-b", "main", str(origin))
    repo = demo.repo
    remotes = h.git(repo, "remote").split()
    for name in ("origin", "fork"):
        if name in remotes:
            h.git(repo, "remote", "remove", name)
    h.git(repo, "remote", "add", "origin", str(origin))
    if notes == "fork":
        h.fork = tmp / "fork.git"
        h.git(tmp, "init", "-q", "--bare", "-b", "main", str(h.fork))
        h.git(repo, "remote", "add", "fork", str(h.fork))
        h.git(repo, "push", "-q", "fork", demo.base, demo.branch)
        h.git(repo, "push", "-q", "fork", "refs/notes/tokentrail:refs/notes/tokentrail")
        h.git(repo, "push", "-q", "origin", demo.base)
    else:
        h.git(repo, "push", "-q", "origin", demo.base, demo.branch)
        if notes == "origin":
            h.git(repo, "push", "-q", "origin", "refs/notes/tokentrail:refs/notes/tokentrail")
    # GitHub keeps every PR's head in the base repository, forks included
    h.git(repo, "push", "-q", "origin", f"{h.head}:refs/pull/{PR}/head")
    server = tmp / "server"
    h.git(tmp, "clone", "-q", str(origin), str(server))
    h.git(server, "checkout", "-q", "main")
    (server / "CHANGELOG.md").write_text("Another PR landed meanwhile.\n")
    h.git(server, "add", "CHANGELOG.md")
    h.git(server, "commit", "-q", "-m", "Another PR (#41)", **SERVER)
    h.main_before = h.git(server, "rev-parse", "HEAD")
    h.git(server, "fetch", "-q", "origin", f"refs/pull/{PR}/head")
    if how == "squash":
        h.git(server, "merge", "-q", "--squash", "FETCH_HEAD", **SERVER)
        h.git(server, "commit", "-q", "-m", f"Retry logic (#{PR})", **SERVER)
    elif how == "rebase":
        h.git(server, "checkout", "-q", "-b", "rebased", "FETCH_HEAD")
        h.git(server, "rebase", "-q", "main", **SERVER)
        h.git(server, "checkout", "-q", "main")
        h.git(server, "merge", "-q", "--ff-only", "rebased")
    else:
        h.git(
            server,
            "merge",
            "-q",
            "--no-ff",
            "-m",
            f"Merge pull request #{PR}",
            "FETCH_HEAD",
            **SERVER,
        )
    h.merge = h.git(server, "rev-parse", "HEAD")
    h.landed = tuple(h.git(server, "rev-list", "--reverse", f"{h.main_before}..HEAD").split())
    h.git(server, "push", "-q", "origin", "main")
    shutil.rmtree(server)
    return h
