"""`tokentrail session ID` / `--last`: one session's postmortem: what it cost by model,
subagent and file, the likely cause, the findings with evidence and dollars, the files and
commands that burned context, and the lessons."""

from __future__ import annotations

import click

from tokentrail.commands.common import emit, handle_errors, output_options
from tokentrail.pipeline import session_postmortem


@click.command()
@click.argument("session_id", required=False)
@click.option("--last", is_flag=True, help="The session active most recently.")
@output_options
@handle_errors
def session(session_id: str | None, last: bool, fmt: str | None, as_json: bool) -> None:
    """Postmortem of one session (full id or a unique prefix, or --last): cost by model,
    subagent and file, likely cause, findings, what burned context, lessons."""
    emit(session_postmortem(session_id, last=last), as_json, fmt)
