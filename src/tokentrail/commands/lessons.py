"""`tokentrail lessons`: the reusable rules the waste on this branch (or everywhere) teaches,
ranked by money saved; `--write FILE` keeps them in a marked block of AGENTS.md/CLAUDE.md."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import click

from tokentrail import catalog as catalog_mod
from tokentrail.commands.common import dump_json, handle_errors, json_option, warn_about
from tokentrail.config import load_config
from tokentrail.detect import analyze
from tokentrail.errors import TokentrailError
from tokentrail.figures import envelope
from tokentrail.lessons import DEFAULT_LIMIT, write_block
from tokentrail.model import Session
from tokentrail.plugins import TokentrailPluginManager, get_plugin_manager


def _git(*args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise TokentrailError("git_unavailable", f"cannot run git: {exc}") from exc
    if proc.returncode != 0:
        raise TokentrailError(
            "not_a_repo",
            "not inside a git repository (run it in one, or use --all for every session)",
        )
    return proc.stdout.strip()


def branch_sessions(
    pm: TokentrailPluginManager, config: dict[str, Any]
) -> tuple[list[Session], dict[str, Any], catalog_mod.Catalog]:
    """The sessions behind the current branch: run inside this repository, with requests
    logged on this branch name. (One place to swap in the report's attribution later.)"""
    root = Path(_git("rev-parse", "--show-toplevel"))
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    found = catalog_mod.load(pm, catalog_mod.SessionFilter(repo=root), config)
    chosen = [s for s in found.sessions if any(r.branch == branch for r in s.requests)]
    return chosen, {"repo": str(root), "branch": branch}, found


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
    if all_sessions:
        found = catalog_mod.load(pm, catalog_mod.SessionFilter(), config)
        chosen, scope = found.sessions, {"all": True}
    else:
        chosen, scope, found = branch_sessions(pm, config)
    result = analyze(chosen, pm, config)
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
        click.echo(dump_json(envelope(**doc)))
        return
    click.echo(_text(doc))


def _text(doc: dict[str, Any]) -> str:
    where = "all sessions" if doc["scope"].get("all") else f"branch {doc['scope']['branch']}"
    lines = [f"Lessons from {doc['sessions']} session(s) on {where} (API-equivalent $):"]
    if not doc["lessons"]:
        lines.append("  no wasteful patterns found")
    for n, lesson in enumerate(doc["lessons"], 1):
        lines.append(f"{n:>3}. {lesson['text']}")
        lines.append(f"     saves ~${lesson['saved_usd']:.2f} ({lesson['count']} finding(s))")
    if doc["sessions"]:
        lines.append(f"Likely cause: {doc['likely_cause']}")
    if "written" in doc:
        state = "updated" if doc["written"]["changed"] else "already up to date"
        lines.append(f"{doc['written']['path']}: lessons block {state}")
    return "\n".join(lines)
