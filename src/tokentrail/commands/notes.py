"""`tokentrail notes push|fetch|carry`: move receipts between machines and across merges.

Fetch goes into `refs/notes/remotes/<remote>/<name>` and is merged with `cat_sort_uniq`,
which is a clean union for our one-line-per-session notes; push fetches first so it is
always a fast-forward. `carry` copies the notes of a PR's commits onto the commit a squash
or rebase merge produced (hosting-side merges drop notes).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from tokentrail.commands.common import echo, emit, handle_errors, output_options
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.notes import (
    combine,
    fetch_notes,
    notes_ref,
    pick_remote,
    push_notes,
    read_note,
    write_note,
)
from tokentrail.scope import open_repo, range_commits, resolve_rev


def _root() -> Path:
    return open_repo(None).root


@click.group("notes")
def notes_group() -> None:
    """Share receipts through git notes: push, fetch, carry."""


@notes_group.command("fetch")
@click.argument("remote", required=False)
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@output_options
@handle_errors
def fetch(remote: str | None, ref: str | None, as_json: bool, fmt: str | None) -> None:
    """Fetch REMOTE's notes (default: upstream or origin) and merge them into yours."""
    root = _root()
    notes = notes_ref(load_config(), ref)
    name = pick_remote(root, remote)
    status = fetch_notes(root, notes, name)
    emit({"kind": "notes_fetch", "remote": name, "ref": notes, "status": status}, as_json, fmt)


HOOK_TIMEOUT = 20.0  # seconds the pre-push hook may spend on notes before the push goes on


@notes_group.command("push")
@click.argument("remote", required=False)
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@click.option(
    "--hook",
    is_flag=True,
    help="Run as the pre-push hook: push unless notes.push is false in .tokentrail.yml, "
    "within --timeout, and always exit 0 (a failure is explained, never blocks the push).",
)
@click.option(
    "--if-configured",
    is_flag=True,
    help="Only push when notes.push is true in .tokentrail.yml (hooks installed before --hook).",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help=f"Give up after this many seconds (default with --hook: {HOOK_TIMEOUT:g}).",
)
@output_options
@handle_errors
def push(
    remote: str | None,
    ref: str | None,
    hook: bool,
    if_configured: bool,
    timeout: float | None,
    as_json: bool,
    fmt: str | None,
) -> None:
    """Merge REMOTE's notes into yours, then push them (fetch-merge-push is retried when a
    teammate pushed notes in between)."""
    config = load_config()
    notes_cfg = config.get("notes") if isinstance(config.get("notes"), dict) else {}
    wanted = notes_cfg.get("push") if isinstance(notes_cfg, dict) else None
    if (if_configured and wanted is not True) or (hook and wanted is False):
        return
    remote = remote or (os.environ.get("PRE_COMMIT_REMOTE_NAME") if hook else None)
    limit = timeout if timeout is not None else (HOOK_TIMEOUT if hook else None)
    deadline = None if limit is None else time.monotonic() + limit
    try:
        root = _root()
        notes = notes_ref(config, ref)
        name = pick_remote(root, remote)
        status = push_notes(root, notes, name, deadline)
    except TokentrailError as exc:
        if not hook:
            raise
        echo(
            f"tokentrail: the notes (receipts) were not pushed: {exc.message}. The push goes "
            "on; run `tokentrail notes push` later.",
            err=True,
        )
        return
    emit({"kind": "notes_push", "remote": name, "ref": notes, "status": status}, as_json, fmt)


@notes_group.command("carry")
@click.option("--onto", required=True, help="The commit a squash or rebase merge produced.")
@click.option("--range", "spec", required=True, help="The PR's commits, A..B.")
@click.option(
    "--pr",
    type=click.IntRange(min=1),
    metavar="N",
    help="The PR's number, recorded on the carried lines (rollup finds the PR by it).",
)
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@output_options
@handle_errors
def carry(
    onto: str, spec: str, pr: int | None, ref: str | None, as_json: bool, fmt: str | None
) -> None:
    """Merge the notes of the commits in A..B onto the merge commit ONTO."""
    root, target = resolve_rev(None, onto)
    notes = notes_ref(load_config(), ref)
    _, commits = range_commits(None, spec)
    found = [read_note(root, notes, c.sha) for c in commits]
    noted = sum(bool(f) for f in found)
    lines = combine(found, target, pr)
    held = write_note(root, notes, target, lines) if lines else len(read_note(root, notes, target))
    emit(
        {
            "kind": "notes_carry",
            "onto": target,
            "ref": notes,
            "commits": len(commits),
            "commits_with_notes": noted,
            "sessions_in_note": held,
        },
        as_json,
        fmt,
    )
