"""Discover → parse → dedup: the sessions on this machine, as the model has them (the
pipeline prices them next)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from tokentrail.cache import SessionCache, cache_dir
from tokentrail.hookspecs import Adapter
from tokentrail.logfile import display
from tokentrail.model import (
    MODEL_VERSION,
    AgentCommit,
    Compaction,
    ParseIssues,
    Request,
    Session,
    SessionRef,
    ToolCall,
    cwd_inside,
)
from tokentrail.parse_pool import Job, parse_all
from tokentrail.plugins import PluginProblem, TokentrailPluginManager


@dataclass
class SessionFilter:
    agent: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    repo: Path | None = None  # only sessions whose working directory is inside this folder

    def __post_init__(self) -> None:
        self.repo = self.repo.resolve() if self.repo is not None else None

    def keeps(self, session: Session) -> bool:
        if self.agent and session.agent != self.agent:
            return False
        last = session.end or session.start
        if self.since and last and last < self.since:
            return False
        if self.until and session.start and session.start > self.until:
            return False
        if self.repo is not None:
            return any(cwd_inside(cwd, self.repo) for cwd in session.cwds)
        return True


@dataclass
class Catalog:
    sessions: list[Session]
    issues: ParseIssues = field(default_factory=ParseIssues)
    adapters: list[str] = field(default_factory=list)
    duplicate_requests: int = 0  # requests also present in an earlier session's file
    cache: SessionCache | None = None


def agent_names(adapter: Adapter) -> list[str]:
    """The agents an adapter's sessions belong to: its `agents()` when it reads several
    (the local store), else its `name`."""
    listing = getattr(adapter, "agents", None)
    if callable(listing):
        try:
            return [str(name) for name in listing()]
        except Exception:
            return []
    return [adapter.name]


def known_agents(pm: TokentrailPluginManager) -> list[str]:
    """Every agent name `--agent` accepts: built-in, plugins', and those in the store."""
    names: dict[str, None] = {}
    for _, adapter in pm.adapters():
        names.update(dict.fromkeys(agent_names(adapter)))
    return list(names)


def discover(
    pm: TokentrailPluginManager, flt: SessionFilter, issues: ParseIssues | None = None
) -> list[tuple[str, Adapter, SessionRef]]:
    """Cheap listing from every adapter: no file is parsed whole here. Entries an adapter
    could not use (it lists them in an optional `skipped` attribute) go into `issues`."""
    since_ts = flt.since.timestamp() if flt.since else None
    found: list[tuple[str, Adapter, SessionRef]] = []
    for plugin, adapter in pm.adapters():
        if flt.agent and flt.agent not in agent_names(adapter):
            continue
        refs: list[SessionRef] = []  # what was listed before a failure is still used
        pm.guard(plugin, "discover", partial(_listing, adapter, flt.repo, refs))
        skipped = getattr(adapter, "skipped", None)
        if issues is not None and isinstance(skipped, list):
            for entry in skipped:
                issues.skipped_files.append(str(entry))
                issues.warnings.append(f"{entry}: not read; its sessions are not counted")
        for ref in refs:
            if since_ts is not None and ref.mtime and ref.mtime < since_ts:
                continue  # not written since then, so it ended before then
            found.append((plugin, adapter, ref))
    return found


def _listing(adapter: Adapter, repo: Path | None, into: list[SessionRef]) -> None:
    into.extend(adapter.discover(repo))  # appends as it goes: a failure keeps the rest


def parser_version(pm: TokentrailPluginManager, plugin: str, adapter: Adapter) -> str:
    """What a cached parse depends on: the adapter's declared `parser_version`, else the
    version of the package that provides it."""
    declared = getattr(adapter, "parser_version", None)
    return f"{plugin}:{declared or pm.versions.get(plugin, '')}:model{MODEL_VERSION}"


def load(
    pm: TokentrailPluginManager, flt: SessionFilter, cache: SessionCache | None = None
) -> Catalog:
    cache = cache or SessionCache(cache_dir())
    catalog = Catalog(sessions=[], adapters=[a.name for _, a in pm.adapters()], cache=cache)
    parsed: list[Session] = []
    misses: list[Job] = []
    secondary: set[int] = set()
    for plugin, adapter, ref in discover(pm, flt, catalog.issues):
        # What discovery knew about the session's folder is an input to the parse too.
        version = parser_version(pm, plugin, adapter) + f":{ref.cwd_hint or ''}"
        session = cache.get(ref, version)
        if session is None:
            misses.append(Job(plugin, adapter, ref, version))
        else:
            parsed.append(session)
            if getattr(adapter, "secondary", False):
                secondary.add(id(session))
    for job, result in parse_all(misses, cache):
        if isinstance(result, str):
            pm.add_problem(PluginProblem(job.plugin, f"parse {job.ref.path}", result))
        else:
            parsed.append(result)
            if getattr(job.adapter, "secondary", False):
                secondary.add(id(result))
    parsed = _prefer_primary(parsed, secondary, catalog.issues)
    for session in parsed:
        catalog.issues.add(session.issues)
        if session.start is None and not session.requests:
            continue  # nothing happened in it (e.g. a summary-only file)
        if flt.keeps(session):
            catalog.sessions.append(session)
    catalog.sessions.sort(key=lambda s: (s.start is None, s.start or datetime.min, s.id))
    catalog.duplicate_requests = _dedup_across_sessions(catalog.sessions)
    return catalog


def _prefer_primary(
    sessions: list[Session], secondary: set[int], issues: ParseIssues
) -> list[Session]:
    """A session both in an agent's own log and in an import (same agent and id) is
    counted once, from the log: it has the branch, the tool calls and the commits."""
    primary = {(s.agent, s.id) for s in sessions if id(s) not in secondary}
    kept = []
    for session in sessions:
        if id(session) in secondary and (session.agent, session.id) in primary:
            issues.warnings.append(
                f"{session.agent} session {session.id} is both in the agent's own log and "
                f"in an import ({session.paths[0]}); the import is not counted"
            )
            continue
        kept.append(session)
    return kept


def _dedup_across_sessions(sessions: Iterable[Session]) -> int:
    """Resumed, forked and branched sessions copy earlier calls into new files: a call is
    counted in the earliest session that has it."""
    seen: set[tuple[str, str]] = set()
    dropped = 0
    for session in sessions:
        keep = []
        for request in session.requests:
            if request.key is not None:
                key = (session.agent, request.key)
                if key in seen:
                    dropped += 1
                    continue
                seen.add(key)
            keep.append(request)
        if len(keep) != len(session.requests):
            _reindex(session, keep)
    return dropped


def _reindex(session: Session, keep: list[Request]) -> None:
    position = {id(r): i for i, r in enumerate(keep)}
    mapping = []
    last = 0
    for r in session.requests:
        last = position.get(id(r), last)
        mapping.append(last)
    items: list[ToolCall | AgentCommit | Compaction] = [
        *session.tool_calls,
        *session.commits,
        *session.compactions,
    ]
    for item in items:
        if item.request_index < len(mapping):
            item.request_index = mapping[item.request_index]
    session.requests = keep


def searched_places(pm: TokentrailPluginManager) -> list[dict[str, Any]]:
    """Where each adapter looks (adapters may expose `roots()`), and whether it exists."""
    places = []
    for plugin, adapter in pm.adapters():
        roots = getattr(adapter, "roots", None)
        if not callable(roots):
            continue
        for root in pm.guard(plugin, "roots", partial(_roots, roots)) or []:
            places.append({"agent": adapter.name, "path": display(root), "exists": _is_dir(root)})
    return places


def _roots(roots: Any) -> list[Path]:
    return [Path(r) for r in roots()]


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False
