"""The one pipeline: scope → discover → parse → attribute → price → detect → lessons → receipt.

Every command that needs sessions or a receipt comes here, so the stages are wired once and
the data flows one way. Nothing here prints: problems travel in the results (`warnings`)
and the command decides where they go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokentrail import carry as carry_mod
from tokentrail import catalog as catalog_mod
from tokentrail import places, progress
from tokentrail.attribute import Attribution, attribute
from tokentrail.budget import Budget
from tokentrail.cause import likely_cause
from tokentrail.config import load_config
from tokentrail.detect import Analysis, analyze, finding_from_dict
from tokentrail.errors import TokentrailError
from tokentrail.figures import iso
from tokentrail.lessons import build_lessons
from tokentrail.model import Finding, Session
from tokentrail.notes import host_id, line_to_row, note_line, notes_ref, read_note, write_note
from tokentrail.plugins import TokentrailPluginManager, get_plugin_manager
from tokentrail.pricing import PRICING_VERSION, Pricer
from tokentrail.privacy import portable
from tokentrail.receipt import branch_receipt, finish, from_attribution
from tokentrail.scope import Scope, find_scope, range_commits, resolve_rev

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
    pm: TokentrailPluginManager, flt: catalog_mod.SessionFilter, config: Mapping[str, Any]
) -> Loaded:
    """Discover → parse → dedup (catalog) → price."""
    catalog = catalog_mod.load(pm, flt, progress=progress.current())
    pricer = Pricer(pm, config)
    pricer.price_sessions(catalog.sessions)
    return Loaded(catalog, pricer)


def run_branch(
    scope: Scope, pm: TokentrailPluginManager, config: Mapping[str, Any], *, detect: bool = True
) -> BranchRun:
    """The sessions of the repository, attributed to the branch's commits, then detected."""
    loaded = load_sessions(pm, catalog_mod.SessionFilter(repo=scope.root), config)
    run = BranchRun(scope, loaded, attribute(scope, loaded.catalog.sessions))
    if detect:
        run.analysis = analyze(run.sessions, pm, loaded.pricer)
    return run


def warnings(catalog: catalog_mod.Catalog | None, pm: TokentrailPluginManager) -> list[str]:
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
    return finish(doc, budget)


def receipt_from_notes(scope: Scope, ref: str, budget: Budget | None = None) -> dict[str, Any]:
    """The branch receipt from git notes alone (CI has no logs)."""
    commit_rows = []
    pricing: set[str] = set()
    missing: list[str] = []
    for c in scope.commits:
        rows = [line_to_row(line) for line in read_note(scope.root, ref, c.sha)]
        if not rows:
            missing.append(c.sha)
        pricing.update(str(r["pricing"]) for r in rows if r.get("pricing"))
        commit_rows.append(({"sha": c.sha, "subject": c.subject, "time": iso(c.time)}, rows))
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
        return doc
    run = run_branch(scope, pm, config)
    doc = receipt_from_run(run, budget)
    doc["warnings"] = warnings(run.loaded.catalog, pm)
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
    loaded = load_sessions(pm, catalog_mod.SessionFilter(), config)
    sessions = loaded.catalog.sessions
    analysis = analyze(sessions, pm, loaded.pricer)
    return _lessons_doc({"all": True}, sessions, analysis, warnings(loaded.catalog, pm))


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


def note_commits(
    path: Path | None,
    rev: str | None = None,
    spec: str | None = None,
    base: str | None = None,
    ref: str | None = None,
) -> dict[str, Any]:
    """Write the receipts of REV (default HEAD) or of every commit of `spec` into notes."""
    config = load_config()
    notes = notes_ref(config, ref)
    if spec:
        root, wanted = range_commits(path, spec)
        shas = [c.sha for c in wanted]
        scope = find_scope(path, base)
    else:
        root, sha = resolve_rev(path, rev or "HEAD")
        shas = [sha]
        scope = _scope_for(path, base, sha)
    pm = get_plugin_manager()
    run = run_branch(scope, pm, config)
    doc = receipt_from_run(run)
    rows_by_commit = {c["sha"]: c["sessions"] for c in doc["commits"]}
    host = host_id()
    results = []
    for sha in shas:
        if sha not in rows_by_commit:
            results.append({"sha": sha, "status": "not_on_branch", "written": 0, "in_note": 0})
            continue
        rows = rows_by_commit[sha]
        if not rows:
            results.append({"sha": sha, "status": "no_sessions", "written": 0, "in_note": 0})
            continue
        lines = [note_line(sha, r, host=host, pricing=PRICING_VERSION) for r in rows]
        held = write_note(root, notes, sha, lines)
        results.append({"sha": sha, "status": "written", "written": len(lines), "in_note": held})
    return {
        "kind": "note",
        "ref": notes,
        "branch": scope.branch,
        "commits": results,
        "warnings": warnings(run.loaded.catalog, pm),
    }
