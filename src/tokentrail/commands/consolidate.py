"""`tokentrail consolidate`: after GitHub merges a pull request, carry its receipts onto
what landed on the default branch and push the notes (the Action's merged mode; the work is
in tokentrail.consolidate)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import click

from tokentrail.actions import read_event, warn
from tokentrail.commands.common import dump_json, echo, handle_errors, json_option
from tokentrail.consolidate import consolidate
from tokentrail.errors import TokentrailError


@click.command()
@click.option("--remote", default="origin", show_default=True, help="Where notes are pushed.")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@click.option("--no-push", is_flag=True, help="Carry the notes locally; do not push them.")
@click.option(
    "--token-env",
    default="GITHUB_TOKEN",
    show_default=True,
    help="Variable holding the token (a push event asks the API which PR a commit came from).",
)
@json_option
@handle_errors
def consolidate_command(
    remote: str, ref: str | None, no_push: bool, token_env: str, as_json: bool
) -> None:
    """After a merge: carry the PR's receipts onto the merged commits and push the notes."""
    event = read_event(os.environ.get("GITHUB_EVENT_PATH"))
    if not event:
        raise TokentrailError("no_event", "no GITHUB_EVENT_PATH: run this in GitHub Actions")
    doc = consolidate(
        event, os.environ.get("GITHUB_EVENT_NAME", ""), remote, ref, not no_push, token_env
    )
    for merge in doc["merges"]:
        if merge["commits_without_note"]:
            warn(
                f"PR #{merge['pr']}: {len(merge['commits_without_note'])} of "
                f"{merge['commits']} commits have no receipt, so their cost is not on the "
                "default branch (push notes with `tokentrail notes push` before merging)"
            )
        if merge["fork_notes"] == "absent":
            warn(f"PR #{merge['pr']}: the fork has no tokentrail notes")
    if as_json:
        echo(dump_json({"schema_version": 1, **doc}), json=True)
        return
    _print(doc)


def _print(doc: Mapping[str, Any]) -> None:
    if doc["status"] != "done":
        echo(f"tokentrail: nothing to consolidate ({doc['status'].replace('_', ' ')})")
        return
    for m in doc["merges"]:
        onto = ", ".join(sha[:7] for sha in m["landed"])
        noted = m["commits"] - len(m["commits_without_note"])
        echo(
            f"tokentrail: PR #{m['pr']} ({m['kind']} merge onto {onto}): receipts of {noted} "
            f"of {m['commits']} commit(s) carried in {len(m['carried'])} step(s)"
        )
    if doc.get("pushed"):
        echo("tokentrail: pushed the notes")
    else:
        echo("tokentrail: nothing new to push")
