"""`tokentrail demo`: real output on a generated repo and logs (no local logs needed).
The repository and logs come from `tokentrail.demo.repo`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from tokentrail import catalog as catalog_mod
from tokentrail import term
from tokentrail.commands.common import echo, emit, format_name, handle_errors, output_options
from tokentrail.demo.repo import Demo, build_demo
from tokentrail.pipeline import build_receipt, note_commits
from tokentrail.plugins import get_plugin_manager


def show(demo: Demo, as_json: bool, fmt: str | None) -> None:
    """The branch report of the generated repo, after writing its commits' notes."""
    noted = note_commits(demo.repo, None, f"{demo.base}..{demo.branch}", demo.base, None)
    doc = build_receipt(demo.repo, demo.base)
    doc["warnings"] = [*noted["warnings"], *doc["warnings"]]
    emit(doc, as_json, fmt)


def say(text: str) -> None:
    """Prose after the report, each paragraph wrapped to the terminal."""
    limit = term.width()
    echo(
        "\n".join(
            term.wrap(line, limit, "", "", break_words=False) if line else ""
            for line in text.split("\n")
        )
    )


def own_sessions() -> int:
    """How many sessions of the user's own this machine holds (a cheap listing, no parse)."""
    pm = get_plugin_manager()
    return len(catalog_mod.discover(pm, catalog_mod.SessionFilter()))


@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build in this folder and keep it (default: a temp dir, removed afterwards).",
)
@output_options
@handle_errors
def demo(keep: Path | None, as_json: bool, fmt: str | None) -> None:
    """Build a small repo with a branch, commits and matching agent logs; show its report."""
    mine = own_sessions()
    root = keep if keep is not None else Path(tempfile.mkdtemp(prefix="tokentrail-demo-"))
    try:
        built = build_demo(root)
        os.environ.update(built.env())
        show(built, as_json, fmt)
        if format_name(as_json, fmt) != "text":
            return
        say(
            f"\nWhat you are looking at: the agent sessions behind branch {built.branch} of a "
            f"generated repo, {len(built.commits)} commits (one made by the agent itself), "
            "priced per request and attributed commit by commit; a session in another "
            "folder is left out. Each commit's receipt is also in its git note."
        )
        if keep is not None:
            say(
                f"Files: repo {built.repo}, Claude logs {built.claude_dir} "
                f"(CLAUDE_CONFIG_DIR), Codex logs {built.codex_home} (CODEX_HOME). Try:"
            )
            echo(f"  git -C {built.repo} log --notes=tokentrail {built.base}..{built.branch}")
        say(
            f"\nThis machine holds {mine} agent session(s) of your own: run "
            "`tokentrail report` inside a repository to see its branch, or `tokentrail "
            "sessions` to list them all."
            if mine
            else "\nNo agent logs of your own were found (~/.claude, ~/.codex); once you "
            "have some, run `tokentrail report` inside a repository."
        )
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
