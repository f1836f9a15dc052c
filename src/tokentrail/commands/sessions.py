"""`tokentrail sessions`: every agent session on this machine, one row each, optionally
ranked by cost or waste."""

from __future__ import annotations

from pathlib import Path

import click

from tokentrail import catalog as catalog_mod
from tokentrail.commands.common import (
    agent_option,
    check_agent,
    emit,
    handle_errors,
    output_options,
    parse_when,
)
from tokentrail.pipeline import SORT_KEYS, sessions_listing
from tokentrail.plugins import get_plugin_manager


@click.command()
@agent_option
@click.option("--since", help="Sessions active on or after: 2026-02-23, ISO time, or 7d/12h.")
@click.option("--until", help="Sessions started on or before this time.")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Only sessions that ran inside this folder.",
)
@click.option("--model", metavar="NAME", help="Only sessions that used a model matching NAME.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only the N sessions active most recently.",
)
@click.option(
    "--sort",
    type=click.Choice(SORT_KEYS),
    help="Rank by cost, or by waste (runs the detectors), largest first.",
)
@click.option("--top", type=click.IntRange(min=1), metavar="N", help="Show the first N rows.")
@output_options
@handle_errors
def sessions(
    agent: str | None,
    since: str | None,
    until: str | None,
    repo: Path | None,
    model: str | None,
    limit: int | None,
    sort: str | None,
    top: int | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """List sessions with tokens by kind and cost. With no filter, lists all of them."""
    check_agent(get_plugin_manager(), agent)
    flt = catalog_mod.SessionFilter(
        agent=agent, since=parse_when(since), until=parse_when(until, end_of_day=True), repo=repo
    )
    doc = sessions_listing(flt, model=model, sort=sort, top=top, limit=limit)
    emit(doc, as_json, fmt)
