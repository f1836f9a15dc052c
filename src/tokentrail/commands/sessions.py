"""`tokentrail sessions`: every agent session on this machine, one row each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tokentrail import catalog as catalog_mod
from tokentrail import places
from tokentrail.commands.common import (
    agent_option,
    check_agent,
    emit,
    handle_errors,
    output_options,
    parse_when,
)
from tokentrail.config import load_config
from tokentrail.figures import session_row, totals
from tokentrail.pipeline import load_sessions, warnings
from tokentrail.plugins import get_plugin_manager
from tokentrail.pricing import PRICING_VERSION


@click.command()
@agent_option
@click.option("--since", help="Sessions active on or after: 2026-02-23, ISO time, or 7d/12h.")
@click.option("--until", help="Sessions started on or before this time.")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Only sessions that ran inside this folder.",
)
@output_options
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
    check_agent(pm, agent)
    flt = catalog_mod.SessionFilter(
        agent=agent, since=parse_when(since), until=parse_when(until, end_of_day=True), repo=repo
    )
    found = load_sessions(pm, flt, load_config()).catalog
    rows = [session_row(s) for s in found.sessions]
    given = {
        flag: str(value)
        for flag, value in (("--agent", agent), ("--since", since), ("--until", until),
                            ("--repo", repo))
        if value is not None
    }
    everything = [r for s in found.sessions for r in s.requests]
    doc: dict[str, Any] = {
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
        },
        "warnings": warnings(found, pm),
    }
    if not rows:
        doc["filters"] = places.emptied_by(pm, flt, given)
    emit(doc, as_json, fmt)
