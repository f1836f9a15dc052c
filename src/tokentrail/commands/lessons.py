"""`tokentrail lessons`: the reusable rules the waste on this branch (or everywhere) teaches,
ranked by money saved; `--write FILE` keeps them in a marked block of AGENTS.md/CLAUDE.md."""

from __future__ import annotations

from pathlib import Path

import click

from tokentrail.commands.common import emit, handle_errors, output_options
from tokentrail.config import load_config
from tokentrail.lessons import DEFAULT_LIMIT, write_block
from tokentrail.pipeline import lessons_of_branch, lessons_of_machine
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
@output_options
@handle_errors
def lessons(
    all_sessions: bool, write_to: Path | None, limit: int, as_json: bool, fmt: str | None
) -> None:
    """Reusable rules from the waste found on this branch (or --all), biggest saving first."""
    pm = get_plugin_manager()
    config = load_config()
    if all_sessions:
        doc = lessons_of_machine(pm, config)
    else:
        doc = lessons_of_branch(find_scope(None, None), pm, config)
    ranked = doc["lessons"][: max(limit, 0)]
    doc["lessons"] = ranked
    if write_to:
        changed = write_block(write_to, [str(lesson["text"]) for lesson in ranked], limit)
        doc["written"] = {"path": str(write_to), "changed": changed}
    emit(doc, as_json, fmt)
