"""The git history attribution reads its evidence from: which commits changed the files the
agents wrote, and which lines those commits added (as fingerprints, never as text).

One `git log -p` over the window of time the sessions cover, limited to those files, so a
report reads only what it needs. Commits before the branch's base are part of the window:
work they already hold is history, not this branch's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from tokentrail.model import Session, ToolCall
from tokentrail.notes import read_notes, rid_set
from tokentrail.scope import Scope, run_git
from tokentrail.toolcalls import diff_added_lines

# Clocks of the machine that wrote the log and of the one that made the commit may differ.
CLOCK_SLACK = timedelta(hours=1)
# Beyond this many files, asking git for each by name costs more than reading every diff.
MAX_PATHSPECS = 400


@dataclass(frozen=True, slots=True)
class HistoryCommit:
    sha: str
    author_time: datetime
    commit_time: datetime
    added: dict[str, frozenset[str]]  # repo-relative file -> fingerprints of added lines
    in_scope: bool  # in base..HEAD (else an ancestor of the base: already history)


@dataclass
class History:
    """Non-merge commits that changed the asked-for files, oldest first."""

    commits: list[HistoryCommit] = field(default_factory=list)
    by_file: dict[str, list[HistoryCommit]] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)  # sha -> index in commits

    def touching(self, path: str) -> list[HistoryCommit]:
        return self.by_file.get(path, [])

    def find(self, prefix: str) -> HistoryCommit | None:
        prefix = prefix.lower()
        found = [c for c in self.commits if c.sha.startswith(prefix)]
        return found[0] if len(found) == 1 else None


def load_history(scope: Scope, since: datetime, paths: Iterable[str]) -> History:
    """The history of `paths` (repo-relative) reachable from HEAD since `since`."""
    wanted = sorted(set(paths))
    history = History()
    if not wanted:
        return history
    in_scope = {c.sha for c in scope.commits}
    since = (since - CLOCK_SLACK).astimezone(timezone.utc)
    args = [
        "log",
        "--no-merges",
        "--no-renames",
        "--reverse",
        "--topo-order",
        "-p",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--format=%x01%H %at %ct",
        f"--since={since.isoformat()}",
        scope.head,
    ]
    if len(wanted) <= MAX_PATHSPECS:
        args += ["--", *(f":(literal){p}" for p in wanted)]
    out = run_git(scope.root, *args, check=False)
    keep = set(wanted)
    for chunk in out.split("\x01")[1:]:
        header, _, diff = chunk.partition("\n")
        parts = header.split()
        if len(parts) != 3:
            continue
        sha, authored, committed = parts
        added = {
            path: frozenset(hashes)
            for path, hashes in diff_added_lines(diff).items()
            if path in keep
        }
        for path in _touched_without_added_lines(diff, keep):
            added.setdefault(path, frozenset())
        if not added:
            continue
        commit = HistoryCommit(
            sha=sha,
            author_time=datetime.fromtimestamp(int(authored), tz=timezone.utc),
            commit_time=datetime.fromtimestamp(int(committed), tz=timezone.utc),
            added=added,
            in_scope=sha in in_scope,
        )
        history.position[sha] = len(history.commits)
        history.commits.append(commit)
        for path in added:
            history.by_file.setdefault(path, []).append(commit)
    return history


def _touched_without_added_lines(diff: str, keep: set[str]) -> list[str]:
    """Files a commit deleted or only removed lines from: touched, with nothing added."""
    out = []
    for line in diff.split("\n"):  # a diff line may hold \r (CRLF files)
        if line.startswith("diff --git "):
            _, _, rest = line.partition(" b/")
            if rest in keep:
                out.append(rest)
    return out


@lru_cache(maxsize=1 << 14)
def repo_relative(path: str, cwd: str | None, root: Path) -> str | None:
    """A path from a tool call as git names it (relative to the repository root), or None
    when it lies outside the repository. Sessions name the same few files thousands of
    times: each is resolved once per run (`run_branch` starts with an empty memo)."""
    base = Path(cwd) if cwd else root
    full = Path(path) if Path(path).is_absolute() else base / path
    try:
        resolved = full.resolve(strict=False)
    except (OSError, RuntimeError):
        return None
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return None


def patch_ids(root: Path, shas: Iterable[str]) -> dict[str, str]:
    """`git patch-id --stable` of each commit: equal for a commit and its rebased, amended
    (same change) or cherry-picked copies."""
    listed = list(dict.fromkeys(shas))
    if not listed:
        return {}
    diff = run_git(root, "show", "--no-color", "--format=commit %H", *listed, check=False)
    out = run_git(root, "patch-id", "--stable", input=diff, check=False)
    ids: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            ids[parts[1]] = parts[0]
    return ids


def resolve_object(root: Path, prefix: str) -> str | None:
    """The full sha of a commit object named by a printed prefix, reachable or not (a
    rebased-away commit stays in the object store until garbage collection)."""
    out = run_git(root, "rev-parse", "--verify", "--quiet", f"{prefix}^{{commit}}", check=False)
    sha = out.strip()
    return sha or None


def call_files(call: ToolCall, cwd: str | None, root: Path) -> tuple[str, ...]:
    """The repo-relative files a tool call named (those outside the repository dropped)."""
    return tuple(rel for path in call.files if (rel := repo_relative(path, cwd, root)) is not None)


def written_paths(sessions: Iterable[Session], root: Path) -> set[str]:
    """Every repo-relative file the sessions' write tools changed (what history must cover)."""
    out: set[str] = set()
    for session in sessions:
        for call in session.tool_calls:
            if call.writes and 0 <= call.request_index < len(session.requests):
                cwd = session.requests[call.request_index].cwd or session.cwd
                out.update(call_files(call, cwd, root))
    return out


@dataclass
class Evidence:
    """What attribution reads from git besides the branch: the content history, copies of
    rewritten agent commits, and requests notes before the base already record."""

    history: History = field(default_factory=History)
    rewritten: dict[str, str] = field(default_factory=dict)
    recorded: frozenset[str] = frozenset()
    trailers: dict[str, frozenset[str]] = field(default_factory=dict)  # session -> commits


def gather(scope: Scope, sessions: list[Session], ref: str) -> Evidence:
    """The evidence for attributing `sessions` to the branch of `scope`."""
    stamps = [r.timestamp for s in sessions for r in s.requests if r.timestamp is not None]
    if not stamps:
        return Evidence()
    since = min(stamps)
    history = load_history(scope, since, written_paths(sessions, scope.root))
    return Evidence(
        history=history,
        rewritten=rewritten_copies(scope, sessions, history),
        recorded=recorded_before(scope, since, ref),
        trailers=session_trailers(scope),
    )


SESSION_TRAILERS = ("Claude-Session", "Agent-Session", "Codex-Session")


def session_trailers(scope: Scope) -> dict[str, frozenset[str]]:
    """Branch commits whose message names the agent session that made them (a
    `Claude-Session: <id>` trailer): session id -> those commits."""
    if not scope.commits:
        return {}
    keys = ",".join(f"key={k}" for k in SESSION_TRAILERS)
    out = run_git(
        scope.root,
        "log",
        "-z",
        f"--format=%H%x00%(trailers:{keys},valueonly,separator=%x20)",
        f"{scope.base}..{scope.head}",
        check=False,
    )
    found: dict[str, set[str]] = {}
    fields = out.split("\x00")
    for i in range(0, len(fields) - 1, 2):
        sha, named = fields[i].strip(), fields[i + 1]
        for sid in named.split():
            found.setdefault(sid.strip(), set()).add(sha)
    return {sid: frozenset(shas) for sid, shas in found.items()}


def rewritten_copies(scope: Scope, sessions: list[Session], history: History) -> dict[str, str]:
    """Printed shas of agent commits that are no longer on the branch (rebased, amended)
    mapped to the branch commit with the same patch-id."""
    lost: dict[str, str] = {}
    for session in sessions:
        for agent_commit in session.commits:
            prefix = agent_commit.sha.lower()
            if scope.resolve(prefix) is not None or history.find(prefix) is not None:
                continue
            full = resolve_object(scope.root, prefix)
            if full is not None and full not in {c.sha for c in scope.commits}:
                lost[prefix] = full
    if not lost:
        return {}
    branch = [c.sha for c in scope.commits if not c.merge]
    ids = patch_ids(scope.root, [*lost.values(), *branch])
    by_id = {ids[sha]: sha for sha in branch if sha in ids}
    return {p: by_id[ids[f]] for p, f in lost.items() if f in ids and ids[f] in by_id}


def recorded_before(scope: Scope, since: datetime, ref: str) -> frozenset[str]:
    """Request ids that notes on commits before the base (already in history: main, an
    earlier merged PR) record: never billed to this branch again."""
    since = (since - CLOCK_SLACK).astimezone(timezone.utc)
    ancestors = run_git(
        scope.root, "rev-list", f"--since={since.isoformat()}", scope.base, check=False
    ).split()
    out: set[str] = set()
    for parsed in read_notes(scope.root, ref, ancestors).values():
        for line in parsed.lines:
            out.update(rid_set(line) or ())
    return frozenset(out)


def originals_of(root: Path, ref: str, shas: Iterable[str]) -> dict[str, str]:
    """For commits that are copies of a noted commit (cherry-picked, or rebased without
    notes.rewriteRef): the original. A copy keeps the original's author time and change
    (patch-id), so only noted commits with the same author time are compared."""
    targets = list(shas)
    listing = run_git(root, "notes", f"--ref={ref}", "list", check=False).split()
    noted = [listing[i + 1] for i in range(0, len(listing) - 1, 2) if listing[i + 1] not in targets]
    if not targets or not noted:
        return {}
    shown = run_git(root, "show", "-s", "--format=%H %at", *targets, *noted, check=False)
    authored: dict[str, str] = dict(line.split() for line in shown.splitlines() if " " in line)
    candidates = {t: [n for n in noted if authored.get(n) == authored.get(t)] for t in targets}
    wanted = [*targets, *(n for found in candidates.values() for n in found)]
    if not any(candidates.values()):
        return {}
    ids = patch_ids(root, wanted)
    out = {}
    for target, found in candidates.items():
        same = [n for n in found if ids.get(n) is not None and ids.get(n) == ids.get(target)]
        if same:
            out[target] = same[0]
    return out
