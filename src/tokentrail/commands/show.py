"""`tokentrail show REV`: the receipt a commit's git note holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from tokentrail.builtin.render_text import TOKEN_HEADERS, money, output, table, token_cells, tokens
from tokentrail.commands.common import echo, emit, handle_errors, json_option
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.notes import line_to_row, notes_ref, read_note
from tokentrail.receipt import commit_receipt
from tokentrail.scope import resolve_rev


def render_text(doc: Mapping[str, Any]) -> str:
    head = (
        f"Commit {doc['sha'][:7]}: {len(doc['sessions'])} session(s), {doc['requests']} "
        f"requests, {money(doc)} API-equivalent\n"
        f"  input {tokens(doc['input_tokens'])}, cache read {tokens(doc['cache_read_tokens'])}, "
        f"cache write {tokens(doc['cache_write_tokens'])}, output {output(doc)}"
    )
    rows = [
        [
            s["agent"],
            str(s["id"])[:8],
            s["link"],
            ", ".join(s.get("models") or {}) or "-",
            *token_cells(s),
        ]
        for s in doc["sessions"]
    ]
    return (
        head
        + "\n\n"
        + table(("AGENT", "ID", "LINK", "MODELS", *TOKEN_HEADERS), rows, set(range(4, 10)))
    )


@click.command()
@click.argument("rev", default="HEAD")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@json_option
@handle_errors
def show(rev: str, ref: str | None, as_json: bool) -> None:
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
    if as_json:
        emit(doc, True)
    else:
        echo(render_text(doc))
