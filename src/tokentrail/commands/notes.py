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
from typing import Any

import click

from tokentrail.commands.common import emit, handle_errors, json_option
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
from tokentrail.scope import open_repo, range_commits, repo_root, resolve_rev


def _root() -> Path:
    return repo_root(open_repo(None))


@click.group("notes")
def notes_group() -> None:
    """Share receipts through git notes: push, fetch, carry."""


@notes_group.command("fetch")
@click.argument("remote", required=False)
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@json_option
@handle_errors
def fetch(remote: str | None, ref: str | None, as_json: bool) -> None:
    """Fetch REMOTE's notes (default: upstream or origin) and merge them into yours."""
    root = _root()
    notes = notes_ref(load_config(), ref)
    name = pick_remote(root, remote)
    status = fetch_notes(root, notes, name)
    _report({"kind": "notes_fetch", "remote": name, "ref": notes, "status": status}, as_json)


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
@json_option
@handle_errors
def push(
    remote: str | None,
    ref: str | None,
    hook: bool,
    if_configured: bool,
    timeout: float | None,
    as_json: bool,
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
        click.echo(
            f"tokentrail: the notes (receipts) were not pushed: {exc.message}. The push goes "
            "on; run `tokentrail notes push` later.",
            err=True,
        )
        return
    _report({"kind": "notes_push", "remote": name, "ref": notes, "status": status}, as_json)


@notes_group.command("carry")
@click.option("--onto", required=True, help="The commit a squash or rebase merge produced.")
@click.option("--range", "spec", required=True, help="The PR's commits, A..B.")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@json_option
@handle_errors
def carry(onto: str, spec: str, ref: str | None, as_json: bool) -> None:
    """Merge the notes of the commits in A..B onto the merge commit ONTO."""
    root, target = resolve_rev(None, onto)
    notes = notes_ref(load_config(), ref)
    _, commits = range_commits(None, spec)
    found = [read_note(root, notes, c.sha) for c in commits]
    noted = sum(bool(f) for f in found)
    lines = combine(found, target)
    held = write_note(root, notes, target, lines) if lines else len(read_note(root, notes, target))
    _report(
        {
            "kind": "notes_carry",
            "onto": target,
            "ref": notes,
            "commits": len(commits),
            "commits_with_notes": noted,
            "sessions_in_note": held,
        },
        as_json,
    )


_TEXT = {
    "notes_fetch": {
        "absent": "{remote} has no {ref} yet; nothing fetched",
        "created": "fetched {ref} from {remote}",
        "merged": "fetched {ref} from {remote} and merged it into yours",
    },
    "notes_push": {
        "nothing": "no local {ref} yet; nothing to push (run `tokentrail note` first)",
        "pushed": "pushed {ref} to {remote}",
    },
}


def _report(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(doc, True)
    elif doc["kind"] == "notes_carry":
        click.echo(
            f"carried notes of {doc['commits_with_notes']} of {doc['commits']} commit(s) onto "
            f"{doc['onto'][:7]}; its note holds {doc['sessions_in_note']} session line(s)"
        )
    else:
        click.echo(_TEXT[doc["kind"]][doc["status"]].format(**doc))
