"""`tokentrail install` / `uninstall`: the thin git hooks and notes.rewriteRef."""

from __future__ import annotations

import click

from tokentrail.commands.common import emit, handle_errors, output_options
from tokentrail.config import load_config
from tokentrail.githooks import install as do_install
from tokentrail.githooks import uninstall as do_uninstall
from tokentrail.notes import notes_ref
from tokentrail.scope import open_repo


@click.command()
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@output_options
@handle_errors
def install(ref: str | None, as_json: bool, fmt: str | None) -> None:
    """Install the post-commit and pre-push hooks (chaining existing ones)."""
    root = open_repo(None).root
    emit(do_install(root, notes_ref(load_config(), ref)), as_json, fmt)


@click.command()
@output_options
@handle_errors
def uninstall(as_json: bool, fmt: str | None) -> None:
    """Remove tokentrail's hooks and restore the hooks that were there before."""
    root = open_repo(None).root
    emit(do_uninstall(root), as_json, fmt)
