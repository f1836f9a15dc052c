"""The `tokentrail` command. Exit codes: 0 ok, 1 error (see docs/cli.md), 2 bad usage.

Sub-commands are imported only when they run: `check` and `note` run on every commit, and
importing every command (GitHub client, demo writers, HTML renderer) would cost them more
than their own work; `--version` needs nothing, not even click.
"""

from __future__ import annotations

import sys

from tokentrail import __version__

TYPE_CHECKING = False  # typing itself costs a hook run a few milliseconds
if TYPE_CHECKING:
    from typing import Any

# name -> "module:attribute", in the order `--help` lists them
COMMANDS = {
    "sessions": "tokentrail.commands.sessions:sessions",
    "session": "tokentrail.commands.session:session",
    "plugins": "tokentrail.commands.plugins:plugins_command",
    "demo": "tokentrail.commands.demo:demo",
    "report": "tokentrail.commands.report:report",
    "note": "tokentrail.commands.note:note",
    "show": "tokentrail.commands.show:show",
    "notes": "tokentrail.commands.notes:notes_group",
    "install": "tokentrail.commands.install:install",
    "uninstall": "tokentrail.commands.install:uninstall",
    "lessons": "tokentrail.commands.lessons:lessons",
    "check": "tokentrail.commands.check:check",
    "comment": "tokentrail.commands.comment:comment",
    "cache": "tokentrail.commands.cache:cache_group",
    "consolidate": "tokentrail.commands.consolidate:consolidate_command",
    "rollup": "tokentrail.commands.rollup:rollup",
    "export": "tokentrail.commands.export:export",
    "log": "tokentrail.commands.log:log_command",
    "import": "tokentrail.commands.import_files:import_group",
    "doctor": "tokentrail.commands.doctor:doctor",
}


_group: Any = None


def _cli() -> Any:
    """The click group (built on first use: importing click costs a hook run)."""
    global _group
    if _group is not None:
        return _group
    import importlib

    import click

    class LazyGroup(click.Group):
        """A group whose sub-commands are imported on first use."""

        def list_commands(self, ctx: click.Context) -> list[str]:
            return sorted({*COMMANDS, *super().list_commands(ctx)})

        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            spec = COMMANDS.get(cmd_name)
            if spec is None:
                return super().get_command(ctx, cmd_name)
            module, _, attr = spec.partition(":")
            command: Any = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="tokentrail")
    def cli() -> None:
        """What the AI coding-agent sessions behind your branch cost, and where the waste
        was."""

    _group = cli
    return cli


def __getattr__(name: str) -> Any:
    if name == "cli":  # `from tokentrail.cli import cli`
        return _cli()
    raise AttributeError(name)


def main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        print(f"tokentrail, version {__version__}")
        return
    _cli()()
