"""`tokentrail doctor`: where logs are read from, sessions per agent, the cache, the config,
the hooks and the notes, as tokentrail sees them (the document is built by doctor.py)."""

from __future__ import annotations

import click

from tokentrail.commands.common import emit, handle_errors, output_options
from tokentrail.doctor import diagnose
from tokentrail.plugins import get_plugin_manager


@click.command()
@click.option(
    "--no-remote",
    is_flag=True,
    help="Do not ask the remote whether it has the notes (no network).",
)
@output_options
@handle_errors
def doctor(no_remote: bool, as_json: bool, fmt: str | None) -> None:
    """What tokentrail sees: log folders per agent, sessions, cache, config, hooks, notes."""
    emit(diagnose(get_plugin_manager(), ask_remote=not no_remote), as_json, fmt)
