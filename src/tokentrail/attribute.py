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

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path

from tokentrail.model import AgentCommit, Request, Session, cwd_inside
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


def _latest_so_far(scope: Scope) -> list[datetime]:
    """For each commit, the latest committer time up to it: non-decreasing, so the first
    commit made at or after a time is found by bisection (commit times need not be)."""
    out: list[datetime] = []
    for commit in scope.commits:
        out.append(max(out[-1], commit.time) if out else commit.time)
    return out


def _position(latest: list[datetime], ts: datetime | None) -> int:
    """Index of the first commit made at or after `ts`; len(commits) means pending."""
    if ts is None:
        return len(latest)
    return bisect_left(latest, ts)


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
    latest = _latest_so_far(scope)
    shas = sorted(index)
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
            kept[i] = (_position(latest, request.timestamp), link)
        if not kept:
            continue
        exact_positions = _apply_exact(session, shas, index, kept)
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


def _resolve(shas: list[str], prefix: str) -> str | None:
    """The branch commit an abbreviated sha names, if exactly one does (`shas` sorted;
    Scope.resolve, in logarithmic time)."""
    prefix = prefix.lower()
    at = bisect_left(shas, prefix)
    found = shas[at : at + 2]
    hits = [sha for sha in found if sha.startswith(prefix)]
    return hits[0] if len(hits) == 1 else None


def _apply_exact(
    session: Session, shas: list[str], index: dict[str, int], kept: dict[int, tuple[int, str]]
) -> set[int]:
    """Move requests across the agent's own commit boundaries; the positions made exact.

    Taken in log order, each of the agent's commits fixes into itself the requests before it
    that sat at or after it, and pushes past itself those after it that sat at or before
    it. A request is "before" every commit from some point on (J), so where it ends up
    depends only on (J, where it sat): worked out once per pair, linear in requests."""
    commits: list[tuple[AgentCommit, int]] = []
    for agent_commit in sorted(session.commits, key=lambda c: c.request_index):
        sha = _resolve(shas, agent_commit.sha)
        if sha is not None:  # else a commit on another branch, or one rewritten since
            commits.append((agent_commit, index[sha]))
    if not commits:
        return set()
    positions = [pos for _, pos in commits]
    boundaries = [c.request_index for c, _ in commits]
    whens = [c.timestamp for c, _ in commits if c.timestamp is not None]
    by_time = len(whens) == len(commits) and all(a <= b for a, b in pairwise(whens))
    settled: dict[tuple[int, int], int] = {}
    for i, (where, link) in kept.items():
        request = session.requests[i]
        if request.subagent is None or request.file_index == 0 or request.timestamp is None:
            first_before = bisect_left(boundaries, i)  # log order
        elif by_time:
            first_before = bisect_left(whens, request.timestamp)
        else:  # the agent's commits are not in time order: take them one by one
            kept[i] = (_settle_each(session, i, where, commits), link)
            continue
        key = (first_before, where)
        if key not in settled:
            settled[key] = _settle(positions, first_before, where)
        kept[i] = (settled[key], link)
    return set(positions)


def _settle_each(
    session: Session, i: int, where: int, commits: list[tuple[AgentCommit, int]]
) -> int:
    for agent_commit, pos in commits:
        before = _before(session, i, agent_commit.request_index, agent_commit.timestamp)
        if before and where >= pos:
            return pos
        if not before and where <= pos:
            where = pos + 1
    return where


def _settle(positions: list[int], first_before: int, where: int) -> int:
    for pos in positions[:first_before]:  # commits it came after
        if where <= pos:
            where = pos + 1
    for pos in positions[first_before:]:  # commits it came before
        if where >= pos:
            return pos
    return where


def _before(session: Session, i: int, boundary: int, when: datetime | None) -> bool:
    """Whether request i came before the agent's commit. Main-thread requests are in log
    order; subagent files are read after the main file, so those go by time."""
    request = session.requests[i]
    if request.subagent is None or request.file_index == 0:
        return i <= boundary
    if when is None or request.timestamp is None:
        return i <= boundary
    return request.timestamp <= when
