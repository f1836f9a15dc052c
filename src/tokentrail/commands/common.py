"""What every command shares: option parsing, rendering a document, errors and warnings.

Commands build a document (a dict with a `kind`) and hand it to `emit`, which wraps it in
the JSON envelope and renders it with the renderer plugin the user asked for (`--format`,
`--json` as its shorthand). Errors become the same envelope with `kind: "error"`.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import click

from tokentrail.errors import TokentrailError
from tokentrail.figures import envelope
from tokentrail.plugins import TokentrailPluginManager, get_plugin_manager

F = TypeVar("F", bound=Callable[..., Any])
_RELATIVE = re.compile(r"^(\d+)([dhm])$")

MAX_WARNINGS_SHOWN = 6

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (schema_version 1).")
format_option = click.option(
    "--format",
    "fmt",
    metavar="NAME",
    help="Renderer to use: text (default), json, markdown, html, or a plugin's.",
)


def output_options(fn: F) -> F:
    """`--format NAME` and its shorthand `--json`, on every command that prints a document."""
    return json_option(format_option(fn))


def parse_when(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """`2026-02-23`, an ISO datetime, or relative `7d` / `12h` / `30m` (ago)."""
    if not value:
        return None
    rel = _RELATIVE.match(value)
    if rel:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[rel.group(2)]
        return datetime.now(timezone.utc) - timedelta(**{unit: int(rel.group(1))})
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise TokentrailError(
            "bad_time", f"cannot read time {value!r}: use 2026-02-23, an ISO datetime or 7d/12h"
        ) from None
    if end_of_day and len(value) == 10:
        ts += timedelta(days=1) - timedelta(microseconds=1)
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def format_name(as_json: bool, fmt: str | None) -> str:
    if as_json and fmt and fmt != "json":
        raise TokentrailError("bad_usage", f"--json and --format {fmt} ask for two formats")
    return "json" if as_json else (fmt or "text")


def render(doc: Mapping[str, Any], name: str) -> str:
    """The document in the envelope, through the named renderer plugin."""
    renderer = get_plugin_manager().renderer(name, str(doc.get("kind")))
    return renderer.render(envelope(**doc)).rstrip("\n")


def dump_json(doc: Mapping[str, Any]) -> str:
    return render(doc, "json")


def emit(doc: Mapping[str, Any], as_json: bool = False, fmt: str | None = None) -> None:
    """Print the document; its warnings go to stderr unless the output is JSON (where they
    are part of the document)."""
    name = format_name(as_json, fmt)
    click.echo(render(doc, name))
    if name != "json":
        show_warnings(doc.get("warnings") or [])


def show_warnings(lines: list[str]) -> None:
    shown = (
        lines
        if len(lines) <= MAX_WARNINGS_SHOWN
        else [
            *lines[: MAX_WARNINGS_SHOWN - 1],
            f"... and {len(lines) - MAX_WARNINGS_SHOWN + 1} more (see --json)",
        ]
    )
    for line in shown:
        click.echo(f"tokentrail: warning: {line}", err=True)


def handle_errors(fn: F) -> F:
    """Turn errors into a clear message (or a JSON error document) and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        exit_code = 1
        try:
            return fn(*args, **kwargs)
        except TokentrailError as exc:
            code, message, exit_code = exc.code, exc.message, exc.exit_code
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # never a traceback for the user
            if os.environ.get("TOKENTRAIL_DEBUG"):
                raise
            code = "internal_error"
            message = f"{type(exc).__name__}: {exc} (set TOKENTRAIL_DEBUG=1 for a traceback)"
        doc = {"kind": "error", "error": {"code": code, "message": message}}
        if as_json or kwargs.get("fmt") == "json":
            click.echo(dump_json(doc))
        else:
            click.echo(f"tokentrail: error: {message}", err=True)
        sys.exit(exit_code)

    return wrapper  # type: ignore[return-value]


def write_page(target: Path, page: str) -> None:
    """Write a rendered page (`--html FILE`), with a clear error when it cannot be."""
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise TokentrailError("write_failed", f"cannot write {target}: {exc.strerror}") from None


def agent_option(fn: F) -> F:
    """`--agent NAME`: only that agent's sessions."""
    return click.option(
        "--agent",
        metavar="NAME",
        help="Only this agent (claude-code, codex, gemini, opencode, pi, or a logged one).",
    )(fn)


def check_agent(pm: TokentrailPluginManager, agent: str | None) -> None:
    """An `--agent` nobody knows is a usage error naming the agents that exist, never an
    empty answer that looks like "no sessions"."""
    if agent is None:
        return
    from tokentrail.catalog import known_agents

    known = known_agents(pm)
    if agent not in known:
        raise TokentrailError(
            "unknown_agent",
            f"no agent named {agent!r}; known agents: {', '.join(known) or 'none'}",
            exit_code=2,
        )
