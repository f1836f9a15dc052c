"""Regenerate the parts of the docs that the tool itself can print, so they cannot drift.

    python docs/generate.py          # rewrite the generated blocks in place
    python docs/generate.py --check  # exit 1 when a block differs (the tests run this)

A generated block sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`
markers; everything outside the markers is written by hand. Besides the command reference,
the README's and docs/action.md's examples are the real output of the commands on the demo
repository, built in a temporary folder with no logs of the machine's own, 80 columns and
no colour; the demo is deterministic, so this output is the same on every machine.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from tokentrail.cli import cli
from tokentrail.demo.repo import BRANCH, build_demo
from tokentrail.plugins import get_plugin_manager

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# a stand-in for the hash of a machine's name in the demo's notes (notes.host_id)
DEMO_HOST_ID = "5e2c0f1b9a47"
CHECK_ARGS = ("check", "--budget", "2", "--commit-budget", "0.25")
ACTION_BUDGET = "5"
# variables that would point tokentrail or git at the machine's own logs, config or plugins
_CLEARED = (
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_CLI_HOME",
    "OPENCODE_DATA_DIR",
    "PI_AGENT_DIR",
    "TOKENTRAIL_DATA_DIR",
    "TOKENTRAIL_CONFIG",
    "TOKENTRAIL_CACHE_DIR",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
)


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):  # the CLI's group imports them lazily
        command = group.get_command(ctx, name)
        assert command is not None
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


@contextlib.contextmanager
def _demo_machine(tmp: Path) -> Iterator[None]:
    """An empty home, no agent-log variables, 80 columns, no colour, no cache, no third-party
    plugins; everything restored afterwards (the demo sets variables of its own)."""
    saved, cwd = dict(os.environ), Path.cwd()
    home = tmp / "home"
    home.mkdir()
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update(
        HOME=str(home),
        COLUMNS="80",
        NO_COLOR="1",
        TOKENTRAIL_NO_CACHE="1",
        TOKENTRAIL_PLUGINS="",
        TOKENTRAIL_HOST_ID=DEMO_HOST_ID,
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    get_plugin_manager.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(cwd)
        get_plugin_manager.cache_clear()


def _run(*args: str) -> str:
    """What `tokentrail ARGS` prints on stdout, run in-process in the working directory."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"tokentrail {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@functools.cache
def demo_outputs() -> dict[str, str]:
    """The demo's outputs that the docs show, made once per run."""
    with tempfile.TemporaryDirectory(prefix="tokentrail-docs-") as name:
        tmp = Path(name)
        with _demo_machine(tmp):
            out = {"demo": _run("demo")}
            built = build_demo(tmp / "kept")
            os.environ.update(built.env())
            os.chdir(built.repo)
            _run("note", "--range", f"{built.base}..{built.branch}", "--quiet")
            first = built.commits[0][:7]
            out["notes_command"] = f"git log --notes=tokentrail -1 {first}"
            out["notes"] = subprocess.run(
                ["git", "log", "--no-color", "--notes=tokentrail", "-1", first],
                cwd=built.repo,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            out["check"] = _run(*CHECK_ARGS)
            event = tmp / "event.json"
            event.write_text(
                json.dumps(
                    {
                        "number": 7,
                        "pull_request": {
                            "number": 7,
                            "base": {"sha": built.base_sha, "ref": built.base},
                            "head": {"sha": built.commits[-1], "ref": BRANCH},
                        },
                    }
                ),
                encoding="utf-8",
            )
            os.environ.update(GITHUB_EVENT_PATH=str(event), GITHUB_REPOSITORY="example/shop-api")
            out["comment"] = _run("comment", "--dry-run")
            out["comment_budget"] = _run("comment", "--dry-run", "--budget", ACTION_BUDGET)
    return out


def _console(command: str, output: str) -> str:
    return f"```\n$ {command}\n{output.rstrip()}\n```\n"


def readme_demo() -> str:
    """`tokentrail demo`, unedited."""
    return _console("tokentrail demo", demo_outputs()["demo"])


def readme_notes() -> str:
    """A commit's note as `git log --notes` shows it."""
    out = demo_outputs()
    return _console(out["notes_command"], out["notes"])


def readme_comment() -> str:
    """The PR comment the Action posts: built from the notes alone."""
    return "\n" + demo_outputs()["comment"].rstrip() + "\n\n"


def readme_check() -> str:
    """`tokentrail check` with a branch and a commit budget."""
    return _console("tokentrail " + " ".join(CHECK_ARGS), demo_outputs()["check"])


def action_comment() -> str:
    """The PR comment with a budget, as docs/action.md shows it."""
    return "\n" + demo_outputs()["comment_budget"].rstrip() + "\n\n"


BLOCKS: dict[tuple[str, str], Callable[[], str]] = {
    ("docs/cli.md", "commands"): command_reference,
    ("README.md", "demo"): readme_demo,
    ("README.md", "notes"): readme_notes,
    ("README.md", "comment"): readme_comment,
    ("README.md", "check"): readme_check,
    ("docs/action.md", "comment"): action_comment,
}


def _replace(text: str, name: str, body: str) -> str:
    pattern = re.compile(
        rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"no generated:{name} block")
    return pattern.sub(lambda m: m[1] + body + m[2], text)


def stale(files: tuple[str, ...] | None = None) -> list[str]:
    """The files (all, or those named) whose generated blocks differ from what the tool
    prints now."""
    out = []
    for (file, name), make in BLOCKS.items():
        if files is not None and file not in files:
            continue
        text = (ROOT / file).read_text(encoding="utf-8")
        if _replace(text, name, make()) != text:
            out.append(f"{file} ({name})")
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        differ = stale()
        for item in differ:
            print(f"out of date: {item}; run `python docs/generate.py`", file=sys.stderr)
        return 1 if differ else 0
    for (file, name), make in BLOCKS.items():
        path = ROOT / file
        path.write_text(_replace(path.read_text(encoding="utf-8"), name, make()), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
