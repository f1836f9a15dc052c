"""`tokentrail note`: write each commit's receipt into git notes (the post-commit hook runs
this for the new commit)."""

from __future__ import annotations

import click

from tokentrail.commands.common import emit, handle_errors, output_options, show_warnings
from tokentrail.errors import TokentrailError
from tokentrail.pipeline import note_commits


@click.command()
@click.argument("rev", required=False)
@click.option("--range", "spec", help="Every commit of A..B instead of one REV.")
@click.option("--base", help="Base revision (default: merge-base with the default branch).")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing unless something failed.")
@output_options
@handle_errors
def note(
    rev: str | None,
    spec: str | None,
    base: str | None,
    ref: str | None,
    quiet: bool,
    as_json: bool,
    fmt: str | None,
) -> None:
    """Write the receipt of REV (default HEAD) into git notes, keeping what they held."""
    if rev and spec:
        raise TokentrailError("bad_usage", "give either REV or --range A..B, not both")
    doc = note_commits(None, rev, spec, base, ref)
    if quiet and not as_json and not fmt:
        show_warnings(doc["warnings"])
        return
    emit(doc, as_json, fmt)
