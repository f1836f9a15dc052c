"""`tokentrail note`: write each commit's receipt into git notes (the post-commit hook runs
this for the new commit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tokentrail.commands.common import echo, emit, handle_errors, json_option, warn_about
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.escape import plain
from tokentrail.notes import host_id, note_line, notes_ref, write_note
from tokentrail.pipeline import findings_by_session, run_branch
from tokentrail.plugins import get_plugin_manager
from tokentrail.pricing import PRICING_VERSION
from tokentrail.receipt import part_row
from tokentrail.scope import Scope, find_scope, range_commits, resolve_rev


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


def write_notes(
    path: Path | None,
    rev: str | None,
    spec: str | None,
    base: str | None,
    ref: str | None,
    as_json: bool = True,
) -> dict[str, Any]:
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
    attribution, catalog = run.attribution, run.catalog
    by_session = findings_by_session(run.analysis)
    host = host_id()
    results = []
    for sha in shas:
        if sha not in attribution.commits:
            results.append({"sha": sha, "status": "not_on_branch", "written": 0, "in_note": 0})
            continue
        rows = [part_row(p, by_session.get(p.session.id)) for p in attribution.commits[sha]]
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
        "warnings": warn_about(catalog, pm, as_json),
    }


@click.command()
@click.argument("rev", required=False)
@click.option("--range", "spec", help="Every commit of A..B instead of one REV.")
@click.option("--base", help="Base revision (default: merge-base with the default branch).")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing unless something failed.")
@json_option
@handle_errors
def note(
    rev: str | None,
    spec: str | None,
    base: str | None,
    ref: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Write the receipt of REV (default HEAD) into git notes, keeping what they held."""
    if rev and spec:
        raise TokentrailError("bad_usage", "give either REV or --range A..B, not both")
    doc = write_notes(None, rev, spec, base, ref, as_json)
    if as_json:
        emit(doc, True)
        return
    if quiet:
        return
    for r in doc["commits"]:
        short = r["sha"][:7]
        if r["status"] == "written":
            echo(
                f"{short}: wrote {r['written']} session(s); the note holds {r['in_note']} "
                f"({doc['ref']})"
            )
        elif r["status"] == "no_sessions":
            echo(f"{short}: no agent sessions went into this commit; no note written")
        else:
            echo(f"{short}: not on branch {plain(doc['branch'])} beyond its base; skipped")
