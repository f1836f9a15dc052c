"""`tokentrail report`: the branch receipt — what the sessions behind this branch cost,
commit by commit, with what is still pending."""

from __future__ import annotations

from pathlib import Path

import click

from tokentrail.commands.common import (
    emit,
    format_name,
    handle_errors,
    output_options,
    render,
    write_page,
)
from tokentrail.errors import TokentrailError
from tokentrail.pipeline import build_receipt


@click.command()
@click.option(
    "--base", help="Base revision (default: merge-base with origin/HEAD, main or master)."
)
@click.option(
    "--markdown", is_flag=True, help="Print Markdown (for a PR comment); --format markdown."
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the report as a standalone HTML page to this file.",
)
@click.option("--from-notes", is_flag=True, help="Build the receipt from git notes alone.")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@output_options
@handle_errors
def report(
    base: str | None,
    markdown: bool,
    html_file: Path | None,
    from_notes: bool,
    ref: str | None,
    as_json: bool,
    fmt: str | None,
) -> None:
    """The branch receipt: sessions behind this branch, attributed to its commits."""
    if markdown:
        fmt = format_name(as_json, fmt or "markdown")
        if fmt != "markdown":
            raise TokentrailError("bad_usage", f"--markdown and --format {fmt} ask for two formats")
    doc = build_receipt(None, base, from_notes=from_notes, ref=ref)
    if html_file is not None:
        write_page(html_file, render(doc, "html") + "\n")
    emit(doc, as_json, fmt)
