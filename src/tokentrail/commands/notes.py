"""`tokentrail notes push|fetch|carry`: move receipts between machines and across merges.

Fetch goes into `refs/notes/remotes/<remote>/<name>` and is merged with `cat_sort_uniq`,
which is a clean union for our one-line-per-session notes; push fetches first so it is
always a fast-forward. `carry` copies the notes of a PR's commits onto the commit a squash
or rebase merge produced (hosting-side merges drop notes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tokentrail.commands.common import echo, emit, handle_errors, json_option
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.escape import plain
from tokentrail.notes import combine, notes_ref, read_note, ref_exists, write_note
from tokentrail.scope import (
    git_lines,
    one_line,
    open_repo,
    range_commits,
    repo_root,
    resolve_rev,
    run_git,
)


def pick_remote(root: Path, remote: str | None) -> str:
    remotes = git_lines(run_git(root, "remote"))
    if not remotes:
        raise TokentrailError(
            "no_remote", "this repository has no remote; add one with `git remote add`"
        )
    if remote:
        if remote not in remotes:
            raise TokentrailError(
                "unknown_remote", f"no remote named {remote!r}; remotes: {', '.join(remotes)}"
            )
        return remote
    upstream = one_line(
        run_git(
            root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}", check=False
        )
    )
    if "/" in upstream and upstream.split("/", 1)[0] in remotes:
        return upstream.split("/", 1)[0]
    return "origin" if "origin" in remotes else remotes[0]


def tracking_ref(ref: str, remote: str) -> str:
    name = ref.removeprefix("refs/notes/")
    return f"refs/notes/remotes/{remote}/{name}"


def fetch_notes(root: Path, ref: str, remote: str) -> str:
    """Fetch and merge the remote's notes; 'absent', 'created' or 'merged'."""
    if not run_git(root, "ls-remote", remote, ref).strip():
        return "absent"
    tracking = tracking_ref(ref, remote)
    run_git(root, "fetch", "--quiet", remote, f"+{ref}:{tracking}")
    if not ref_exists(root, ref):
        run_git(root, "update-ref", ref, tracking)
        return "created"
    run_git(root, "notes", f"--ref={ref}", "merge", "--quiet", "-s", "cat_sort_uniq", tracking)
    return "merged"


def push_notes(root: Path, ref: str, remote: str) -> str:
    """Fetch-merge, then push (without running hooks again); 'nothing' or 'pushed'."""
    fetch_notes(root, ref, remote)
    if not ref_exists(root, ref):
        return "nothing"
    run_git(root, "push", "--quiet", "--no-verify", remote, f"{ref}:{ref}")
    return "pushed"


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


@notes_group.command("push")
@click.argument("remote", required=False)
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@click.option(
    "--if-configured",
    is_flag=True,
    help="Only push when notes.push is true in .tokentrail.yml (the pre-push hook uses this).",
)
@json_option
@handle_errors
def push(remote: str | None, ref: str | None, if_configured: bool, as_json: bool) -> None:
    """Merge REMOTE's notes into yours, then push them."""
    config = load_config()
    notes_cfg = config.get("notes")
    if if_configured and not (isinstance(notes_cfg, dict) and notes_cfg.get("push") is True):
        return
    root = _root()
    notes = notes_ref(config, ref)
    name = pick_remote(root, remote)
    status = push_notes(root, notes, name)
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
        echo(
            f"carried notes of {doc['commits_with_notes']} of {doc['commits']} commit(s) onto "
            f"{doc['onto'][:7]}; its note holds {doc['sessions_in_note']} session line(s)"
        )
    else:
        echo(_TEXT[doc["kind"]][doc["status"]].format(**{k: plain(v) for k, v in doc.items()}))
