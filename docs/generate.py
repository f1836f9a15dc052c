"""Regenerate the parts of the docs that the tool itself can print, so they cannot drift.

    python docs/generate.py          # rewrite the generated blocks in place
    python docs/generate.py --check  # exit 1 when a block differs (the tests run this)

A generated block sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`
markers; everything outside the markers is written by hand.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from tokentrail.cli import cli

DOCS = Path(__file__).resolve().parent


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    for name in sorted(group.commands):
        command = group.commands[name]
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path, command


def _synopsis(path: str, command: click.Command) -> str:
    args = " ".join(
        p.human_readable_name.upper() if p.required else f"[{p.human_readable_name.upper()}]"
        for p in command.params
        if isinstance(p, click.Argument)
    )
    return " ".join(part for part in (path, args, "[OPTIONS]") if part)


def _option_row(option: click.Option) -> str:
    flags = ", ".join(f"`{f}`" for f in [*option.opts, *option.secondary_opts])
    if not option.is_flag and option.metavar:
        flags += f" {option.metavar}"
    elif not option.is_flag and option.type.name not in ("boolean",):
        flags += f" {option.type.name.upper()}"
    help_text = " ".join((option.help or "").split()).replace("|", "\\|")
    return f"| {flags} | {help_text} |"


def command_reference() -> str:
    """Every command with its synopsis, what it does, and every option."""
    out: list[str] = []
    for path, command in _commands(cli, "tokentrail"):
        summary = " ".join((command.help or "").split("\n\n")[0].split())
        out += [f"### `{path}`", "", f"`{_synopsis(path, command)}`", "", summary, ""]
        options = [p for p in command.params if isinstance(p, click.Option)]
        if options:
            out += ["| option | meaning |", "|---|---|"]
            out += [_option_row(option) for option in options]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


BLOCKS: dict[tuple[str, str], Callable[[], str]] = {
    ("cli.md", "commands"): command_reference,
}


def _replace(text: str, name: str, body: str) -> str:
    pattern = re.compile(
        rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"no generated:{name} block")
    return pattern.sub(lambda m: m[1] + body + m[2], text)


def stale() -> list[str]:
    """The files whose generated blocks differ from what the tool prints now."""
    out = []
    for (file, name), make in BLOCKS.items():
        text = (DOCS / file).read_text(encoding="utf-8")
        if _replace(text, name, make()) != text:
            out.append(f"docs/{file} ({name})")
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        differ = stale()
        for item in differ:
            print(f"out of date: {item}; run `python docs/generate.py`", file=sys.stderr)
        return 1 if differ else 0
    for (file, name), make in BLOCKS.items():
        path = DOCS / file
        path.write_text(_replace(path.read_text(encoding="utf-8"), name, make()), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
