"""Attribute: which requests belong to this branch, and which commit each one went into.

Works only on parsed sessions and the git scope; logs are never read again here.

- A request is on the branch when its own branch field equals the branch (`strong`); a
  request with no branch field falls back to the time window from the base commit on
  (`window`); a request on another branch, or whose cwd is outside the repo, is left out.
- Each kept request goes into the first branch commit whose committer time is at or after
  the request's time; later requests are *pending*.
- A `git commit` the agent ran itself, whose printed sha names a branch commit, is an
  exact boundary: requests up to that tool call go into that commit (`exact`), requests
  after it cannot.
- Subagent requests share their parent session's link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tokentrail.model import Request, Session, cwd_inside
from tokentrail.scope import Scope

EXACT, STRONG, WINDOW = "exact", "strong", "window"
_RANK = {EXACT: 0, STRONG: 1, WINDOW: 2}


@dataclass(slots=True)
class Part:
    """The requests of one session that went into one commit (or into pending)."""

    session: Session
    link: str
    requests: list[Request] = field(default_factory=list)


@dataclass(slots=True)
class Attribution:
    scope: Scope
    commits: dict[str, list[Part]]  # sha -> parts, in scope.commits order
    pending: list[Part]
    sessions: list[Part]  # every session's whole share of the branch, with its overall link
    excluded_requests: int = 0  # requests of in-repo sessions on other branches/folders


def _inside(cwd: str, root: Path, cache: dict[str, bool]) -> bool:
    if cwd not in cache:
        cache[cwd] = cwd_inside(cwd, root)
    return cache[cwd]


def _position(scope: Scope, ts: datetime | None) -> int:
    """Index of the first commit made at or after `ts`; len(commits) means pending."""
    if ts is None:
        return len(scope.commits)
    for i, commit in enumerate(scope.commits):
        if commit.time >= ts:
            return i
    return len(scope.commits)


def _weakest(links: set[str]) -> str:
    return max(links, key=lambda k: _RANK[k]) if links else STRONG


def attribute(scope: Scope, sessions: list[Session], now: datetime | None = None) -> Attribution:
    now = now or datetime.now(timezone.utc)
    index = {c.sha: i for i, c in enumerate(scope.commits)}
    pending_pos = len(scope.commits)
    buckets: list[list[Part]] = [[] for _ in range(pending_pos + 1)]
    whole: list[Part] = []
    excluded = 0
    cwd_cache: dict[str, bool] = {}
    for session in sessions:
        kept: dict[int, tuple[int, str]] = {}  # request index -> (position, link)
        for i, request in enumerate(session.requests):
            if request.cwd and not _inside(request.cwd, scope.root, cwd_cache):
                excluded += 1
                continue
            if request.branch is not None:
                if scope.branch is None or request.branch != scope.branch:
                    excluded += 1
                    continue
                link = STRONG
            else:
                ts = request.timestamp
                if ts is None or ts < scope.base_time or ts > now:
                    excluded += 1
                    continue
                link = WINDOW
            kept[i] = (_position(scope, request.timestamp), link)
        if not kept:
            continue
        exact_positions = _apply_exact(session, scope, index, kept)
        main_links = {
            link for i, (_, link) in kept.items() if session.requests[i].subagent is None
        } or {link for _, link in kept.values()}
        session_link = EXACT if exact_positions else _weakest(main_links)
        by_pos: dict[int, list[int]] = {}
        for i, (pos, _) in kept.items():
            by_pos.setdefault(pos, []).append(i)
        for pos, members in sorted(by_pos.items()):
            members.sort()
            if pos in exact_positions:
                link = EXACT
            else:
                main = {kept[i][1] for i in members if session.requests[i].subagent is None}
                link = _weakest(main) if main else _weakest(main_links)
            buckets[pos].append(Part(session, link, [session.requests[i] for i in members]))
        whole.append(Part(session, session_link, [session.requests[i] for i in sorted(kept)]))
    return Attribution(
        scope=scope,
        commits={c.sha: buckets[i] for i, c in enumerate(scope.commits)},
        pending=buckets[pending_pos],
        sessions=whole,
        excluded_requests=excluded,
    )


def _apply_exact(
    session: Session, scope: Scope, index: dict[str, int], kept: dict[int, tuple[int, str]]
) -> set[int]:
    """Move requests across the agent's own commit boundaries; the positions made exact."""
    exact: set[int] = set()
    fixed: set[int] = set()
    for agent_commit in sorted(session.commits, key=lambda c: c.request_index):
        commit = scope.resolve(agent_commit.sha)
        if commit is None:
            continue  # a commit on another branch, or one rewritten since
        pos = index[commit.sha]
        exact.add(pos)
        for i, (where, link) in kept.items():
            if i in fixed:
                continue
            before = _before(session, i, agent_commit.request_index, agent_commit.timestamp)
            if before and where >= pos:
                kept[i] = (pos, link)
                fixed.add(i)
            elif not before and where <= pos:
                kept[i] = (pos + 1, link)
    return exact


def _before(session: Session, i: int, boundary: int, when: datetime | None) -> bool:
    """Whether request i came before the agent's commit. Main-thread requests are in log
    order; subagent files are read after the main file, so those go by time."""
    request = session.requests[i]
    if request.subagent is None or request.file_index == 0:
        return i <= boundary
    if when is None or request.timestamp is None:
        return i <= boundary
    return request.timestamp <= when
