"""Attribute: which requests belong to this branch, and which commit holds their work.

Works only on parsed sessions, the git scope and the content history; logs are never read
again here. Evidence, strongest first:

- `exact`: the agent's own `git commit` output names the commit (or a commit rewritten from
  it: same patch-id);
- `content`: the lines (else the files) the agent's write tools changed are in the commit's
  diff; each write belongs to the first commit made after it that contains it;
- `window`: time alone, only for sessions whose log shows no write in the repository.

A request is a candidate when its folder is inside the repository and its branch field names
the branch (or it has none). The commits that carry a session's work split its requests:
a request goes to the first carrying commit whose boundary is at or after it — the agent's
commit call, else the commit's author time (which rebase, amend and cherry-pick keep), kept
between the commit's last write and the next carrying commit's first. Commits without the
session's work (a human's commit, a merge of main) get none of it. Work a commit before the
base already holds, and requests a note outside the branch already records, are history:
never billed again. What no commit holds yet is pending.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Generic, Protocol, TypeVar

from tokentrail.history import History, HistoryCommit, call_files
from tokentrail.model import Request, Session, cwd_inside, request_id
from tokentrail.scope import BranchCommit, Scope

EXACT, CONTENT, WINDOW = "exact", "content", "window"
RANK = {EXACT: 0, CONTENT: 1, WINDOW: 2}


@dataclass(slots=True)
class Part:
    """The requests of one session that went into one commit (or into pending)."""

    session: Session
    link: str
    requests: list[Request] = field(default_factory=list)
    rids: list[str] = field(default_factory=list)  # model.request_id of each request


@dataclass(slots=True)
class Attribution:
    scope: Scope
    commits: dict[str, list[Part]]  # sha -> parts, in scope.commits order
    pending: list[Part]
    sessions: list[Part]  # every session's whole share of the branch, with its overall link
    excluded_requests: int = 0  # candidates on other branches or folders
    in_history_requests: int = 0  # work already in commits before the base or noted there
    unattributed_sessions: int = 0  # in the repo and window, but none of their work is here


@dataclass(slots=True)
class _Write:
    index: int  # the request that asked for it
    position: int  # its chronological position
    when: datetime | None
    files: tuple[str, ...]  # repo-relative
    added: frozenset[str]


@dataclass(slots=True)
class _Carrier:
    """A commit that holds some of one session's work, and where its share ends."""

    commit: BranchCommit | HistoryCommit
    exact_at: int | None = None  # position of the agent's own commit call
    first_write: int | None = None
    last_write: int | None = None
    boundary: int = -1
    moved_in: bool = False  # holds work written under another branch name (then switched)
    named: bool = False  # its message names the session (a `Claude-Session:` trailer)

    @property
    def sha(self) -> str:
        return self.commit.sha


def _made(commit: BranchCommit | HistoryCommit) -> datetime:
    return commit.made if isinstance(commit, BranchCommit) else commit.author_time


def _chronology(session: Session) -> list[int]:
    """Request indices in the order they happened: subagent files are parsed after the main
    file, so their requests sit later in `session.requests` than in time."""
    last: datetime | None = None
    keyed = []
    for i, r in enumerate(session.requests):
        when = r.timestamp or last
        last = when or last
        keyed.append((when or datetime.min.replace(tzinfo=timezone.utc), i))
    keyed.sort()
    return [i for _, i in keyed]


class _HasSha(Protocol):
    @property
    def sha(self) -> str: ...


C = TypeVar("C", bound=_HasSha)


class _ByPrefix(Generic[C]):
    """Commits found by an abbreviated sha in logarithmic time (Scope.resolve and
    History.find scan every commit; an agent commit is looked up for each of them)."""

    def __init__(self, commits: Iterable[C]) -> None:
        self.by_sha = {c.sha: c for c in commits}
        self.shas = sorted(self.by_sha)

    def find(self, prefix: str) -> C | None:
        """The commit `prefix` names, if exactly one does."""
        prefix = prefix.lower()
        at = bisect_left(self.shas, prefix)
        hits = [sha for sha in self.shas[at : at + 2] if sha.startswith(prefix)]
        return self.by_sha[hits[0]] if len(hits) == 1 else None


class _SessionAttribution:
    """One session against the branch."""

    def __init__(
        self,
        session: Session,
        scope: Scope,
        history: History,
        rewritten: dict[str, str],
        recorded: Collection[str],
        now: datetime,
        trailers: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.trailers = trailers or {}
        self.session = session
        self.scope = scope
        self.history = history
        self.rewritten = rewritten
        self.recorded = recorded
        self.now = now
        self.scope_index = {c.sha: i for i, c in enumerate(scope.commits)}
        self.in_scope = _ByPrefix(scope.commits)
        self.history_commits = _ByPrefix(history.commits)
        self.order = _chronology(session)
        self.position = {index: pos for pos, index in enumerate(self.order)}
        self.excluded = 0
        self.in_history = 0
        self.elsewhere: set[int] = set()

    # -- which requests may be this branch's ------------------------------------------------

    def candidates(self, inside: dict[str, bool]) -> set[int]:
        """Requests in the repository on this branch (or with no branch field). Requests
        under another branch name are kept aside (`elsewhere`): they count only when their
        changes turn up in this branch's commits (work begun before `git switch -c`)."""
        kept: set[int] = set()
        branch = self.scope.branch
        for i, r in enumerate(self.session.requests):
            if r.cwd:
                if r.cwd not in inside:
                    inside[r.cwd] = cwd_inside(r.cwd, self.scope.root)
                if not inside[r.cwd]:
                    self.excluded += 1
                    continue
            if r.branch is not None and r.branch != branch:
                self.elsewhere.add(i)
                continue
            if r.timestamp is not None and r.timestamp > self.now:
                self.excluded += 1
                continue
            if request_id(self.session, i) in self.recorded:
                self.in_history += 1
                continue
            kept.add(i)
        return kept

    # -- evidence ------------------------------------------------------------------------------

    def writes(self) -> list[_Write]:
        out = []
        for call in self.session.tool_calls:
            if not call.writes or call.is_error or not call.files:
                continue
            if not 0 <= call.request_index < len(self.session.requests):
                continue
            request = self.session.requests[call.request_index]
            files = call_files(call, request.cwd or self.session.cwd, self.scope.root)
            if files:
                out.append(
                    _Write(
                        call.request_index,
                        self.position[call.request_index],
                        call.timestamp or request.timestamp,
                        files,
                        frozenset(call.added),
                    )
                )
        out.sort(key=lambda w: w.position)
        return out

    def absorbing(self, write: _Write) -> HistoryCommit | None:
        """The first commit made after the write that holds it: one with its added lines,
        else (they were all rewritten since) one that changed its file."""
        touching: list[HistoryCommit] = []
        for path in write.files:
            touching.extend(self.history.touching(path))
        after = sorted(
            {
                c.sha: c for c in touching if write.when is None or c.commit_time >= write.when
            }.values(),
            key=lambda c: self.history.position[c.sha],
        )
        if write.added:
            for commit in after:
                if any(write.added & commit.added.get(path, frozenset()) for path in write.files):
                    return commit
        return after[0] if after else None

    def carriers(self, writes: list[_Write]) -> list[_Carrier]:
        found: dict[str, _Carrier] = {}
        for w in writes:
            commit = self.absorbing(w)
            if commit is None:
                continue
            c = found.setdefault(commit.sha, _Carrier(self._in_branch(commit)))
            c.moved_in = c.moved_in or w.index in self.elsewhere
            c.first_write = w.position if c.first_write is None else min(c.first_write, w.position)
            c.last_write = w.position if c.last_write is None else max(c.last_write, w.position)
        for agent_commit in self.session.commits:
            named = self._named(agent_commit.sha)
            if named is None or agent_commit.request_index not in self.position:
                continue
            c = found.setdefault(named.sha, _Carrier(self._in_branch(named)))
            c.exact_at = self.position[agent_commit.request_index]
        for sha in self.trailers.get(self.session.id, ()):
            if sha in self.scope_index:  # the commit names this session in a trailer
                found.setdefault(sha, _Carrier(self.scope.commits[self.scope_index[sha]]))
                found[sha].named = True
        return sorted(found.values(), key=self._history_order)

    def _in_branch(self, commit: BranchCommit | HistoryCommit) -> BranchCommit | HistoryCommit:
        """The branch's own record of a commit when it is in base..HEAD."""
        if commit.sha in self.scope_index:
            return self.scope.commits[self.scope_index[commit.sha]]
        return commit

    def _named(self, prefix: str) -> BranchCommit | HistoryCommit | None:
        """The commit an agent's printed sha names: in the branch, in the content history,
        or the rewritten copy of it (rebase, amend) in the branch."""
        scoped = self.in_scope.find(prefix)
        if scoped is not None:
            return scoped
        found = self.history_commits.find(prefix)
        if found is not None:
            return found
        for printed, sha in self.rewritten.items():
            if printed.startswith(prefix.lower()) or prefix.lower().startswith(printed):
                return self.in_scope.find(sha)
        return None

    def _history_order(self, carrier: _Carrier) -> tuple[int, int]:
        if carrier.sha in self.scope_index:
            return (1, self.scope_index[carrier.sha])  # after everything before the base
        return (0, self.history.position.get(carrier.sha, 0))

    def boundaries(self, carriers: list[_Carrier]) -> None:
        """Where each carrying commit's share of the session ends (a chronological position)."""
        times = [self.session.requests[i].timestamp for i in self.order]
        stamps = [t or datetime.min.replace(tzinfo=timezone.utc) for t in times]
        previous = -1
        for n, c in enumerate(carriers):
            if c.exact_at is not None:
                end = c.exact_at
            else:
                end = bisect_right(stamps, _made(c.commit)) - 1
                if c.last_write is not None:
                    end = max(end, c.last_write)
                nxt = carriers[n + 1] if n + 1 < len(carriers) else None
                upper = _first_position(nxt)
                if upper is not None:
                    end = min(end, upper - 1)
            c.boundary = max(end, previous)
            previous = c.boundary

    # -- the split ------------------------------------------------------------------------

    def split(self, kept: set[int]) -> tuple[dict[str, tuple[str, list[int]]], list[int], str]:
        """(sha -> (link, request indices) for branch commits, pending indices, overall
        link). Requests whose carrier lies before the base are counted as history."""
        writes = self.writes()
        if not writes and not self.trailers.get(self.session.id):
            self.excluded += len(self.elsewhere)
            return self._window(kept)
        carriers = self.carriers(writes)
        self.boundaries(carriers)
        parts: dict[str, tuple[str, list[int]]] = {}
        pending: list[int] = []
        last_boundary = carriers[-1].boundary if carriers else -1
        uncommitted_after = any(
            w.position > last_boundary and self.absorbing(w) is None for w in writes
        )
        branch_moved_on = bool(self.scope.commits) and all(
            r.timestamp is not None and r.timestamp < self.scope.commits[-1].time
            for i, r in enumerate(self.session.requests)
            if i in kept
        )
        links: set[str] = set()
        for pos, index in enumerate(self.order):
            if index not in kept and index not in self.elsewhere:
                continue
            carrier = next((c for c in carriers if pos <= c.boundary), None)
            if index in self.elsewhere and (
                carrier is None
                or not carrier.moved_in
                or not isinstance(carrier.commit, BranchCommit)
            ):
                self.excluded += 1
                continue
            if carrier is None and carriers and not uncommitted_after and branch_moved_on:
                carrier = carriers[-1]  # talk after the last change, and the branch went on
            if carrier is None:
                pending.append(index)
                continue
            if not isinstance(carrier.commit, BranchCommit):
                self.in_history += 1
                continue
            link = EXACT if carrier.exact_at is not None or carrier.named else CONTENT
            entry = parts.setdefault(carrier.sha, (link, []))
            entry[1].append(index)
            links.add(link)
        overall = EXACT if EXACT in links else CONTENT
        return parts, pending, overall

    def _window_floor(self, commits: list[BranchCommit]) -> datetime:
        """Time-only work older than this is not the branch's: the base's time, or — after a
        rebase moved the base past the branch's own work — a while before the branch's first
        commit was first made (author time survives the rebase)."""
        if not commits:
            return self.scope.base_time
        return min(self.scope.base_time, commits[0].made - WINDOW_SLACK)

    def _window(self, kept: set[int]) -> tuple[dict[str, tuple[str, list[int]]], list[int], str]:
        """No write in the log: time decides (the commit's author time), the agent's own
        commits are exact boundaries, and merge commits never take work."""
        commits = [c for c in self.scope.commits if not c.merge]
        exact: dict[str, int] = {}
        for agent_commit in self.session.commits:
            named = self._named(agent_commit.sha)
            index = agent_commit.request_index
            if isinstance(named, BranchCommit) and not named.merge and index in self.position:
                exact[named.sha] = self.position[index]
        parts: dict[str, tuple[str, list[int]]] = {}
        pending: list[int] = []
        floor = self._window_floor(commits)
        # Linear in requests: requests come in time order, so both where the search starts
        # (past every agent commit made before the request) and the first commit made at or
        # after the request only move forward; the next agent commit from any index is
        # precomputed.
        count = len(commits)
        next_exact = [count] * (count + 1)
        for n in range(count - 1, -1, -1):
            next_exact[n] = n if commits[n].sha in exact else next_exact[n + 1]
        boundaries = sorted(
            (at, n) for n, c in enumerate(commits) if (at := exact.get(c.sha)) is not None
        )
        passed = start = made_from = 0
        for pos, index in enumerate(self.order):
            while passed < len(boundaries) and boundaries[passed][0] < pos:
                start = max(start, boundaries[passed][1] + 1)  # not into an earlier agent commit
                passed += 1
            if index not in kept:
                continue
            when = self.session.requests[index].timestamp
            if when is not None and when < floor:
                self.excluded += 1
                continue
            found = next_exact[start]
            if when is not None:
                made_from = max(made_from, start)
                while made_from < count and commits[made_from].made < when:
                    made_from += 1
                found = min(found, made_from)
            target = commits[found] if found < count else None
            if target is None:
                pending.append(index)
                continue
            link = EXACT if target.sha in exact else WINDOW
            parts.setdefault(target.sha, (link, []))[1].append(index)
        links = {link for link, _ in parts.values()}
        return parts, pending, EXACT if EXACT in links else WINDOW


def _part(session: Session, link: str, members: list[int]) -> Part:
    members = sorted(members)
    return Part(
        session,
        link,
        [session.requests[i] for i in members],
        [request_id(session, i) for i in members],
    )


WINDOW_SLACK = timedelta(hours=12)


def _first_position(carrier: _Carrier | None) -> int | None:
    if carrier is None:
        return None
    options = [p for p in (carrier.first_write, carrier.exact_at) if p is not None]
    return min(options) if options else None


def attribute(
    scope: Scope,
    sessions: list[Session],
    now: datetime | None = None,
    *,
    history: History | None = None,
    rewritten: dict[str, str] | None = None,
    recorded: Collection[str] = frozenset(),
    trailers: Mapping[str, Collection[str]] | None = None,
) -> Attribution:
    """Split the sessions' requests over the branch's commits (see the module docstring).
    `history` is the content evidence (history.load_history), `rewritten` maps printed
    shas of rewritten commits to their copies in the branch, `recorded` holds the request
    ids notes outside the branch already hold, `trailers` the commits whose message names
    a session (`Claude-Session:`)."""
    now = now or datetime.now(timezone.utc)
    history = history or History()
    buckets: dict[str, list[Part]] = {c.sha: [] for c in scope.commits}
    pending: list[Part] = []
    whole: list[Part] = []
    excluded = in_history = unattributed = 0
    inside: dict[str, bool] = {}
    for session in sessions:
        one = _SessionAttribution(session, scope, history, rewritten or {}, recorded, now, trailers)
        kept = one.candidates(inside)
        if kept or one.elsewhere:
            parts, waiting, overall = one.split(kept)
        else:
            parts, waiting, overall = {}, [], WINDOW
        excluded += one.excluded
        in_history += one.in_history
        if not parts and not waiting:
            if kept or one.in_history:
                unattributed += 1
            continue
        taken: list[int] = []
        for sha, (link, members) in parts.items():
            buckets[sha].append(_part(session, link, members))
            taken += members
        if waiting:
            pending.append(_part(session, overall, waiting))
            taken += waiting
        whole.append(_part(session, overall, taken))
    return Attribution(
        scope=scope,
        commits=buckets,
        pending=pending,
        sessions=whole,
        excluded_requests=excluded,
        in_history_requests=in_history,
        unattributed_sessions=unattributed,
    )
