"""Discover → index → dedup → price: the sessions on this machine, as the model has them.

Every run first brings the index up to date with the logs (`sync`): adapters list their
sessions cheaply, the index says which it already holds in exactly that state, and only
the others are read (appended logs from where they were left, when the adapter can). Then
`listing` answers `sessions` from the index's stored rows, and `load` gives the whole
sessions `report`, `check`, `note` and `lessons` attribute and analyse.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from tokentrail import __version__
from tokentrail.figures import cost_units, session_row, totals, units_to_usd
from tokentrail.hookspecs import Adapter
from tokentrail.index import Index, IndexCorrupt, Listed, key_hashes, storable
from tokentrail.logfile import FileState, display, file_state, heads
from tokentrail.model import (
    MODEL_VERSION,
    AgentCommit,
    Compaction,
    ParseIssues,
    Price,
    Request,
    Session,
    SessionRef,
    ToolCall,
    resolved_cwd,
)
from tokentrail.parse_pool import Job, parse_all
from tokentrail.plugins import BUILTIN_PLUGINS, PluginProblem, TokentrailPluginManager
from tokentrail.pricing import PRICING_VERSION, Pricer


@dataclass
class SessionFilter:
    agent: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    repo: Path | None = None  # only sessions whose working directory is inside this folder

    def __post_init__(self) -> None:
        self.repo = self.repo.resolve() if self.repo is not None else None

    def keeps(self, session: Session) -> bool:
        places = [str(p) for p in map(resolved_cwd, session.cwds) if p is not None]
        return self.keeps_fields(session.agent, session.start, session.end, places)

    def keeps_fields(
        self, agent: str, start: datetime | None, end: datetime | None, places: Iterable[str]
    ) -> bool:
        """`places`: the session's working directories with symlinks resolved."""
        if self.agent and agent != self.agent:
            return False
        last = end or start
        if self.since and last and last < self.since:
            return False
        if self.until and start and start > self.until:
            return False
        if self.repo is not None:
            root = str(self.repo)
            inside = root if root.endswith(os.sep) else root + os.sep
            return any(place == root or place.startswith(inside) for place in places)
        return True


@dataclass
class Catalog:
    sessions: list[Session]
    issues: ParseIssues = field(default_factory=ParseIssues)
    adapters: list[str] = field(default_factory=list)
    duplicate_requests: int = 0  # requests also present in an earlier session's file
    kept_deleted: int = 0  # sessions whose logs were deleted, still counted from the index
    index: Index | None = None  # open for StoredResults until `close()` (load's keep_open)
    entries: dict[int, int] = field(default_factory=dict)  # id(session) -> index entry
    dropped: dict[int, tuple[int, ...]] = field(default_factory=dict)  # id(session) -> idx

    def close(self) -> None:
        """Done with the index (stored detector results are written by then)."""
        if self.index is not None:
            self.index.close()
            self.index = None


@dataclass
class Listing:
    """`sessions`: one row per session and the totals over all of their requests."""

    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    issues: ParseIssues = field(default_factory=ParseIssues)
    adapters: list[str] = field(default_factory=list)
    duplicate_requests: int = 0
    kept_deleted: int = 0


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
    """What a stored parse depends on: the adapter's declared `parser_version`, else the
    version of the package that provides it; and tokentrail's own version."""
    declared = getattr(adapter, "parser_version", None)
    return f"{plugin}:{declared or pm.versions.get(plugin, '')}:{__version__}:model{MODEL_VERSION}"


def pricing_key(pm: TokentrailPluginManager) -> str:
    """What the prices stored with requests depend on: genai-prices' version and any
    price plugin besides the built-ins."""
    custom = sorted(
        f"{impl.plugin_name}={pm.versions.get(impl.plugin_name, '')}"
        for impl in pm.hook.price_request.get_hookimpls()
        if impl.plugin_name not in BUILTIN_PLUGINS
    )
    return "|".join([PRICING_VERSION, *custom])


def _custom_pricing(pm: TokentrailPluginManager) -> bool:
    return "|" in pricing_key(pm)


def _digest(version: str, paths: tuple[Path, ...], state: list[tuple[int, int, int, int]]) -> str:
    text = version + "\n" + "\n".join(f"{p}\0{s}" for p, s in zip(paths, state))
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def keep_deleted(config: Mapping[str, Any]) -> bool:
    """Whether sessions whose logs were deleted stay counted (`history.keep_deleted`,
    default true; `TOKENTRAIL_KEEP_DELETED=0` turns it off too)."""
    if os.environ.get("TOKENTRAIL_KEEP_DELETED", "").strip() in ("0", "false", "no"):
        return False
    history = config.get("history")
    return not (isinstance(history, dict) and history.get("keep_deleted") is False)


@dataclass
class _Synced:
    ids: list[int]  # index entries of this run's sessions, in discovery order
    gone: set[int]  # those kept after their logs were deleted
    secondary: set[int]  # those read by an adapter that only imports (`secondary`)
    issues: ParseIssues  # what discovery could not read


def sync(
    pm: TokentrailPluginManager,
    flt: SessionFilter,
    index: Index,
    config: Mapping[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> _Synced:
    """Bring the index up to date with the logs this filter covers; `progress(done,
    total)` is called as session files are (re)parsed."""
    heads.memo, heads.new = index.heads(), {}
    discovered = ParseIssues()  # entries the adapters listed but could not use
    try:
        found = discover(pm, flt, discovered)
    finally:
        new, heads.memo, heads.new = heads.new, None, {}
    if new:
        index.put_heads(new)
    keys = [(ref.agent, storable(ref.id), storable(str(ref.path))) for _, _, ref in found]
    known = index.known(keys)
    pricing = pricing_key(pm)
    ids: list[int] = []
    secondary: set[int] = set()
    jobs: list[Job] = []
    for (plugin, adapter, ref), key in zip(found, keys):
        # What discovery knew about the session's folder is an input to the parse too.
        version = parser_version(pm, plugin, adapter) + f":{ref.cwd_hint or ''}"
        state = _states(ref)
        digest = _digest(version, ref.paths, state) if state is not None else ""
        entry = known.get(key)
        if entry is not None and digest and entry.digest == digest:
            if entry.pricing == pricing:
                ids.append(entry.id)
                if getattr(adapter, "secondary", False):
                    secondary.add(entry.id)
            else:
                jobs.append(Job(plugin, adapter, ref, version, reprice=entry.id))
            continue
        previous = entry.id if entry is not None and entry.has_resume else None
        jobs.append(Job(plugin, adapter, ref, version, digest, state, previous))
    if progress is not None and jobs:
        progress(0, len(jobs))
    for done, (job, result) in enumerate(parse_all(jobs, index, pm, pricing), 1):
        if progress is not None:
            progress(done, len(jobs))
        if isinstance(result, str):
            pm.add_problem(PluginProblem(job.plugin, f"parse {job.ref.path}", result))
        else:
            ids.append(result)
            if getattr(job.adapter, "secondary", False):
                secondary.add(result)
    gone = _deleted(pm, flt, index, set(keys), keep_deleted(config))
    return _Synced([*ids, *sorted(gone)], gone, secondary, discovered)


def _states(ref: SessionRef) -> list[FileState] | None:
    """The state of every file of the session: discovery's own stat results when they
    cover them all, else from the file system."""
    if ref.states is not None and len(ref.states) == 1 + len(ref.extra_paths):
        return list(ref.states)
    return file_state(ref.paths)


def _deleted(
    pm: TokentrailPluginManager,
    flt: SessionFilter,
    index: Index,
    discovered: set[tuple[str, str, str]],
    keep: bool,
) -> set[int]:
    """Index entries under the adapters' folders whose logs are gone: kept (and counted)
    unless history is not kept. Only adapters that say where they look (`roots()`) can
    tell a deleted log from one that is simply elsewhere."""
    roots: dict[str, list[str]] = {}
    for _, adapter in pm.adapters():
        names = agent_names(adapter)
        if flt.agent and flt.agent not in names:
            continue
        listed = getattr(adapter, "roots", None)
        try:
            found = [str(r).rstrip(os.sep) + os.sep for r in listed()] if callable(listed) else []
        except Exception:
            continue
        for name in names if found else ():
            roots.setdefault(name, []).extend(found)
    if not roots:
        return set()
    newly, kept = [], set()
    for sid, agent, session_id, path, gone in index.candidates(sorted(roots), flt.repo):
        if (agent, session_id, path) in discovered:
            continue
        if not any(path.startswith(root) for root in roots.get(agent, ())):
            continue
        if not gone:
            if os.path.lexists(path):
                continue  # still there, just not this run's (another filter)
            newly.append(sid)
        kept.add(sid)
    if newly:
        index.mark_gone(newly, keep)
    if not keep:
        index.forget_gone()
        return set()
    return kept


def open_index() -> Index:
    return Index()


def _with_index(run: Any, *, keep_open: bool = False) -> Any:
    """Run `run(index)`; if anything stored does not verify or SQLite reports damage,
    rebuild the index from the logs and run it again (it is never trusted half-way).
    With `keep_open` the index stays open for what `run` returned to use."""
    index = open_index()
    try:
        try:
            result = run(index)
        except (IndexCorrupt, sqlite3.DatabaseError):
            index.rebuild()
            result = run(index)
    except BaseException:
        index.close()
        raise
    if not keep_open:
        index.close()
    return result


def _order(start: str | None, sid: str) -> tuple[bool, datetime, str]:
    ts = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
    return (ts is None, ts or datetime.min, sid)


def _chosen(index: Index, synced: _Synced, flt: SessionFilter) -> tuple[list[Listed], ParseIssues]:
    """The sessions this filter keeps, in report order, and the parse issues of all (and of
    discovery). A session both in an agent's own log and in an import (same agent and id)
    is counted once, from the log: it has the branch, the tool calls and the commits."""
    listed, secondary = index.listed(synced.ids), synced.secondary
    issues = ParseIssues()
    primary = {(item.agent, item.sid) for item in listed if item.id not in secondary}
    imported = [i for i in listed if i.id in secondary and (i.agent, i.sid) in primary]
    for item in imported:
        issues.warnings.append(
            f"{item.agent} session {item.sid} is both in the agent's own log and "
            f"in an import ({item.path}); the import is not counted"
        )
    skip = {item.id for item in imported}
    kept = []
    for item in listed:
        if item.id in skip:
            continue
        if item.issues is not None:
            issues.add(item.issues)
        row = item.row
        if row["start"] is None and not row["requests"]:
            continue  # nothing happened in it (e.g. a summary-only file)
        start, end = _when(row["start"]), _when(row["end"])
        if flt.keeps_fields(item.agent, start, end, item.places):
            kept.append(item)
    kept.sort(key=lambda item: _order(item.row["start"], str(item.row["id"])))
    issues.add(synced.issues)
    return kept, issues


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _overridden(config: Mapping[str, Any]) -> set[str]:
    prices = config.get("prices")
    return set(prices) if isinstance(prices, dict) else set()


def _drops(index: Index, chosen: list[Listed]) -> dict[int, set[int]]:
    """Requests to drop because an earlier session (in report order) has the same call:
    resumed, forked and branched sessions copy earlier calls into new files. The index
    knows which sessions share a key hash with another; only those are looked at, and
    only where their hashes meet are the keys themselves compared."""
    overlapping = index.overlapping()
    candidates = [item for item in chosen if item.id in overlapping]
    if not candidates:
        return {}
    seen: set[int] = set()
    hashed: list[tuple[Listed, set[int]]] = []
    suspects: list[tuple[Listed, set[int]]] = []
    blobs = index.keys([item.id for item in candidates])
    for item in candidates:
        hashes = key_hashes(blobs[item.id])
        mine = set(hashes)
        clash = seen.intersection(mine)
        if clash or len(mine) != len(hashes):
            suspects.append((item, clash))
        seen |= mine
        hashed.append((item, mine))
    if not suspects:
        return {}
    owners: dict[int, set[int]] = {}  # suspect -> earlier sessions holding its hashes
    for item, clash in suspects:
        owners[item.id] = {
            other.id for other, theirs in hashed if other.id != item.id and clash & theirs
        }
    wanted = {i.id for i, _ in suspects} | {o for found in owners.values() for o in found}
    loaded = index.sessions([i.id for i in candidates if i.id in wanted], body=False)
    order = {item.id: n for n, item in enumerate(candidates)}
    drops: dict[int, set[int]] = {}
    for item, _ in suspects:
        earlier = {
            (loaded[o].agent, r.key)
            for o in owners[item.id]
            if order[o] < order[item.id]
            for r in loaded[o].requests
            if r.key is not None
        }
        session = loaded[item.id]
        for i, r in enumerate(session.requests):
            if r.key is None:
                continue
            key = (session.agent, r.key)
            if key in earlier:
                drops.setdefault(item.id, set()).add(i)
            earlier.add(key)
    return drops


def listing(
    pm: TokentrailPluginManager,
    flt: SessionFilter,
    config: Mapping[str, Any],
    choose: Callable[[list[dict[str, Any]]], list[int]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Listing:
    """Every kept session's row (those of them `choose` picks, by position, when given)
    and the totals over their requests, from the index."""

    def run(index: Index) -> Listing:
        synced = sync(pm, flt, index, config, progress)
        chosen, issues = _chosen(index, synced, flt)
        drops = _drops(index, chosen)
        overridden = _overridden(config)
        custom = _custom_pricing(pm)
        redo = [
            item.id
            for item in chosen
            if custom
            or item.id in drops
            or item.units is None
            or overridden.intersection(item.row["models"])
        ]
        fresh = _sessions(index, redo, drops, pm, config, body=False)
        every: list[tuple[Listed, dict[str, Any], int | None]] = []
        for item in chosen:
            session = fresh.get(item.id)
            if session is None:
                every.append((item, item.row, item.units))
            else:
                costs = (r.cost_usd for r in session.requests if r.cost_usd is not None)
                every.append((item, session_row(session), cost_units(costs)))
        if choose is not None:
            every = [every[i] for i in choose([row for _, row, _ in every])]
        units: int | None = 0
        for _, _, part in every:
            units = None if part is None or units is None else units + part
        rows = [row for _, row, _ in every]
        return Listing(
            rows,
            _listing_totals(rows, units),
            issues,
            [a.name for _, a in pm.adapters()],
            sum(len(d) for d in drops.values()),
            sum(1 for item, _, _ in every if item.gone),
        )

    result: Listing = _with_index(run)
    return result


def _listing_totals(rows: list[dict[str, Any]], units: int | None) -> dict[str, Any]:
    """What `figures.totals` gives over all the rows' requests: the counts are sums, and
    the cost the exact sum of every priced request (the rows' `units`)."""
    out: dict[str, Any] = {"sessions": len(rows)}
    for key in totals([]):
        if key not in ("cost_usd", "limit_pct"):
            out[key] = sum(int(row[key]) for row in rows)
    limits = [float(row["limit_pct"]) for row in rows if row.get("limit_pct") is not None]
    out["limit_pct"] = round(math.fsum(limits), 4) if limits else None
    priced = out["requests"] - out["unpriced_requests"]
    if units is None:  # a plugin priced something at infinity or NaN: sum as floats
        cost = sum(float(row["cost_usd"] or 0.0) for row in rows)
    else:
        cost = units_to_usd(units)
    out["cost_usd"] = round(cost, 6) if priced or not out["requests"] else None
    return {k: out[k] for k in ("sessions", *totals([]))}


def _sessions(
    index: Index,
    ids: list[int],
    drops: Mapping[int, set[int]],
    pm: TokentrailPluginManager,
    config: Mapping[str, Any],
    *,
    body: bool = True,
) -> dict[int, Session]:
    """Whole sessions from the index, without dropped requests, priced for `config`."""
    if not ids:
        return {}
    loaded = index.sessions(ids, body=body)
    for sid, session in loaded.items():
        gone = drops.get(sid)
        if gone:
            _reindex(session, [r for i, r in enumerate(session.requests) if i not in gone])
    _price_for(list(loaded.values()), pm, config)
    return loaded


def _price_for(
    sessions: list[Session], pm: TokentrailPluginManager, config: Mapping[str, Any]
) -> None:
    """The index stores prices without a config; requests of models the config prices
    itself (or everything, with a price plugin that may read the config) are priced again."""
    if _custom_pricing(pm):
        Pricer(pm, config).price_sessions(sessions)
        return
    overridden = _overridden(config)
    if not overridden:
        return
    price_request = pm.first_result_caller("price_request", Price)
    for session in sessions:
        for request in session.requests:
            if request.model in overridden:
                answer = price_request(request=request, config=config)
                found = answer[1] if answer else None
                request.cost_usd = found.cost_usd if found else None
                request.price_source = found.source if found else None


def load(
    pm: TokentrailPluginManager,
    flt: SessionFilter,
    config: Mapping[str, Any],
    select: Callable[[Mapping[str, Any]], bool] | None = None,
    *,
    keep_open: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Catalog:
    """The kept sessions (those whose listing row `select` accepts), whole, deduplicated
    across all kept sessions and priced for `config` (the index keeps the built-in
    prices; the config's own prices and price plugins are applied here). With
    `keep_open` the index stays open for `StoredResults` until `Catalog.close()`.
    `progress(done, total)` follows the parsing of new or changed logs."""

    def run(index: Index) -> Catalog:
        synced = sync(pm, flt, index, config, progress)
        chosen, issues = _chosen(index, synced, flt)
        drops = _drops(index, chosen)
        picked = [item for item in chosen if select is None or select(item.row)]
        loaded = _sessions(index, [item.id for item in picked], drops, pm, config)
        return Catalog(
            sessions=[loaded[item.id] for item in picked],
            issues=issues,
            adapters=[a.name for _, a in pm.adapters()],
            duplicate_requests=sum(len(d) for d in drops.values()),
            kept_deleted=sum(1 for item in picked if item.gone),
            index=index,
            entries={id(loaded[item.id]): item.id for item in picked},
            dropped={id(loaded[i]): tuple(sorted(d)) for i, d in drops.items() if i in loaded},
        )

    result: Catalog = _with_index(run, keep_open=keep_open)
    if not keep_open:
        result.index = None
    return result


class StoredResults:
    """Detector results kept in the index with each session (detect.Results): a session
    that did not change is not analysed again. Sessions that lost requests to another
    session's copy of them are kept under that loss too."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _keys(self, sessions: Iterable[Session], context: str) -> dict[int, tuple[int, str]]:
        out = {}
        for session in sessions:
            entry = self.catalog.entries.get(id(session))
            if entry is not None:
                dropped = ",".join(map(str, self.catalog.dropped.get(id(session), ())))
                out[id(session)] = (entry, f"{context}|{dropped}")
        return out

    def get(self, sessions: Sequence[Session], context: str) -> dict[int, bytes]:
        index = self.catalog.index
        keys = self._keys(sessions, context)
        if index is None or not keys:
            return {}
        try:
            stored = index.detections(list(keys.values()))
        except (sqlite3.Error, IndexCorrupt):
            return {}
        return {sid: stored[entry] for sid, (entry, _) in keys.items() if entry in stored}

    def put(self, results: Sequence[tuple[Session, bytes]], context: str) -> None:
        index = self.catalog.index
        if index is None:
            return
        keys = self._keys((s for s, _ in results), context)
        items = [(*keys[id(s)], data) for s, data in results if id(s) in keys]
        with contextlib.suppress(sqlite3.Error):  # a read-only or busy index costs only time
            index.put_detections(items)


def _index_map(total: int, dropped: Iterable[int]) -> list[int]:
    """For each original request index, the index it has once `dropped` are removed: a
    dropped request maps to the kept one before it (the first kept one if none)."""
    gone = set(dropped)
    mapping, kept, last = [], 0, 0
    for i in range(total):
        if i not in gone:
            last = kept
            kept += 1
        mapping.append(last)
    return mapping


def _reindex(session: Session, keep: list[Request]) -> None:
    kept = {id(r) for r in keep}
    dropped = [i for i, r in enumerate(session.requests) if id(r) not in kept]
    mapping = _index_map(len(session.requests), dropped)
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
