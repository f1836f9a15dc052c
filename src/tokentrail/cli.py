"""The `tokentrail` command. Exit codes: 0 ok, 1 error (see docs/cli.md), 2 bad usage."""

from __future__ import annotations

import click

from tokentrail import __version__
from tokentrail.commands.check import check
from tokentrail.commands.comment import comment
from tokentrail.commands.consolidate import consolidate_command
from tokentrail.commands.demo import demo
from tokentrail.commands.export import export
from tokentrail.commands.import_files import import_group
from tokentrail.commands.install import install, uninstall
from tokentrail.commands.lessons import lessons
from tokentrail.commands.log import log_command
from tokentrail.commands.note import note
from tokentrail.commands.notes import notes_group
from tokentrail.commands.plugins import plugins_command
from tokentrail.commands.report import report
from tokentrail.commands.rollup import rollup
from tokentrail.commands.session import session
from tokentrail.commands.sessions import sessions
from tokentrail.commands.show import show


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tokentrail")
def cli() -> None:
    """What the AI coding-agent sessions behind your branch cost, and where the waste was."""


for command in (
    sessions,
    session,
    plugins_command,
    demo,
    report,
    note,
    show,
    notes_group,
    install,
    uninstall,
):
    cli.add_command(command)
cli.add_command(lessons)
cli.add_command(check)
cli.add_command(comment)
cli.add_command(consolidate_command, "consolidate")
cli.add_command(rollup)
cli.add_command(export)
cli.add_command(log_command)
cli.add_command(import_group)


def main() -> None:
    cli()
