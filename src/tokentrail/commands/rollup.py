"""`tokentrail rollup`: what agent work cost across a team's repositories, from their notes."""

from __future__ import annotations

from pathlib import Path

import click

from tokentrail.commands.common import (
    emit,
    format_name,
    handle_errors,
    output_options,
    parse_when,
    render,
    write_page,
)
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.notes import notes_ref
from tokentrail.rollup import BREAKDOWNS, build_rollup, fetch_all, repo_paths


@click.command()
@click.argument("repos", nargs=-1)
@click.option("--fetch", is_flag=True, help="Fetch each repository's branches and notes first.")
@click.option("--since", help="Work on or after: 2026-02-23, an ISO time, or 30d.")
@click.option("--until", help="Work on or before this time.")
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(BREAKDOWNS),
    help="Breakdowns to show (repeatable; default: all). --json always holds all of them.",
)
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@click.option("--markdown", is_flag=True, help="Print a Markdown digest (for a weekly note).")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the roll-up as a standalone HTML page to this file.",
)
@output_options
@handle_errors
def rollup(
    repos: tuple[str, ...],
    fetch: bool,
    since: str | None,
    until: str | None,
    by: tuple[str, ...],
    ref: str | None,
    markdown: bool,
    html_file: Path | None,
    as_json: bool,
    fmt: str | None,
) -> None:
    """Totals and breakdowns over the notes of REPOS (folders, or files listing them; default:
    this repository) by repository, author, agent, model, week and PR. Needs no logs."""
    if markdown:
        fmt = format_name(as_json, fmt or "markdown")
        if fmt != "markdown":
            raise TokentrailError("bad_usage", f"--markdown and --format {fmt} ask for two formats")
    paths = repo_paths(repos)
    notes = notes_ref(load_config(), ref)
    fetched = fetch_all(paths, notes) if fetch else None
    doc = build_rollup(
        paths,
        notes,
        since=parse_when(since),
        until=parse_when(until, end_of_day=True),
        fetched=fetched,
    )
    doc["show"] = list(by) or list(BREAKDOWNS)
    if html_file is not None:
        write_page(html_file, render(doc, "html") + "\n")
    emit(doc, as_json, fmt)
