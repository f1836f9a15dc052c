"""`tokentrail sessions`: every agent session on this machine, one row each."""

from __future__ import annotations

from pathlib import Path

import click

from tokentrail import catalog as catalog_mod
from tokentrail.commands.common import emit, handle_errors, json_option, parse_when, warn_about
from tokentrail.config import load_config
from tokentrail.figures import session_row, totals
from tokentrail.plugins import get_plugin_manager
from tokentrail.pricing import PRICING_VERSION


@click.command()
@click.option("--agent", help="Only this agent (e.g. claude-code, codex).")
@click.option("--since", help="Sessions active on or after: 2026-02-23, ISO time, or 7d/12h.")
@click.option("--until", help="Sessions started on or before this time.")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Only sessions that ran inside this folder.",
)
@click.option("--format", "fmt", help="Renderer to use (default: text).")
@json_option
@handle_errors
def sessions(
    agent: str | None,
    since: str | None,
    until: str | None,
    repo: Path | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """List sessions with tokens by kind and cost. With no filter, lists all of them."""
    pm = get_plugin_manager()
    flt = catalog_mod.SessionFilter(
        agent=agent, since=parse_when(since), until=parse_when(until, end_of_day=True), repo=repo
    )
    found = catalog_mod.load(pm, flt, load_config())
    rows = [session_row(s) for s in found.sessions]
    everything = [r for s in found.sessions for r in s.requests]
    doc = {
        "kind": "sessions",
        "pricing": PRICING_VERSION,
        "adapters": found.adapters,
        "searched": catalog_mod.searched_places(pm),
        "sessions": rows,
        "totals": {"sessions": len(rows), **totals(everything)},
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
    }
    doc["warnings"] = warn_about(found, pm, as_json)
    emit(doc, as_json, fmt)
