"""Git scope: the repo root, the current branch, its base and the commits in `base..HEAD`.

Everything later (attribution, receipts, notes) works from this one snapshot of git, so
git is asked once and the answers are plain data.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tokentrail.errors import TokentrailError

DEFAULT_BRANCH_CANDIDATES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")


@dataclass(frozen=True, slots=True)
class BranchCommit:
    sha: str
    time: datetime  # committer time: when the commit object was made (or last rewritten)
    subject: str
    author_time: datetime | None = None  # kept by rebase, cherry-pick and amend
    merge: bool = False  # more than one parent: its content comes from the merged branch

    @property
    def made(self) -> datetime:
        """When the work in it was committed first: author time survives rewrites."""
        return self.author_time or self.time


@dataclass(slots=True)
class Scope:
    root: Path  # top level of the working tree (a worktree's own folder for worktrees)
    branch: str | None  # None only when HEAD is detached and that was allowed
    base: str  # full sha of the base commit
    base_ref: str  # what the base was given as (`--base`, `origin/HEAD`, `main`...)
    base_time: datetime
    head: str
    commits: list[BranchCommit] = field(default_factory=list)  # oldest first
    shallow: bool = False  # a shallow clone: history before its boundary is missing

    def resolve(self, prefix: str) -> BranchCommit | None:
        """The branch commit an abbreviated sha names, if exactly one does."""
        prefix = prefix.lower()
        found = [c for c in self.commits if c.sha.startswith(prefix)]
        return found[0] if len(found) == 1 else None


def run_git(
    root: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> str:
    """Run `git` (tokentrail asks git itself rather than through a library: a hook pays for
    every import, and git is started anyway).

    Output is decoded as UTF-8 with undecodable bytes kept as surrogate escapes (a path
    stays usable; printing goes through the output escaping), and callers split it only on
    the separator they asked git for (`-z` NULs, or "\n"), never with str.splitlines(),
    which also breaks on \r, \v, \f, \x1c-\x1e, NEL, U+2028 and U+2029 that a commit
    subject, a branch name or a path may hold.
    """
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=root,
            input=input.encode("utf-8", "surrogateescape") if input is not None else None,
            capture_output=True,
            check=False,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise TokentrailError("git_missing", "git is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise TokentrailError(
            "git_timeout", f"git {args[0]} did not finish within {timeout:g}s"
        ) from None
    out = proc.stdout.decode("utf-8", "surrogateescape")
    if check and proc.returncode != 0:
        said = (proc.stderr or proc.stdout).decode("utf-8", "replace")
        raise TokentrailError("git_failed", f"git {' '.join(args)} failed: {git_error(said)}")
    return out


def git_lines(out: str) -> list[str]:
    """Lines of `git` output that are separated by "\n" only (names git itself refuses to
    hold a newline in, such as remotes)."""
    return [line for line in out.split("\n") if line]


def git_records(out: str) -> list[str]:
    """NUL-terminated records of `git ... -z` output."""
    return [record for record in out.split("\0") if record]


def git_fields(out: str, width: int) -> list[list[str]]:
    """Records of `git log -z --format=A%x00B%x00C` output: every field NUL-separated and
    records NUL-terminated, `width` fields each (a subject may hold any other character)."""
    fields = out.split("\0")
    return [fields[i : i + width] for i in range(0, len(fields) - width + 1, width)]


def one_line(out: str) -> str:
    """A single value git printed: exactly its trailing newline removed (a path may itself
    end with whitespace)."""
    return out.removesuffix("\n")


def git_error(output: str) -> str:
    """The line of git's output that says what went wrong (not its closing hints)."""
    lines = [line.strip() for line in output.strip().split("\n") if line.strip()]
    for line in lines:
        if line.startswith(("error:", "fatal:", "! [rejected]", "! [remote rejected]")):
            return line
    useful = [line for line in lines if not line.startswith("hint:")]
    return (useful or lines or ["?"])[-1]


@dataclass(frozen=True, slots=True)
class Repo:
    """A working tree git answered for: its top level, resolved, and whether the clone is
    shallow (history before its boundary is missing)."""

    root: Path
    shallow: bool = False


def open_repo(path: Path | None = None) -> Repo:
    """The repository `path` (or the working directory) is in, from one `git rev-parse`."""
    where = (path or Path.cwd()).resolve()
    out = ""
    if where.is_dir():
        out = run_git(where, "rev-parse", "--is-shallow-repository", "--show-toplevel", check=False)
    shallow, _, top = out.partition("\n")
    top = one_line(top)
    if not top:
        raise TokentrailError(
            "not_a_repo", f"{where} is not inside a git repository; run this in your project"
        )
    return Repo(Path(top).resolve(), shallow == "true")


def _sha(repo: Repo, rev: str) -> str | None:
    out = run_git(repo.root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return out.strip() or None


def _commit_time(repo: Repo, sha: str) -> datetime:
    return _stamp(run_git(repo.root, "show", "-s", "--format=%ct", sha).strip())


def default_base(repo: Repo) -> tuple[str, str]:
    """The first of origin/HEAD, main, master (local, then remote) that exists, and its sha."""
    for candidate in DEFAULT_BRANCH_CANDIDATES:
        sha = _sha(repo, candidate)
        if sha:
            return candidate, sha
    raise TokentrailError(
        "no_base",
        "cannot find the default branch (no origin/HEAD, main or master); pass --base REV",
    )


def current_branch(repo: Repo) -> str | None:
    return (
        one_line(run_git(repo.root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False))
        or None
    )


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
    root = repo.root
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
    base_ref, base_sha = (base, _sha(repo, base)) if base else default_base(repo)
    shallow = repo.shallow
    if base_sha is None:
        if shallow:
            raise TokentrailError("shallow_clone", _SHALLOW.format(what=f"{base_ref!r} is missing"))
        raise TokentrailError("unknown_base", f"--base {base_ref!r} does not name a commit")
    merge_base = run_git(root, "merge-base", base_sha, head_sha, check=False).strip()
    if not merge_base:
        if shallow:
            raise TokentrailError(
                "shallow_clone",
                _SHALLOW.format(what=f"{base_ref} and {head} show no common history"),
            )
        raise TokentrailError(
            "unrelated_base", f"{base_ref} and {head} share no history; pass another --base"
        )
    commits = list_commits(root, merge_base, head_sha)
    return Scope(
        root=root,
        branch=branch,
        base=merge_base,
        base_ref=base_ref,
        base_time=_commit_time(repo, merge_base),
        head=head_sha,
        commits=commits,
        shallow=shallow,
    )


_SHALLOW = (
    "this is a shallow clone, so {what}: run `git fetch --unshallow` (in GitHub Actions, "
    "give actions/checkout `fetch-depth: 0`)"
)


_FIELDS = 5  # sha, committer time, author time, parents, subject


def list_commits(root: Path, base: str, head: str) -> list[BranchCommit]:
    """Commits in `base..head`, in history order (parents first). Fields are NUL-separated
    and records NUL-terminated, so no character a subject may hold (\\r, U+2028, …) can
    split a record."""
    out = run_git(
        root,
        "log",
        "-z",
        "--reverse",
        "--topo-order",
        "--format=%H%x00%ct%x00%at%x00%P%x00%s",
        f"{base}..{head}",
    )
    fields = out.split("\x00")
    commits = []
    for i in range(0, len(fields) - _FIELDS + 1, _FIELDS):
        sha, committed, authored, parents, subject = fields[i : i + _FIELDS]
        commits.append(
            BranchCommit(
                sha=sha.strip(),
                time=_stamp(committed),
                subject=subject,
                author_time=_stamp(authored),
                merge=len(parents.split()) > 1,
            )
        )
    return commits


def _stamp(value: str) -> datetime:
    return datetime.fromtimestamp(int(value), tz=timezone.utc)


def range_commits(path: Path | None, spec: str) -> tuple[Path, list[BranchCommit]]:
    """The commits of `A..B` (oldest first), for `note --range` and `notes carry`."""
    repo = open_repo(path)
    if ".." not in spec or "..." in spec:
        raise TokentrailError("bad_range", f"--range must look like A..B, not {spec!r}")
    start, end = spec.split("..", 1)
    a, b = _sha(repo, start or "HEAD"), _sha(repo, end or "HEAD")
    if a is None or b is None:
        raise TokentrailError("unknown_rev", f"{spec!r}: {start if a is None else end} is unknown")
    root = repo.root
    return root, list_commits(root, a, b)


def resolve_rev(path: Path | None, rev: str) -> tuple[Path, str]:
    repo = open_repo(path)
    sha = _sha(repo, rev)
    if sha is None:
        raise TokentrailError("unknown_rev", f"{rev!r} does not name a commit")
    return repo.root, sha
