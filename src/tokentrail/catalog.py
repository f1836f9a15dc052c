"""Discover → parse → dedup → price: the sessions on this machine, as the model has them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from tokentrail.cache import SessionCache, cache_dir
from tokentrail.hookspecs import Adapter
from tokentrail.logfile import display
from tokentrail.model import (
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
from tokentrail.pricing import price_sessions


@dataclass
class SessionFilter:
    agent: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    repo: Path | None = None  # only sessions whose working directory is inside this folder

    def __post_init__(self) -> None:
        self.repo = self.repo.resolve() if self.repo is not None else None

    def keeps(self, session: Session) -> bool:
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


def adapters(pm: TokentrailPluginManager) -> list[tuple[str, Adapter]]:
    return pm.collect("register_adapters", Adapter)  # type: ignore[type-abstract]


def discover(
    pm: TokentrailPluginManager, flt: SessionFilter, issues: ParseIssues | None = None
) -> list[tuple[str, Adapter, SessionRef]]:
    """Cheap listing from every adapter: no file is parsed whole here. Entries an adapter
    could not use (it lists them in an optional `skipped` attribute) go into `issues`."""
    since_ts = flt.since.timestamp() if flt.since else None
    found: list[tuple[str, Adapter, SessionRef]] = []
    for plugin, adapter in adapters(pm):
        if flt.agent and adapter.name != flt.agent:
            continue
        refs = pm.guard(plugin, "discover", partial(_listing, adapter, flt.repo))
        skipped = getattr(adapter, "skipped", None)
        if issues is not None and isinstance(skipped, list):
            for entry in skipped:
                issues.skipped_files.append(str(entry))
                issues.warnings.append(f"{entry}: not read; its sessions are not counted")
        for ref in refs or []:
            if since_ts is not None and ref.mtime and ref.mtime < since_ts:
                continue  # not written since then, so it ended before then
            found.append((plugin, adapter, ref))
    return found


def _listing(adapter: Adapter, repo: Path | None) -> list[SessionRef]:
    return list(adapter.discover(repo))


def parser_version(pm: TokentrailPluginManager, plugin: str, adapter: Adapter) -> str:
    """What a cached parse depends on: the adapter's declared `parser_version`, else the
    version of the package that provides it."""
    declared = getattr(adapter, "parser_version", None)
    return f"{plugin}:{declared or pm.versions.get(plugin, '')}"


def load(
    pm: TokentrailPluginManager,
    flt: SessionFilter,
    config: Mapping[str, Any],
    cache: SessionCache | None = None,
) -> Catalog:
    cache = cache or SessionCache(cache_dir())
    catalog = Catalog(sessions=[], adapters=[a.name for _, a in adapters(pm)], cache=cache)
    parsed: list[Session] = []
    misses: list[Job] = []
    for plugin, adapter, ref in discover(pm, flt, catalog.issues):
        version = parser_version(pm, plugin, adapter)
        session = cache.get(ref, version)
        if session is None:
            misses.append(Job(plugin, adapter, ref, version))
        else:
            parsed.append(session)
    for job, result in parse_all(misses, cache):
        if isinstance(result, str):
            pm.add_problem(PluginProblem(job.plugin, f"parse {job.ref.path}", result))
        else:
            parsed.append(result)
    for session in parsed:
        catalog.issues.add(session.issues)
        if session.start is None and not session.requests:
            continue  # nothing happened in it (e.g. a summary-only file)
        if flt.keeps(session):
            catalog.sessions.append(session)
    catalog.sessions.sort(key=lambda s: (s.start is None, s.start or datetime.min, s.id))
    catalog.duplicate_requests = _dedup_across_sessions(catalog.sessions)
    price_sessions(catalog.sessions, pm, config)
    return catalog


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
    for plugin, adapter in adapters(pm):
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
