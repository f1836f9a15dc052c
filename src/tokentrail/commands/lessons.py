"""`tokentrail lessons`: the reusable rules the waste on this branch (or everywhere) teaches,
ranked by money saved; `--write FILE` keeps them in a marked block of AGENTS.md/CLAUDE.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tokentrail import catalog as catalog_mod
from tokentrail.commands.common import dump_json, echo, handle_errors, json_option, warn_about
from tokentrail.config import load_config
from tokentrail.detect import analyze
from tokentrail.escape import plain
from tokentrail.figures import envelope
from tokentrail.lessons import DEFAULT_LIMIT, write_block
from tokentrail.pipeline import run_branch
from tokentrail.plugins import get_plugin_manager
from tokentrail.scope import find_scope


@click.command()
@click.option("--all", "all_sessions", is_flag=True, help="Every session on this machine.")
@click.option(
    "--write",
    "write_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the lessons in a marked block of this file (AGENTS.md, CLAUDE.md).",
)
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, help="Lessons to show/write.")
@json_option
@handle_errors
def lessons(all_sessions: bool, write_to: Path | None, limit: int, as_json: bool) -> None:
    """Reusable rules from the waste found on this branch (or --all), biggest saving first."""
    pm = get_plugin_manager()
    config = load_config()
    scope: dict[str, Any]
    if all_sessions:
        found = catalog_mod.load(pm, catalog_mod.SessionFilter(), config)
        chosen, scope = found.sessions, {"all": True}
        result = analyze(chosen, pm, config)
    else:  # the sessions the branch receipt attributes to this branch
        run = run_branch(find_scope(None, None), pm, config)
        found, result = run.catalog, run.analysis
        chosen = [part.session for part in run.attribution.sessions]
        scope = {"repo": str(run.scope.root), "branch": run.scope.branch}
    ranked = result.lessons[: max(limit, 0)]
    changed = write_block(write_to, ranked, limit) if write_to else None
    doc: dict[str, Any] = {
        "kind": "lessons",
        "scope": scope,
        "sessions": len(chosen),
        "likely_cause": result.likely_cause,
        "lessons": [lesson.to_dict() for lesson in ranked],
        "findings": len(result.findings),
        "wasted_usd": round(sum(f.wasted_usd for f in result.findings), 6),
    }
    if write_to:
        doc["written"] = {"path": str(write_to), "changed": changed}
    doc["warnings"] = warn_about(found, pm, as_json)
    if as_json:
        echo(dump_json(envelope(**doc)), json=True)
        return
    echo(_text(doc))


def _text(doc: dict[str, Any]) -> str:
    where = "all sessions" if doc["scope"].get("all") else f"branch {plain(doc['scope']['branch'])}"
    lines = [f"Lessons from {doc['sessions']} session(s) on {where} (API-equivalent $):"]
    if not doc["lessons"]:
        lines.append("  no wasteful patterns found")
    for n, lesson in enumerate(doc["lessons"], 1):
        lines.append(f"{n:>3}. {plain(lesson['text'])}")
        lines.append(f"     saves ~${lesson['saved_usd']:.2f} ({lesson['count']} finding(s))")
    if doc["sessions"]:
        lines.append(f"Likely cause: {plain(doc['likely_cause'])}")
    if "written" in doc:
        state = "updated" if doc["written"]["changed"] else "already up to date"
        lines.append(f"{plain(doc['written']['path'])}: lessons block {state}")
    return "\n".join(lines)
