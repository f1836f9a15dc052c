"""`tokentrail install` / `uninstall`: the thin git hooks and notes.rewriteRef."""

from __future__ import annotations

from typing import Any

import click

from tokentrail.commands.common import echo, emit, handle_errors, json_option
from tokentrail.config import load_config
from tokentrail.escape import plain
from tokentrail.githooks import install as do_install
from tokentrail.githooks import uninstall as do_uninstall
from tokentrail.notes import notes_ref
from tokentrail.scope import open_repo, repo_root


def _print(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(doc, True)
        return
    for hook in doc["hooks"]:
        echo(f"{hook['hook']}: {hook['status']} ({plain(hook['path'])})")
    if doc["kind"] == "install":
        echo(f"notes.rewriteRef {doc['rewrite_ref']}: {doc['rewrite_ref_status']}")
    else:
        echo(f"notes.rewriteRef: {doc['rewrite_ref_status']}")


@click.command()
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@json_option
@handle_errors
def install(ref: str | None, as_json: bool) -> None:
    """Install the post-commit and pre-push hooks (chaining existing ones)."""
    root = repo_root(open_repo(None))
    _print(do_install(root, notes_ref(load_config(), ref)), as_json)


@click.command()
@json_option
@handle_errors
def uninstall(as_json: bool) -> None:
    """Remove tokentrail's hooks and restore the hooks that were there before."""
    root = repo_root(open_repo(None))
    _print(do_uninstall(root), as_json)
