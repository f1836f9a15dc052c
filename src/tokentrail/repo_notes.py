"""Everything a team roll-up needs from one repository's git, read in a handful of git calls:
the commits that carry a tokentrail note (with their author and time), and which pull
request or branch each commit belongs to.

PR numbers come from git itself: a merge commit on the default branch whose subject says
"Merge pull request #N from owner/branch" owns the commits its second parent brought in; a
squash commit whose subject ends in "(#N)" is PR N. Commits on other branches (local or
remote-tracking) belong to that branch. This is the only module that reads notes for the
roll-up; every note line goes through `notes.parse_note`, so a change of the line format
is absorbed in `rollup.line_row`.
"""

from __future__ import annotations

import re
import subprocess
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tokentrail.errors import TokentrailError
from tokentrail.notes import parse_note
from tokentrail.scope import (
    DEFAULT_BRANCH_CANDIDATES,
    git_fields,
    open_repo,
    run_git,
)

MERGE_PR = re.compile(r"^Merge pull request #(\d+) from (\S+)")
MERGE_BRANCH = re.compile(r"^Merge (?:remote-tracking )?branch '([^']+)'")
SQUASH_PR = re.compile(r"\(#(\d+)\)\s*$")


@dataclass(slots=True)
class NotedCommit:
    """A commit a note hangs on. `exists` is False when the note was fetched but the commit
    itself is not in this clone (a deleted PR branch): its lines still count."""

    sha: str
    lines: list[dict[str, Any]]
    exists: bool = False
    author: str | None = None
    author_email: str | None = None
    authored: datetime | None = None
    subject: str = ""
    pr: int | None = None
    branch: str | None = None
    reachable: bool = False


@dataclass(slots=True)
class RepoNotes:
    name: str
    root: Path
    ref: str
    default_branch: str | None
    commits: list[NotedCommit] = field(default_factory=list)
    foreign_lines: int = 0


def cat_file(root: Path, objects: Iterable[str]) -> dict[str, tuple[str, bytes]]:
    """Type and content of many objects in one `git cat-file --batch` (missing ones left out)."""
    wanted = list(dict.fromkeys(objects))
    if not wanted:
        return {}
    try:
        proc = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=root,
            input=("\n".join(wanted) + "\n").encode(),
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise TokentrailError("git_missing", "git is not installed or not on PATH") from None
    if proc.returncode != 0:
        raise TokentrailError("git_failed", f"git cat-file failed in {root}")
    out: dict[str, tuple[str, bytes]] = {}
    data, pos = proc.stdout, 0
    for name in wanted:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode(errors="replace").split()
        pos = end + 1
        if len(header) < 3 or header[1] == "missing":
            continue
        size = int(header[2])
        out[name] = (header[1], data[pos : pos + size])
        pos += size + 1
    return out


def _commit_facts(raw: bytes) -> tuple[list[str], str, str, datetime | None, str]:
    """Parents, author name, email, author time and subject of a raw commit object."""
    head, _, message = raw.decode("utf-8", errors="replace").partition("\n\n")
    parents: list[str] = []
    name = email = ""
    when: datetime | None = None
    for line in head.split("\n"):  # an author name may hold \r or U+2028
        if line.startswith("parent "):
            parents.append(line[7:].strip())
        elif line.startswith("author "):
            who, _, stamp = line[7:].rpartition(">")
            name, _, email = who.partition("<")
            try:
                when = datetime.fromtimestamp(int(stamp.split()[0]), tz=timezone.utc)
            except (ValueError, IndexError):
                when = None
    subject = message.split("\n", 1)[0].strip()
    return parents, name.strip(), email.strip(), when, subject


def default_branch(root: Path) -> str | None:
    for candidate in DEFAULT_BRANCH_CANDIDATES:
        if run_git(root, "rev-parse", "--verify", "--quiet", candidate, check=False).strip():
            return candidate
    head = run_git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    return head or None


def _graph(root: Path) -> dict[str, tuple[list[str], str]]:
    """Every commit reachable from a branch, remote-tracking branch, tag or HEAD: its
    parents and subject (one `git log`)."""
    out = run_git(
        root,
        "log",
        "--branches",
        "--remotes",
        "--tags",
        "HEAD",
        "-z",
        "--format=%H%x00%P%x00%s",
        check=False,
    )
    graph: dict[str, tuple[list[str], str]] = {}
    for sha, parents, subject in git_fields(out, 3):  # a subject may hold \r, U+2028...
        graph[sha.strip()] = (parents.split(), subject)
    return graph


def _branch_tips(root: Path) -> list[tuple[str, str]]:
    out = run_git(
        root,
        "for-each-ref",
        "--format=%(objectname) %(refname)",
        "refs/heads",
        "refs/remotes",
        check=False,
    )
    tips = []
    for line in out.split("\n"):  # a ref name may hold U+2028, never a newline
        sha, _, ref = line.partition(" ")
        if not ref:
            continue
        if ref.endswith("/HEAD"):
            continue
        name = ref.removeprefix("refs/heads/")
        if ref.startswith("refs/remotes/"):
            name = ref.removeprefix("refs/remotes/").split("/", 1)[-1]
        tips.append((name, sha))
    return sorted(tips, key=lambda t: (t[0], t[1]))


def _walk(
    graph: dict[str, tuple[list[str], str]], starts: Iterable[str], seen: set[str]
) -> list[str]:
    """Commits reachable from `starts` that are not in `seen` (which grows by them)."""
    found = []
    queue = deque(s for s in starts if s in graph and s not in seen)
    seen.update(queue)
    while queue:
        sha = queue.popleft()
        found.append(sha)
        for parent in graph[sha][0]:
            if parent in graph and parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return found


def assign_prs(root: Path, default: str | None) -> tuple[dict[str, int], dict[str, str], set[str]]:
    """PR number and branch name per commit, and every commit reachable from a ref."""
    graph = _graph(root)
    pr_of: dict[str, int] = {}
    branch_of: dict[str, str] = {}
    seen: set[str] = set()
    default_name = (default or "").split("/", 1)[-1] if default else ""
    tip = (
        run_git(root, "rev-parse", "--verify", "--quiet", default, check=False).strip()
        if default
        else ""
    )
    mainline = []
    while tip and tip in graph:
        mainline.append(tip)
        parents = graph[tip][0]
        tip = parents[0] if parents else ""
    for sha in reversed(mainline):
        parents, subject = graph[sha]
        side = _walk(graph, parents[1:], seen)
        _walk(graph, [sha, *parents[:1]], seen)
        merged = MERGE_PR.match(subject)
        squash = SQUASH_PR.search(subject)
        if merged:
            number, branch = int(merged.group(1)), merged.group(2).split("/", 1)[-1]
            for c in [sha, *side]:
                pr_of[c] = number
                branch_of[c] = branch
        else:
            named = MERGE_BRANCH.match(subject)
            for c in side:
                branch_of[c] = named.group(1) if named else default_name
            if squash:
                pr_of[sha] = int(squash.group(1))
            branch_of.setdefault(sha, default_name)
    for name, sha in _branch_tips(root):
        for c in _walk(graph, [sha], seen):
            branch_of[c] = name
    return pr_of, branch_of, set(graph)


def repo_name(root: Path) -> str:
    """The repository's name for tables: the last part of its origin URL, else its folder."""
    url = run_git(root, "config", "--get", "remote.origin.url", check=False).strip()
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] if url else ""
    name = name.removesuffix(".git")
    return name or root.name


def read_repo_notes(path: Path, ref: str) -> RepoNotes:
    """All tokentrail note lines of the repository at `path`, with the git facts of the
    commits they hang on. The one place the roll-up reads notes."""
    root = open_repo(path).root
    default = default_branch(root)
    repo = RepoNotes(repo_name(root), root, ref, default)
    listing = run_git(root, "notes", f"--ref={ref}", "list", check=False)
    pairs = [line.split() for line in listing.split("\n") if len(line.split()) == 2]
    objects = cat_file(root, [n for n, _ in pairs] + [c for _, c in pairs])
    pr_of, branch_of, reachable = assign_prs(root, default)
    for note_blob, sha in pairs:
        kind, content = objects.get(note_blob, ("", b""))
        if kind != "blob":
            continue
        lines, foreign = parse_note(content.decode("utf-8", errors="replace"))
        repo.foreign_lines += foreign
        if not lines:
            continue
        commit = NotedCommit(sha, lines)
        obj = objects.get(sha)
        if obj and obj[0] == "commit":
            _, name, email, when, subject = _commit_facts(obj[1])
            commit.exists = True
            commit.author, commit.author_email = name or None, email or None
            commit.authored, commit.subject = when, subject
        commit.pr = pr_of.get(sha)
        commit.branch = branch_of.get(sha)
        commit.reachable = sha in reachable
        repo.commits.append(commit)
    repo.commits.sort(
        key=lambda c: (c.authored or datetime.max.replace(tzinfo=timezone.utc), c.sha)
    )
    return repo
