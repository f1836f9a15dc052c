"""Git scope: the repo root, the current branch, its base and the commits in `base..HEAD`.

Everything later (attribution, receipts, notes) works from this one snapshot of git, so
git is asked once and the answers are plain data.

This runs in every commit hook, so git is read the cheap way first: the repository, HEAD
and branch refs are files (`.git`, `HEAD`, `refs/...`, `packed-refs`), read directly. What
needs the object database (merge base, the commits between base and head, their times)
comes from `git` once per pair of commits and is then kept in the index: commits never
change, so neither does that answer. Anything unusual (GIT_DIR and friends, reftable, a
revision expression, a tag) is left to `git rev-parse`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from tokentrail.errors import TokentrailError

DEFAULT_BRANCH_CANDIDATES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")
_HEX = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9._/-]+$")
# refs that live in each worktree's own git dir rather than the shared one
_PER_WORKTREE = ("HEAD", "ORIG_HEAD", "FETCH_HEAD", "refs/bisect/", "refs/worktree/",
                 "refs/rewritten/")
_GIT_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_NAMESPACE")


@dataclass(frozen=True, slots=True)
class BranchCommit:
    sha: str
    time: datetime  # committer time: when the commit was made (or last rewritten)
    subject: str


@dataclass(slots=True)
class Scope:
    root: Path  # top level of the working tree (a worktree's own folder for worktrees)
    branch: str | None  # None only when HEAD is detached and that was allowed
    base: str  # full sha of the base commit
    base_ref: str  # what the base was given as (`--base`, `origin/HEAD`, `main`...)
    base_time: datetime
    head: str
    commits: list[BranchCommit] = field(default_factory=list)  # oldest first

    def resolve(self, prefix: str) -> BranchCommit | None:
        """The branch commit an abbreviated sha names, if exactly one does."""
        prefix = prefix.lower()
        found = [c for c in self.commits if c.sha.startswith(prefix)]
        return found[0] if len(found) == 1 else None


def run_git(root: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    """Plain `git` for what needs the object database, and for writing (notes, config)."""
    import subprocess

    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=root,
            input=input,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise TokentrailError("git_missing", "git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise TokentrailError(
            "git_failed", f"git {' '.join(args)} failed: {detail[-1] if detail else '?'}"
        )
    return proc.stdout


@dataclass
class Repo:
    """Where a repository's files are: the working tree, this worktree's git dir and the
    git dir it shares with other worktrees (refs, objects)."""

    root: Path
    git_dir: Path
    common_dir: Path
    by_files: bool = True  # False: refs are resolved by `git rev-parse`
    _packed: dict[str, str] | None = None

    def packed_refs(self) -> dict[str, str]:
        if self._packed is None:
            self._packed = {}
            try:
                text = (self.common_dir / "packed-refs").read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            for line in text.splitlines():
                if line and line[0] not in "#^":
                    sha, _, name = line.partition(" ")
                    self._packed[name.strip()] = sha
        return self._packed


def _git_dir_of(folder: Path) -> Path | None:
    """`folder/.git` as a directory, or where a `.git` file (worktree, submodule) points."""
    dotgit = folder / ".git"
    if dotgit.is_dir():
        return dotgit
    if dotgit.is_file():
        try:
            text = dotgit.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if text.startswith("gitdir:"):
            return (folder / text[len("gitdir:") :].strip()).resolve()
    return None


def open_repo(path: Path | None = None) -> Repo:
    where = (path or Path.cwd()).resolve()
    if not any(os.environ.get(name) for name in _GIT_ENV):
        for folder in (where, *where.parents):
            git_dir = _git_dir_of(folder)
            if git_dir is None:
                continue
            if not (git_dir / "HEAD").is_file():
                break  # not a layout we know: ask git
            common = git_dir
            try:
                pointer = (git_dir / "commondir").read_text(encoding="utf-8").strip()
                common = (git_dir / pointer).resolve()
            except (OSError, UnicodeDecodeError):
                pass
            by_files = not (common / "reftable").exists()
            return Repo(folder, git_dir, common, by_files)
    return _repo_from_git(where)


def _repo_from_git(where: Path) -> Repo:
    import subprocess

    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"],
            cwd=where,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise TokentrailError("git_missing", "git is not installed or not on PATH") from None
    except OSError:
        proc = subprocess.CompletedProcess([], 1, "", "")
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != 3:
        raise TokentrailError(
            "not_a_repo", f"{where} is not inside a git repository; run this in your project"
        )
    root, git_dir, common = (Path(line) for line in lines)
    return Repo(root, git_dir, (where / common).resolve(), by_files=False)


def repo_root(repo: Repo) -> Path:
    return repo.root.resolve()


def _read_ref(repo: Repo, name: str) -> str | None:
    """The sha a ref file (or packed ref) holds, following symbolic refs."""
    for _ in range(8):
        base = repo.git_dir if name.startswith(_PER_WORKTREE) else repo.common_dir
        try:
            text = (base / name).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError, ValueError):
            text = repo.packed_refs().get(name, "") if name.startswith("refs/") else ""
        if text.startswith("ref:"):
            name = text[4:].strip()
            continue
        return text if _HEX.match(text) else None
    return None


def _sha(repo: Repo, rev: str) -> str | None:
    """The commit `rev` names: refs by reading git's files when they are plain branch or
    remote refs, everything else by `git rev-parse`."""
    if repo.by_files and _PLAIN_NAME.match(rev) and not _HEX.match(rev):
        names = (
            [rev]
            if rev == "HEAD" or rev.startswith("refs/")
            else [f"refs/{rev}", f"refs/tags/{rev}", f"refs/heads/{rev}", f"refs/remotes/{rev}",
                  f"refs/remotes/{rev}/HEAD"]
        )
        for name in names:
            sha = _read_ref(repo, name)
            if sha is not None:
                if name.startswith("refs/tags/"):
                    break  # a tag may need peeling: git knows how
                return sha
        else:
            return None
    out = run_git(repo.root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return out.strip() or None


def default_base(repo: Repo) -> str:
    """The first of origin/HEAD, main, master (local, then remote) that exists."""
    for candidate in DEFAULT_BRANCH_CANDIDATES:
        if _sha(repo, candidate):
            return candidate
    raise TokentrailError(
        "no_base",
        "cannot find the default branch (no origin/HEAD, main or master); pass --base REV",
    )


def current_branch(repo: Repo) -> str | None:
    if repo.by_files:
        try:
            text = (repo.git_dir / "HEAD").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        name = text[4:].strip() if text.startswith("ref:") else ""
        return name[len("refs/heads/") :] if name.startswith("refs/heads/") else None
    out = run_git(repo.root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return out.strip() or None


def find_scope(
    path: Path | None = None,
    base: str | None = None,
    head: str = "HEAD",
    *,
    allow_detached: bool = False,
) -> Scope:
    """Scope of the branch checked out at `path` (or cwd).

    `base` defaults to the merge-base of HEAD with the default branch; when it is given it
    is used as-is when it is an ancestor, else through the merge-base too.
    """
    repo = open_repo(path)
    root = repo_root(repo)
    head_sha = _sha(repo, head)
    if head_sha is None:
        if head == "HEAD":
            raise TokentrailError("no_commits", f"{root} has no commits yet")
        raise TokentrailError("unknown_rev", f"{head!r} does not name a commit")
    branch = current_branch(repo) if head == "HEAD" else None
    if branch is None and head == "HEAD" and not allow_detached:
        raise TokentrailError(
            "detached_head",
            "HEAD is detached, so there is no branch to report on; check out a branch "
            "(or use --from-notes, which needs only commits)",
        )
    base_ref = base or default_base(repo)
    base_sha = _sha(repo, base_ref)
    if base_sha is None:
        raise TokentrailError("unknown_base", f"--base {base_ref!r} does not name a commit")
    merge_base, base_time, commits = _history(repo, base_ref, base_sha, head, head_sha)
    return Scope(
        root=root,
        branch=branch,
        base=merge_base,
        base_ref=base_ref,
        base_time=base_time,
        head=head_sha,
        commits=commits,
    )


def _history(
    repo: Repo, base_ref: str, base_sha: str, head: str, head_sha: str
) -> tuple[str, datetime, list[BranchCommit]]:
    """Merge base, its time and the commits up to head: asked of git once per pair of
    commits, then read from the index."""
    key = f"{repo.common_dir}\0{base_sha}\0{head_sha}"
    stored = _memo("get", key)
    if stored is not None:
        data = orjson.loads(stored)
        commits = [BranchCommit(c[0], _utc(c[1]), c[2]) for c in data["commits"]]
        return data["merge_base"], _utc(data["base_time"]), commits
    try:
        merge_base = run_git(repo.root, "merge-base", base_sha, head_sha).strip()
    except TokentrailError as exc:
        if exc.code != "git_failed":
            raise
        raise TokentrailError(
            "unrelated_base", f"{base_ref} and {head} share no history; pass another --base"
        ) from None
    stamp = run_git(repo.root, "show", "-s", "--format=%ct", merge_base).strip()
    commits = list_commits(repo, merge_base, head_sha)
    value = {
        "merge_base": merge_base,
        "base_time": int(stamp),
        "commits": [[c.sha, int(c.time.timestamp()), c.subject] for c in commits],
    }
    _memo("put", key, orjson.dumps(value))
    return merge_base, _utc(int(stamp)), commits


def _utc(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp, tz=timezone.utc)


def _memo(action: str, key: str, value: bytes | None = None) -> Any:
    """The index's memo of git answers; a problem with the index only costs a git call."""
    import sqlite3

    from tokentrail.cache import index_path
    from tokentrail.index import Index, IndexCorrupt

    path = index_path()
    if path is None:
        return None
    try:
        index = Index(path)
    except (OSError, sqlite3.Error):
        return None
    try:
        if action == "get":
            return index.memo("scope", key)
        assert value is not None
        index.put_memo("scope", key, value)
        return None
    except (sqlite3.Error, IndexCorrupt):
        return None
    finally:
        index.close()


def list_commits(repo: Repo, base: str, head: str) -> list[BranchCommit]:
    """Commits in `base..head`, oldest first by committer time (ties in history order)."""
    out = run_git(
        repo.root, "log", "-z", "--reverse", "--topo-order", "--format=%H %ct %s", f"{base}..{head}"
    )
    commits = []
    for position, record in enumerate(r for r in out.split("\0") if r):
        sha, stamp, subject = [*record.split(" ", 2), ""][:3]
        when = _utc(int(stamp))
        commits.append((when, position, BranchCommit(sha, when, subject)))
    commits.sort(key=lambda t: (t[0], t[1]))
    return [c for _, _, c in commits]


def range_commits(path: Path | None, spec: str) -> tuple[Path, list[BranchCommit]]:
    """The commits of `A..B` (oldest first), for `note --range` and `notes carry`."""
    repo = open_repo(path)
    if ".." not in spec or "..." in spec:
        raise TokentrailError("bad_range", f"--range must look like A..B, not {spec!r}")
    start, end = spec.split("..", 1)
    a, b = _sha(repo, start or "HEAD"), _sha(repo, end or "HEAD")
    if a is None or b is None:
        raise TokentrailError("unknown_rev", f"{spec!r}: {start if a is None else end} is unknown")
    return repo_root(repo), list_commits(repo, a, b)


def resolve_rev(path: Path | None, rev: str) -> tuple[Path, str]:
    repo = open_repo(path)
    sha = _sha(repo, rev)
    if sha is None:
        raise TokentrailError("unknown_rev", f"{rev!r} does not name a commit")
    return repo_root(repo), sha
