"""`tokentrail show REV`: the receipt a commit's git note holds."""

from __future__ import annotations

import click

from tokentrail.commands.common import emit, handle_errors, output_options
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.notes import line_to_row, notes_ref, read_note
from tokentrail.receipt import commit_receipt
from tokentrail.scope import resolve_rev


@click.command()
@click.argument("rev", default="HEAD")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@output_options
@handle_errors
def show(rev: str, ref: str | None, as_json: bool, fmt: str | None) -> None:
    """Print the receipt stored in REV's note (default HEAD)."""
    root, sha = resolve_rev(None, rev)
    notes = notes_ref(load_config(), ref)
    rows = [line_to_row(line) for line in read_note(root, notes, sha)]
    if not rows:
        raise TokentrailError(
            "no_note", f"{rev} ({sha[:7]}) has no tokentrail note in {notes}; run `tokentrail note`"
        )
    pricing = sorted({str(r["pricing"]) for r in rows if r.get("pricing")})
    doc = commit_receipt(sha, rows, kind="commit_receipt", notes_ref=notes, pricing=pricing)
    emit(doc, as_json, fmt)
