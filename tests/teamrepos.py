"""Three real repositories with notes written by two authors over five weeks, the way a team
produces them: agent sessions in the logs, `tokentrail note` on each PR branch, then a merge.

- alpha: PRs merged with merge commits ("Merge pull request #N from team/feat-N").
- beta: PRs squash-merged ("Title (#N)"), notes carried onto the squash commit with
  `notes carry`; the PR branches stay, so their own notes are there too (counted once).
- gamma: merge commits; the first two PRs read a lockfile whole (a generated_read finding),
  then `lessons --write AGENTS.md` lands on main in week 3; one branch is still open.

Authors alternate: Ada on odd PRs, Bo on even ones. Each PR has a Claude Code session and,
on even PRs, a Codex session for a second commit.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from tokentrail.cli import cli
from tokentrail.demo.claude_code import write_claude_session
from tokentrail.demo.codex import write_codex_session
from tokentrail.demo.script import Edit, Filler, Read, Reply, UserPrompt

WEEK0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # a Monday
AUTHORS = {"ada": ("Ada Lovelace", "ada@example.com"), "bo": ("Bo Chen", "bo@example.com")}
REPOS = ("alpha", "beta", "gamma")


@dataclass
class PR:
    repo: str
    number: int | None  # None: still open
    branch: str
    author: str
    commits: list[str] = field(default_factory=list)
    merge: str | None = None


@dataclass
class Team:
    root: Path
    repos: dict[str, Path]
    bases: dict[str, str]  # the initial commit of each repository
    prs: list[PR]
    lessons_commit: str  # the gamma commit that added AGENTS.md
    author_of: dict[str, str] = field(default_factory=dict)  # sha -> author key


def cli_run(cwd: Path, *args: str) -> Any:
    """The CLI in-process, in `cwd`; the JSON it printed when --json was passed."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    if result.exit_code != 0:
        raise AssertionError(f"tokentrail {' '.join(args)} -> {result.exit_code}\n{result.output}")
    return orjson.loads(result.stdout) if "--json" in args else result.stdout


def git(repo: Path, *args: str, when: datetime | None = None, author: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
    if author is not None:
        env["GIT_AUTHOR_NAME"], env["GIT_AUTHOR_EMAIL"] = AUTHORS[author]
        env["GIT_COMMITTER_NAME"], env["GIT_COMMITTER_EMAIL"] = AUTHORS[author]
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}{proc.stdout}")
    return proc.stdout.strip()


def identify(repo: Path) -> None:
    git(repo, "config", "user.name", "Notes Writer")  # who writes the notes commits
    git(repo, "config", "user.email", "notes@example.com")


def clone(source: Path, dest: Path, *, bare: bool = False) -> Path:
    subprocess.run(
        ["git", "clone", "-q", *(["--bare"] if bare else []), str(source), str(dest)],
        check=True,
    )
    identify(dest)
    return dest


def commit(repo: Path, name: str, when: datetime, author: str, subject: str) -> str:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(f"{subject}\n")
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", subject, when=when, author=author)
    return git(repo, "rev-parse", "HEAD")


def _pr(
    team_root: Path,
    repo: Path,
    name: str,
    number: int,
    week: int,
    lockfile: bool,
    open_pr: bool = False,
) -> PR:
    author = "ada" if number % 2 else "bo"
    branch = f"feat-{number}" if not open_pr else "feat-open"
    pr = PR(name, None if open_pr else number, branch, author)
    start = WEEK0 + timedelta(weeks=week, days=1, hours=number % 3)
    git(repo, "checkout", "-q", "-b", branch, "main")
    # the session changes the file the PR's first commit holds (attribution follows content)
    events = [UserPrompt(f"Work on {branch}"), Edit(f"src/{branch}.py"), Filler(4 + number)]
    if lockfile:
        events.append(Read("poetry.lock", chars=60000))
    events += [Filler(2), Reply()]
    claude = write_claude_session(
        team_root / "claude",
        repo,
        branch=branch,
        start=start,
        seed=f"{name}-{number}",
        events=events,
    )
    pr.commits.append(
        commit(
            repo,
            f"src/{branch}.py",
            claude.end + timedelta(minutes=2),
            author,
            f"{name} {branch} part 1",
        )
    )
    if number % 2 == 0:
        codex = write_codex_session(
            team_root / "codex",
            repo,
            branch=branch,
            start=claude.end + timedelta(minutes=10),
            seed=f"{name}-{number}-codex",
            events=[UserPrompt("Review"), Filler(3), Reply()],
        )
        pr.commits.append(
            commit(
                repo,
                f"src/{branch}_b.py",
                codex.end + timedelta(minutes=2),
                author,
                f"{name} {branch} part 2",
            )
        )
    cli_run(repo, "note", "--quiet", "--range", f"main..{branch}")
    return pr


def _merge(repo: Path, name: str, pr: PR, when: datetime) -> None:
    git(repo, "checkout", "-q", "main")
    if name == "beta":
        before = git(repo, "rev-parse", "HEAD")
        git(repo, "merge", "--squash", "-q", pr.branch)
        git(
            repo,
            "commit",
            "-q",
            "-m",
            f"{name} feature {pr.number} (#{pr.number})",
            when=when,
            author=pr.author,
        )
        pr.merge = git(repo, "rev-parse", "HEAD")
        cli_run(repo, "notes", "carry", "--onto", pr.merge, "--range", f"{before}..{pr.branch}")
    else:
        git(
            repo,
            "merge",
            "--no-ff",
            "-q",
            "-m",
            f"Merge pull request #{pr.number} from team/{pr.branch}",
            pr.branch,
            when=when,
            author=pr.author,
        )
        pr.merge = git(repo, "rev-parse", "HEAD")
        git(repo, "branch", "-q", "-D", pr.branch)


@contextlib.contextmanager
def team_env(root: Path) -> Iterator[None]:
    """Agent log folders under `root` for the in-process CLI."""
    saved = {
        k: os.environ.get(k) for k in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "TOKENTRAIL_HOST_ID")
    }
    os.environ.update(
        CLAUDE_CONFIG_DIR=str(root / "claude"),
        CODEX_HOME=str(root / "codex"),
        TOKENTRAIL_HOST_ID="team-host",
    )
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_team(root: Path) -> Team:
    for folder in ("claude", "codex"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    repos, bases, prs = {}, {}, []
    lessons_commit = ""
    with team_env(root):
        for index, name in enumerate(REPOS):
            repo = root / name
            repo.mkdir()
            git(repo, "init", "-q", "-b", "main")
            git(repo, "config", "commit.gpgsign", "false")
            identify(repo)
            git(repo, "remote", "add", "origin", f"git@example.com:team/{name}.git")
            repos[name] = repo
            bases[name] = commit(repo, "README.md", WEEK0 - timedelta(days=3), "ada", "initial")
            for n in range(1, 5):
                week = n - 1 + (index % 2)
                pr = _pr(root, repo, name, n, week, lockfile=name == "gamma" and n <= 2)
                prs.append(pr)
                _merge(repo, name, pr, WEEK0 + timedelta(weeks=week, days=3))
                if name == "gamma" and n == 2:  # the lessons so far land on main
                    cli_run(repo, "lessons", "--all", "--write", "AGENTS.md")
                    git(repo, "add", "AGENTS.md")
                    git(
                        repo,
                        "commit",
                        "-q",
                        "-m",
                        "Agent lessons",
                        when=WEEK0 + timedelta(weeks=week, days=4),
                        author="ada",
                    )
                    lessons_commit = git(repo, "rev-parse", "HEAD")
            if name == "gamma":
                prs.append(_pr(root, repo, name, 5, 4, lockfile=False, open_pr=True))
                git(repo, "checkout", "-q", "main")
    team = Team(root, repos, bases, prs, lessons_commit)
    for repo in repos.values():
        for line in git(repo, "log", "--all", "--format=%H %ae").splitlines():
            sha, email = line.split()
            team.author_of[sha] = "ada" if email.startswith("ada") else "bo"
    return team
