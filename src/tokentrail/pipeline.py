"""The one pipeline: scope → discover → parse → attribute → price → detect → lessons → receipt.

Every command that needs sessions or a receipt comes here, so the stages are wired once and
the data flows one way. Nothing here prints: problems travel in the results (`warnings`)
and the command decides where they go.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tokentrail import carry as carry_mod
from tokentrail import catalog as catalog_mod
from tokentrail import places, progress
from tokentrail.attribute import Attribution, attribute
from tokentrail.budget import Budget
from tokentrail.cause import likely_cause
from tokentrail.config import load_config, plan_of
from tokentrail.detect import Analysis, analyze, finding_from_dict
from tokentrail.errors import TokentrailError
from tokentrail.figures import agent_cost, iso, session_row, totals
from tokentrail.history import gather, originals_of, repo_relative
from tokentrail.lessons import build_lessons
from tokentrail.logfile import display
from tokentrail.model import Finding, RateLimits, RateWindow, Request, Session
from tokentrail.notes import (
    combine,
    line_to_row,
    no_sessions_line,
    note_line,
    notes_ref,
    read_notes,
    write_notes,
)
from tokentrail.plugins import TokentrailPluginManager, get_plugin_manager
from tokentrail.pricing import PRICING_VERSION, Pricer
from tokentrail.privacy import portable
from tokentrail.receipt import (
    branch_receipt,
    count_once,
    finish,
    from_attribution,
    waste_summary,
)
from tokentrail.scope import Scope, find_scope, range_commits, resolve_rev, run_git

# What a finding carries into notes and PR comments: no claims, evidence kept short.
NOTE_FINDING_KEYS = (
    "id",
    "detector",
    "title",
    "wasted_tokens",
    "wasted_usd",
    "confidence",
    "measured",
    "lesson",
    "evidence",
)


@dataclass
class Loaded:
    """Sessions discovered, parsed, deduplicated and priced."""

    catalog: catalog_mod.Catalog
    pricer: Pricer


@dataclass
class BranchRun:
    scope: Scope
    loaded: Loaded
    attribution: Attribution
    analysis: Analysis = field(default_factory=Analysis)

    @property
    def sessions(self) -> list[Session]:
        """The sessions that did work on this branch."""
        return [part.session for part in self.attribution.sessions]


def load_sessions(
    pm: TokentrailPluginManager,
    flt: catalog_mod.SessionFilter,
    config: Mapping[str, Any],
    *,
    keep_open: bool = False,
) -> Loaded:
    """Discover → parse → dedup → price (the catalog: through the index, which keeps the
    prices the `price_request` chain gave and asks it again only where the config or a
    price plugin may answer differently), and the pricer the later stages use. With
    `keep_open`, detector results are kept in the index (`analyze_loaded`) until
    `loaded.catalog.close()`."""
    catalog = catalog_mod.load(pm, flt, config, keep_open=keep_open, progress=progress.current())
    return Loaded(catalog, Pricer(pm, config))


def analyze_loaded(
    sessions: list[Session], pm: TokentrailPluginManager, loaded: Loaded
) -> Analysis:
    """The detectors over these sessions, answered from the index for sessions it holds
    results for (under the same detectors, thresholds, config and prices)."""
    catalog = loaded.catalog
    results = catalog_mod.StoredResults(catalog) if catalog.index is not None else None
    return analyze(sessions, pm, loaded.pricer, results)


def run_branch(
    scope: Scope,
    pm: TokentrailPluginManager,
    config: Mapping[str, Any],
    *,
    detect: bool = True,
    ref: str | None = None,
) -> BranchRun:
    """The sessions of the repository, attributed to the branch's commits by the evidence
    git holds (content history, rewritten copies, notes before the base), then detected."""
    repo_relative.cache_clear()  # symlinks are resolved afresh on every run
    flt = catalog_mod.SessionFilter(repo=scope.root)
    loaded = load_sessions(pm, flt, config, keep_open=detect)
    try:
        sessions = loaded.catalog.sessions
        evidence = gather(scope, sessions, notes_ref(config, ref))
        attribution = attribute(
            scope,
            sessions,
            history=evidence.history,
            rewritten=evidence.rewritten,
            recorded=evidence.recorded,
            trailers=evidence.trailers,
        )
        run = BranchRun(scope, loaded, attribution)
        if detect:
            run.analysis = analyze_loaded(run.sessions, pm, loaded)
    finally:
        loaded.catalog.close()
    return run


def warnings(
    catalog: catalog_mod.Catalog | catalog_mod.Listing | None, pm: TokentrailPluginManager
) -> list[str]:
    """Problems worth telling the user: skipped log lines, parser warnings, plugin failures."""
    lines = []
    if catalog is not None:
        issues = catalog.issues
        if issues.bad_lines or issues.truncated_lines:
            lines.append(
                f"skipped {issues.bad_lines} garbled and {issues.truncated_lines} truncated "
                "log line(s); totals exclude them"
            )
        lines.extend(issues.warnings)
        lines.extend(places.missing_folder_warnings(pm))
    lines.extend(f"plugin {p.plugin} failed in {p.stage}: {p.message}" for p in pm.problems)
    return lines


# --- receipts --------------------------------------------------------------------------------


def _meta(scope: Scope, source: str, pricing: str | list[str]) -> dict[str, Any]:
    return {
        "source": source,
        "repo": str(scope.root),
        "branch": scope.branch,
        "base": scope.base,
        "base_ref": scope.base_ref,
        "base_time": iso(scope.base_time),
        "head": scope.head,
        "pricing": pricing,
    }


def portable_finding(finding: Mapping[str, Any], root: Path | None) -> dict[str, Any]:
    """A finding as receipts, notes and comments carry it."""
    return {k: portable(finding.get(k), root) for k in NOTE_FINDING_KEYS}


def receipt_from_run(run: BranchRun, budget: Budget | None = None) -> dict[str, Any]:
    """The branch receipt from logs: only portable strings, every figure derived once."""
    root = run.scope.root
    by_session: dict[str, list[dict[str, Any]]] = {}
    findings = []
    for f in run.analysis.findings:
        item = portable_finding(f.to_dict(), root)
        by_session.setdefault(f.session, []).append(item)
        findings.append({**item, "session": f.session})
    carries = {sid: portable(carry_mod.summary(c), root) for sid, c in run.analysis.carry.items()}
    doc = from_attribution(
        run.attribution,
        _meta(run.scope, "logs", PRICING_VERSION),
        findings=findings,
        lessons=[lesson.to_dict() for lesson in run.analysis.lessons],
        session_findings=by_session,
        session_carry=carries,
    )
    doc["in_history_requests"] = run.attribution.in_history_requests
    doc["unattributed_sessions"] = run.attribution.unattributed_sessions
    doc["shallow"] = run.scope.shallow
    return finish(doc, budget)


def receipt_from_notes(scope: Scope, ref: str, budget: Budget | None = None) -> dict[str, Any]:
    """The branch receipt from git notes alone (CI has no logs). Every request counts once
    however many notes hold it; lines that cannot be read are counted and named; commits
    without a receipt are listed, never read as $0."""
    notes = read_notes(scope.root, ref, [c.sha for c in scope.commits])
    commit_rows: list[tuple[Mapping[str, Any], list[dict[str, Any]]]] = []
    pricing: set[str] = set()
    missing: list[str] = []
    skipped: Counter[str] = Counter()
    for c in scope.commits:
        parsed = notes.get(c.sha)
        if (parsed is None or not (parsed.lines or parsed.no_sessions)) and not c.merge:
            missing.append(c.sha)
        rows = [line_to_row(line) for line in parsed.lines] if parsed else []
        if parsed:
            skipped.update(parsed.skipped)
        pricing.update(str(r["pricing"]) for r in rows if r.get("pricing"))
        commit_rows.append(({"sha": c.sha, "subject": c.subject, "time": iso(c.time)}, rows))
    commit_rows, duplicates = count_once(commit_rows)
    found: dict[str, Finding] = {}
    for _, rows in commit_rows:
        for row in rows:
            for d in row.get("findings") or []:
                finding = finding_from_dict({**d, "session": row["id"]})
                found.setdefault(finding.id or f"{finding.session}:{finding.title}", finding)
    findings = sorted(found.values(), key=lambda f: (-f.wasted_usd, f.session, f.id))
    doc = branch_receipt(
        _meta(scope, "notes", sorted(pricing)),
        commit_rows,
        [],
        findings=[{**portable_finding(f.to_dict(), None), "session": f.session} for f in findings],
        lessons=[lesson.to_dict() for lesson in build_lessons(findings)],
    )
    doc["notes_ref"] = ref
    doc["commits_without_note"] = len(missing)
    doc["commits_missing_note"] = missing
    doc["note_lines_skipped"] = dict(sorted(skipped.items()))
    doc["duplicate_note_lines"] = duplicates
    doc["shallow"] = scope.shallow
    return finish(doc, budget)


def build_receipt(
    path: Path | None = None,
    base: str | None = None,
    *,
    head: str = "HEAD",
    from_notes: bool = False,
    ref: str | None = None,
    budget: Budget | None = None,
    branch: str | None = None,
) -> dict[str, Any]:
    """The branch receipt for the repository at `path` (or the working directory), with the
    warnings of the run. `head` names the branch tip when it is not HEAD (in CI, HEAD is a
    merge commit); `branch` names the branch when git cannot (a detached CI checkout)."""
    config = load_config()
    scope = find_scope(path, base, head, allow_detached=from_notes)
    scope.branch = scope.branch or branch
    pm = get_plugin_manager()
    if from_notes:
        doc = receipt_from_notes(scope, notes_ref(config, ref), budget)
        doc["warnings"] = warnings(None, pm)
    else:
        run = run_branch(scope, pm, config)
        doc = receipt_from_run(run, budget)
        doc["warnings"] = warnings(run.loaded.catalog, pm)
    doc["plan"] = plan_of(config)
    return doc


# --- lessons -------------------------------------------------------------------------------


def _lessons_doc(
    scope: dict[str, Any], sessions: list[Session], analysis: Analysis, warned: list[str]
) -> dict[str, Any]:
    carry = carry_mod.combine(carry_mod.summary(c) for c in analysis.carry.values())
    findings = [f.to_dict() for f in analysis.findings]
    return {
        "kind": "lessons",
        "scope": scope,
        "sessions": len(sessions),
        "likely_cause": likely_cause(findings, carry),
        "lessons": [lesson.to_dict() for lesson in analysis.lessons],
        "findings": len(findings),
        "wasted_usd": round(sum(f.wasted_usd for f in analysis.findings), 6),
        "warnings": warned,
    }


def lessons_of_branch(
    scope: Scope, pm: TokentrailPluginManager, config: Mapping[str, Any]
) -> dict[str, Any]:
    """The lessons the sessions behind this branch teach."""
    run = run_branch(scope, pm, config)
    where = {"repo": str(scope.root), "branch": scope.branch}
    return _lessons_doc(where, run.sessions, run.analysis, warnings(run.loaded.catalog, pm))


def lessons_of_machine(pm: TokentrailPluginManager, config: Mapping[str, Any]) -> dict[str, Any]:
    """The lessons every session on this machine teaches."""
    loaded = load_sessions(pm, catalog_mod.SessionFilter(), config, keep_open=True)
    try:
        sessions = loaded.catalog.sessions
        analysis = analyze_loaded(sessions, pm, loaded)
    finally:
        loaded.catalog.close()
    return _lessons_doc({"all": True}, sessions, analysis, warnings(loaded.catalog, pm))


# --- one session: the postmortem -----------------------------------------------------------

POSTMORTEM_TOP = 10  # carried files/commands and items a postmortem lists


def _group(
    requests: list[Request], key: Callable[[Request], Hashable], label: str
) -> list[dict[str, Any]]:
    groups: dict[Hashable, list[Request]] = {}
    for r in requests:
        groups.setdefault(key(r), []).append(r)
    return [{label: k, **totals(v)} for k, v in groups.items()]


def _by_model(requests: list[Request]) -> list[dict[str, Any]]:
    """Per model, with which price source priced its requests (a plugin, the config, or
    genai-prices) so an override can be checked."""
    rows = _group(requests, lambda r: r.model, "model")
    for row in rows:
        sources = Counter(
            r.price_source for r in requests if r.model == row["model"] and r.price_source
        )
        row["price_sources"] = dict(sources)
        row.update(agent_cost(r for r in requests if r.model == row["model"]))
    return rows


def breakdown(session: Session) -> dict[str, Any]:
    """One session by model, subagent and log file, with its activity counts."""
    by_file = _group(session.requests, lambda r: r.file_index, "file")
    for row in by_file:
        row["file"] = display(session.paths[row["file"]])
    return {
        "session": session_row(session),
        "by_model": _by_model(session.requests),
        "by_subagent": _group(session.requests, lambda r: r.subagent or "main", "subagent"),
        "by_file": by_file,
        "tool_calls": len(session.tool_calls),
        "tool_errors": sum(c.is_error for c in session.tool_calls),
        "prompts": len(session.prompts),
        "compactions": len(session.compactions),
        "agent_commits": [{"sha": c.sha, "branch": c.branch} for c in session.commits],
        "agent_cost": _agent_cost_detail(session),
        "pr_links": [
            {"number": p.number, "url": p.url, "repository": p.repository, "at": iso(p.timestamp)}
            for p in session.pr_links
        ],
        "rate_limits": _rate_limits(session.rate_limits),
    }


def _agent_cost_detail(session: Session) -> dict[str, Any] | None:
    """What the agent's own running total (Claude Code `cost-state`) says beyond the
    session row's `agent_cost_usd`: its split by model, whether it could price every
    model, and the part of it the transcript does not show (agent total - priced
    transcript). A cross-check, never the number the report bills."""
    if session.agent_cost_usd is None:
        return None
    priced = [r.cost_usd for r in session.requests if r.cost_usd is not None]
    transcript = sum(priced) if priced else None
    return {
        "total_usd": round(session.agent_cost_usd, 6),
        "by_model": {m: round(c, 6) for m, c in session.agent_cost_by_model.items()},
        "unknown_models": session.agent_cost_unknown_models,
        "transcript_usd": round(transcript, 6) if transcript is not None else None,
        "outside_transcript_usd": (
            round(session.agent_cost_usd - transcript, 6) if transcript is not None else None
        ),
    }


def _window(window: RateWindow | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {
        "used_percent": window.used_percent,
        "window_minutes": window.window_minutes,
        "resets_at": iso(window.resets_at),
    }


def _rate_limits(limits: RateLimits | None) -> dict[str, Any] | None:
    """The latest rate-limit usage the agent reported (Codex: 5-hour and weekly windows)."""
    if limits is None:
        return None
    return {
        "primary": _window(limits.primary),
        "secondary": _window(limits.secondary),
        "reported_at": iso(limits.timestamp),
    }


def find_session(sessions: list[Session], session_id: str | None, last: bool) -> Session:
    """The session a full id or a unique id prefix names, or with `last` the one that was
    active most recently."""
    if last == (session_id is not None):
        raise TokentrailError("bad_usage", "give a session id or --last (one of them)")
    if last:
        active = [s for s in sessions if s.requests and (s.end or s.start)]
        if not active:
            raise TokentrailError("session_not_found", "no agent sessions on this machine")
        return max(active, key=lambda s: (s.end or s.start, s.id))
    matches = [s for s in sessions if s.id == session_id]
    matches = matches or [s for s in sessions if s.id.startswith(str(session_id))]
    if not matches:
        raise TokentrailError("session_not_found", f"no session with id {session_id!r}")
    if len(matches) > 1:
        ids = ", ".join(f"{s.agent}:{s.id}" for s in matches[:5])
        raise TokentrailError(
            "ambiguous_session", f"{session_id!r} matches several sessions: {ids}"
        )
    return matches[0]


def postmortem(session: Session, pm: TokentrailPluginManager, pricer: Pricer) -> dict[str, Any]:
    """What one session cost and why: the breakdown, the likely cause, the findings with
    evidence and dollars, the files and commands that burned context, and the lessons.
    Strings from the log are portable (redacted, paths relative to where the agent ran),
    as in a receipt."""
    analysis = analyze([session], pm, pricer)
    root = Path(session.cwd) if session.cwd else None
    findings = [portable_finding(f.to_dict(), root) for f in analysis.findings]
    summary = portable(carry_mod.summary(analysis.carry[session.id], POSTMORTEM_TOP), root)
    carry = carry_mod.combine([summary], POSTMORTEM_TOP)
    billed = carry["billed_usd"] if carry["billed_tokens"] else None
    return {
        **breakdown(session),
        "likely_cause": likely_cause(findings, carry),
        "findings": findings,
        "waste": waste_summary(findings, billed),
        "carry": carry,
        "lessons": [portable(lesson.to_dict(), root) for lesson in analysis.lessons],
    }


SORT_KEYS = ("cost", "waste")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # sessions with no time sort oldest


def sessions_listing(
    flt: catalog_mod.SessionFilter,
    *,
    model: str | None = None,
    sort: str | None = None,
    top: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The `sessions` document: sessions on this machine (filtered; `model` matches any
    model a session used, case-insensitively, by substring), the `limit` most recent of
    them, ranked by cost or by waste (waste runs the detectors), the first `top` shown.
    Totals cover every session considered, not only those shown."""
    if sort is not None and sort not in SORT_KEYS:
        raise TokentrailError("bad_usage", f"--sort takes one of {', '.join(SORT_KEYS)}")
    pm = get_plugin_manager()
    if sort != "waste":  # the rows and totals the index keeps are enough
        return _listing_from_index(pm, flt, model=model, sort=sort, top=top, limit=limit)
    loaded = load_sessions(pm, flt, load_config(), keep_open=True)
    try:
        return _ranked_by_waste(pm, loaded, model=model, top=top, limit=limit)
    finally:
        loaded.catalog.close()


def _ranked_by_waste(
    pm: TokentrailPluginManager,
    loaded: Loaded,
    *,
    model: str | None,
    top: int | None,
    limit: int | None,
) -> dict[str, Any]:
    """`sessions --sort waste`: the detectors run over the chosen sessions."""
    found = loaded.catalog
    chosen = found.sessions
    if model:
        wanted = model.lower()
        chosen = [s for s in chosen if any(wanted in m.lower() for m in s.model_mix)]
    if limit is not None:
        recent = sorted(chosen, key=lambda s: s.end or s.start or EPOCH)
        keep = {id(s) for s in recent[-limit:]} if limit > 0 else set()
        chosen = [s for s in chosen if id(s) in keep]
    rows = [session_row(s) for s in chosen]
    analysis = analyze_loaded(chosen, pm, loaded)
    for row, session in zip(rows, chosen):
        mine = [f.to_dict() for f in analysis.findings if f.session == session.id]
        root = Path(session.cwd) if session.cwd else None
        summary = portable(carry_mod.summary(analysis.carry[session.id]), root)
        portable_mine = [portable_finding(f, root) for f in mine]
        row["wasted_usd"] = round(sum(f["wasted_usd"] for f in mine), 6)
        row["findings"] = len(mine)
        row["likely_cause"] = likely_cause(portable_mine, carry_mod.combine([summary]))
    rows.sort(key=lambda r: (r["wasted_usd"] is None, -(r["wasted_usd"] or 0.0)))
    everything = [r for s in chosen for r in s.requests]
    return {
        "kind": "sessions",
        "pricing": PRICING_VERSION,
        "adapters": found.adapters,
        "searched": catalog_mod.searched_places(pm),
        "sort": "waste",
        "sessions": rows[:top] if top is not None else rows,
        "totals": {"sessions": len(rows), **totals(everything)},
        "kept_after_deletion": found.kept_deleted,
        "skipped": {
            "bad_lines": found.issues.bad_lines,
            "truncated_lines": found.issues.truncated_lines,
            "duplicate_requests": found.duplicate_requests,
        },
        "warnings": warnings(found, pm),
    }


def _row_time(row: Mapping[str, Any]) -> datetime:
    text = row.get("end") or row.get("start")
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else EPOCH


def _listing_from_index(
    pm: TokentrailPluginManager,
    flt: catalog_mod.SessionFilter,
    *,
    model: str | None,
    sort: str | None,
    top: int | None,
    limit: int | None,
) -> dict[str, Any]:
    """`sessions_listing` without the detectors: the same choice of sessions (by model,
    the `limit` most recent), made on the listing rows the index keeps."""

    def choose(rows: list[dict[str, Any]]) -> list[int]:
        picked = list(range(len(rows)))
        if model:
            wanted = model.lower()
            picked = [i for i in picked if any(wanted in m.lower() for m in rows[i]["models"])]
        if limit is not None:
            recent = sorted(picked, key=lambda i: _row_time(rows[i]))
            keep = set(recent[-limit:]) if limit > 0 else set()
            picked = [i for i in picked if i in keep]
        return picked

    found = catalog_mod.listing(pm, flt, load_config(), choose, progress.current())
    rows = list(found.rows)
    if sort is not None:
        rows.sort(key=lambda r: (r["cost_usd"] is None, -(r["cost_usd"] or 0.0)))
    return {
        "kind": "sessions",
        "pricing": PRICING_VERSION,
        "adapters": found.adapters,
        "searched": catalog_mod.searched_places(pm),
        "sort": sort,
        "sessions": rows[:top] if top is not None else rows,
        "totals": found.totals,
        "kept_after_deletion": found.kept_deleted,
        "skipped": {
            "bad_lines": found.issues.bad_lines,
            "truncated_lines": found.issues.truncated_lines,
            "duplicate_requests": found.duplicate_requests,
            "repaired_lines": found.issues.repaired_lines,
            "implausible_values": found.issues.implausible_values,
            "wrong_types": found.issues.wrong_types,
            "bad_records": found.issues.bad_records,
            "replayed_events": found.issues.replayed_events,
            "files": found.issues.skipped_files,
        },
        "warnings": warnings(found, pm),
    }


def session_postmortem(
    session_id: str | None = None,
    *,
    last: bool = False,
    flt: catalog_mod.SessionFilter | None = None,
) -> dict[str, Any]:
    """The `session` document: one session (by id or prefix, or the last one active)
    through the whole pipeline, with the run's warnings."""
    config = load_config()
    pm = get_plugin_manager()
    loaded = load_sessions(pm, flt or catalog_mod.SessionFilter(), config)
    session = find_session(loaded.catalog.sessions, session_id, last)
    doc = {"kind": "session", "pricing": PRICING_VERSION, **postmortem(session, pm, loaded.pricer)}
    doc["warnings"] = warnings(loaded.catalog, pm)
    return doc


# --- notes -----------------------------------------------------------------------------------


def _scope_for(path: Path | None, base: str | None, sha: str) -> Scope:
    """The branch scope, or for a commit outside it (say, straight on main) the scope
    `sha^..HEAD` so the commit still gets what went into it."""
    scope = find_scope(path, base)
    if any(c.sha == sha for c in scope.commits) or base:
        return scope
    try:
        return find_scope(path, f"{sha}^")
    except TokentrailError:
        return scope


UNNOTED_LOOKBACK = 50  # commits searched back for the last receipt on the default branch


def _unnoted_scope(path: Path | None, base: str | None, ref: str) -> Scope:
    """The commits `note` (and the post-commit hook) should hold receipts for: the branch,
    or on the default branch (where base..HEAD is empty) everything since the last commit
    that has a note."""
    scope = find_scope(path, base)
    if scope.commits or base:
        return scope
    ancestors = run_git(
        scope.root, "rev-list", "--first-parent", f"--max-count={UNNOTED_LOOKBACK}", "HEAD"
    ).split()
    noted = read_notes(scope.root, ref, ancestors)
    start = next((sha for sha in ancestors if sha in noted), None)
    if start == ancestors[0]:
        return scope  # HEAD already has its receipt
    # from the last receipt; else as far back as the look-back goes (the root commit of a
    # short history is its own base: an initial commit holds no agent work)
    since = start or (f"{ancestors[-1]}^" if len(ancestors) == UNNOTED_LOOKBACK else ancestors[-1])
    try:
        return find_scope(path, since)
    except TokentrailError:
        return scope


def note_commits(
    path: Path | None,
    rev: str | None = None,
    spec: str | None = None,
    base: str | None = None,
    ref: str | None = None,
) -> dict[str, Any]:
    """Write receipts into notes: for REV, for every commit of `spec`, or (neither given)
    for every commit of the branch that has none yet — commits that arrived by pull, merge
    or rebase included. Re-noting never counts a request twice (note lines name their
    requests), and all notes go in one compare-and-swap write."""
    config = load_config()
    notes = notes_ref(config, ref)
    if spec:
        root, wanted = range_commits(path, spec)
        shas = [c.sha for c in wanted]
        scope = find_scope(path, base)
    elif rev:
        root, sha = resolve_rev(path, rev)
        shas = [sha]
        scope = _scope_for(path, base, sha)
    else:
        scope = _unnoted_scope(path, base, notes)
        root = scope.root
        have = read_notes(root, notes, [c.sha for c in scope.commits])
        shas = [c.sha for c in scope.commits if c.sha not in have or c.sha == scope.head]
    pm = get_plugin_manager()
    run = run_branch(scope, pm, config, ref=notes)
    doc = receipt_from_run(run)
    rows_by_commit = {c["sha"]: c["sessions"] for c in doc["commits"]}
    results: list[dict[str, Any]] = []
    writes: dict[str, list[dict[str, Any]]] = {}
    for sha in shas:
        if sha not in rows_by_commit:
            results.append({"sha": sha, "status": "not_on_branch", "written": 0, "in_note": 0})
            continue
        rows = rows_by_commit[sha]
        lines = [
            note_line(sha, {**r, "branch": scope.branch}, pricing=PRICING_VERSION) for r in rows
        ]
        writes[sha] = lines or [no_sessions_line(sha)]
        results.append(
            {"sha": sha, "status": "written" if rows else "no_sessions", "written": len(lines)}
        )
    empty = [r["sha"] for r in results if r["status"] == "no_sessions"]
    originals = originals_of(root, notes, empty) if empty else {}
    if originals:
        noted = read_notes(root, notes, originals.values())
        for result in results:
            original = originals.get(result["sha"])
            lines = noted[original].lines if original in noted else []
            if lines:
                writes[result["sha"]] = combine([lines], result["sha"])
                result.update(status="carried", written=len(lines), original=original)
    held = write_notes(root, notes, writes) if writes else {}
    for result in results:
        result["in_note"] = held.get(str(result["sha"]), 0)
    return {
        "kind": "note",
        "ref": notes,
        "branch": scope.branch,
        "commits": results,
        "warnings": warnings(run.loaded.catalog, pm),
    }
