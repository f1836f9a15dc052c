"""`tokentrail rollup`: what agent work cost across a team's repositories, from their notes."""

from __future__ import annotations

from pathlib import Path

import click

from tokentrail.commands.common import (
    emit,
    handle_errors,
    json_option,
    parse_when,
    renderer,
    write_page,
)
from tokentrail.commands.notes import fetch_notes, pick_remote
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.figures import envelope
from tokentrail.notes import notes_ref
from tokentrail.plugins import get_plugin_manager
from tokentrail.rollup import BREAKDOWNS, build_rollup
from tokentrail.scope import open_repo, repo_root, run_git


def repo_paths(given: tuple[str, ...]) -> list[Path]:
    """Folders as given; a file names one folder per line (`#` comments, blank lines, paths
    relative to the file's own folder)."""
    out: list[Path] = []
    for item in given or (".",):
        path = Path(item)
        if path.is_file():
            try:
                listing = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TokentrailError(
                    "repo_list_unreadable", f"cannot read {path}: {exc}"
                ) from None
            for line in listing.splitlines():
                entry = line.split("#", 1)[0].strip()
                if entry:
                    target = Path(entry).expanduser()
                    out.append(target if target.is_absolute() else path.parent / target)
        else:
            out.append(path)
    return out


def fetch_all(paths: list[Path], ref: str) -> dict[str, str]:
    """Fetch each repository's branches and notes from its remote: what happened, per root."""
    status: dict[str, str] = {}
    for path in paths:
        root = repo_root(open_repo(path))
        try:
            remote = pick_remote(root, None)
        except TokentrailError as exc:
            status[str(root)] = f"not fetched: {exc.message}"
            continue
        run_git(root, "fetch", "--quiet", remote)
        status[str(root)] = f"{remote}: notes {fetch_notes(root, ref, remote)}"
    return status


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
@json_option
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
) -> None:
    """Totals and breakdowns over the notes of REPOS (folders, or files listing them; default:
    this repository) by repository, author, agent, model, week and PR. Needs no logs."""
    if as_json and markdown:
        raise TokentrailError("bad_usage", "--json and --markdown ask for two formats")
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
        page = renderer(get_plugin_manager(), "html").render(envelope(**doc))
        write_page(html_file, page)
    emit(doc, as_json, "markdown" if markdown else None)
