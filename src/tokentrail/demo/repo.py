"""The demo repository: a real git repository with a feature branch and the agent logs that
produced it: one Claude Code session (with a subagent and a commit made by the agent, whose
printed sha is the real one), one Codex rollout on the same branch, and a Claude session in
another folder that must not be counted for the repo.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tokentrail.demo import (
    HAIKU,
    OPUS,
    Bash,
    Commit,
    Edit,
    Event,
    Filler,
    Idle,
    Read,
    Reply,
    Task,
    UserPrompt,
    WrittenSession,
    call_times,
    write_claude_session,
    write_codex_session,
)
from tokentrail.errors import TokentrailError

BRANCH = "feature/retry-logic"
BASE = "main"
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SPACING = timedelta(seconds=50)
AUTHOR = ("Demo Developer", "dev@example.com")
# (file, content, subject) of the feature branch's commits, in order
FEATURE_COMMITS = (
    ("src/shop/config.py", "RETRIES = 3\nBACKOFF_SECONDS = 0.5\n", "Add retry settings"),
    (
        "src/shop/client.py",
        "import time\n\nfrom shop.config import BACKOFF_SECONDS, RETRIES\n\n\n"
        "def fetch(call):\n    for attempt in range(RETRIES):\n        try:\n"
        "            return call()\n        except OSError:\n"
        "            time.sleep(BACKOFF_SECONDS * 2**attempt)\n    return call()\n",
        "Retry failed requests with exponential backoff",
    ),
    (
        "tests/test_client.py",
        "from shop.client import fetch\n\n\ndef test_fetch_returns_value():\n"
        "    assert fetch(lambda: 42) == 42\n",
        "Test the retry loop",
    ),
)
# main-thread call during which each feature commit happens (see _script)
COMMIT_AFTER_CALL = (6, 18, 28)
AGENT_COMMIT = 1  # the second feature commit is made by the agent itself


@dataclass
class Demo:
    """Where the demo put things, and what a report on it should find."""

    root: Path
    repo: Path
    claude_dir: Path
    codex_home: Path
    other_dir: Path
    branch: str
    base: str
    base_sha: str
    commits: list[str]  # feature-branch commit shas, oldest first
    commit_times: list[datetime]
    agent_commit: str  # the sha the agent's own `git commit` printed (full)
    sessions: list[WrittenSession] = field(default_factory=list)  # those in the repo
    other_sessions: list[WrittenSession] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """Environment variables that point the adapters at the demo's logs."""
        return {"CLAUDE_CONFIG_DIR": str(self.claude_dir), "CODEX_HOME": str(self.codex_home)}


def _git(repo: Path, *args: str, when: datetime | None = None) -> str:
    """Run git with a fixed identity and dates, ignoring the user's own git config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME=AUTHOR[0],
        GIT_AUTHOR_EMAIL=AUTHOR[1],
        GIT_COMMITTER_NAME=AUTHOR[0],
        GIT_COMMITTER_EMAIL=AUTHOR[1],
    )
    if when is not None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    try:
        proc = subprocess.run(
            ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise TokentrailError("git_missing", "the demo needs git on PATH") from None
    if proc.returncode != 0:
        raise TokentrailError(
            "git_failed", f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout}"
        )
    return proc.stdout.strip()


def _commit(repo: Path, rel: str, content: str, subject: str, when: datetime) -> str:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    _git(repo, "add", rel)
    _git(repo, "commit", "-q", "-m", subject, when=when)
    return _git(repo, "rev-parse", "HEAD")


def _script() -> list[Event]:
    """The Claude session: commits land right after calls COMMIT_AFTER_CALL."""
    return [
        UserPrompt("Add retries with exponential backoff to the HTTP client."),
        Task("Find where HTTP calls are made", requests=5, model=HAIKU),
        Read("src/shop/client.py", chars=2400),
        Read("poetry.lock", chars=60000),  # a lockfile read whole
        Filler(3),
        Edit("src/shop/config.py"),  # call 6: the human commits the settings after it
        Read("src/shop/client.py", chars=2400),  # re-reading the same file
        Filler(4),
        Bash("pytest -q", output_chars=45000, exit_code=1),  # a big failing test run
        Edit("src/shop/client.py"),
        Filler(3),
        Bash("pytest -q", output_chars=9000),
        Commit("", "Retry failed requests with exponential backoff"),  # call 18
        Filler(8),
        Idle(minutes=12),  # lunch: the 5-minute cache expires and is written again
        Edit("tests/test_client.py"),  # call 27
        Bash("pytest -q tests/test_client.py", output_chars=1500),  # call 28, then commit 3
        Filler(3),  # work after the last commit: pending
        Reply(),
    ]


def build_demo(dest: Path) -> Demo:
    """Create the demo repo and logs under `dest` (created if missing)."""
    dest = dest.expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    repo, other = dest / "shop-api", dest / "scratch-notes"
    claude_dir, codex_home = dest / "claude", dest / "codex"
    if repo.exists():
        raise TokentrailError("demo_exists", f"{repo} already exists; pick an empty folder")
    repo.mkdir()
    other.mkdir(exist_ok=True)

    script = _script()
    times = call_times(script, START, SPACING)
    commit_times = [times[i] + timedelta(seconds=4) for i in COMMIT_AFTER_CALL]
    _git(repo, "init", "-q")
    _git(repo, "symbolic-ref", "HEAD", f"refs/heads/{BASE}")
    _git(repo, "config", "user.name", AUTHOR[0])
    _git(repo, "config", "user.email", AUTHOR[1])
    _git(repo, "config", "commit.gpgsign", "false")
    base_sha = _commit(
        repo,
        "README.md",
        "# shop-api\n\nA tiny HTTP client.\n",
        "Initial commit",
        START - timedelta(days=1),
    )
    _git(repo, "checkout", "-q", "-b", BRANCH)
    shas = [
        _commit(repo, rel, content, subject, when)
        for (rel, content, subject), when in zip(FEATURE_COMMITS, commit_times)
    ]
    agent_sha = shas[AGENT_COMMIT]
    script = [Commit(agent_sha, e.subject) if isinstance(e, Commit) else e for e in script]
    claude = write_claude_session(
        claude_dir,
        repo,
        branch=BRANCH,
        start=START,
        spacing=SPACING,
        model=OPUS,
        seed="demo",
        events=script,
    )
    codex = write_codex_session(
        codex_home,
        repo,
        branch=BRANCH,
        start=commit_times[1] + timedelta(minutes=1),
        spacing=timedelta(seconds=25),
        seed="demo",
        commit_hash=agent_sha,
        repository_url="https://github.com/example/shop-api.git",
        events=[
            UserPrompt("Review the retry loop for off-by-one errors."),
            Filler(5),
            Reply(),
        ],
    )
    elsewhere = write_claude_session(
        claude_dir,
        other,
        branch="",
        start=START + timedelta(hours=2),
        requests=6,
        seed="demo-other",
    )
    return Demo(
        root=dest,
        repo=repo,
        claude_dir=claude_dir,
        codex_home=codex_home,
        other_dir=other,
        branch=BRANCH,
        base=BASE,
        base_sha=base_sha,
        commits=shas,
        commit_times=commit_times,
        agent_commit=agent_sha,
        sessions=[claude, codex],
        other_sessions=[elsewhere],
    )
