"""What every command shares: option parsing, rendering a document, errors and warnings.

Commands build a document (a dict with a `kind`) and hand it to `emit`, which wraps it in
the JSON envelope and renders it with the renderer plugin the user asked for (`--format`,
`--json` as its shorthand). Errors become the same envelope with `kind: "error"`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click

from tokentrail import progress, term
from tokentrail.config import config_warnings
from tokentrail.errors import TokentrailError
from tokentrail.escape import plain, terminal
from tokentrail.figures import envelope
from tokentrail.plugins import TokentrailPluginManager, get_plugin_manager
from tokentrail.redact import redact_lines

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


NO_COLOR_KEY = "tokentrail.no_color"
PROGRESS_LABEL = "tokentrail: reading agent logs:"


def _no_color(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[NO_COLOR_KEY] = True


no_color_option = click.option(
    "--no-color",
    is_flag=True,
    expose_value=False,
    callback=_no_color,
    help="No colour, even on a terminal (NO_COLOR=1 does the same).",
)


def output_options(fn: F) -> F:
    """`--format NAME` and its shorthand `--json`, on every command that prints a document;
    `--no-color` for its terminal output."""
    return json_option(format_option(no_color_option(fn)))


def color_for(stream: Any) -> bool:
    """Colour on this stream: a terminal, without NO_COLOR or --no-color."""
    ctx = click.get_current_context(silent=True)
    disabled = bool(ctx is not None and ctx.meta.get(NO_COLOR_KEY))
    return term.color_wanted(stream, disabled)


@contextlib.contextmanager
def progress_on_stderr(quiet: bool) -> Iterator[None]:
    """Files parsed of total on stderr while logs are read, when stderr is a terminal and
    the command is neither quiet nor printing JSON; drawn without escape sequences when
    colour is off (NO_COLOR, --no-color)."""
    stream = sys.stderr
    if quiet or not term.is_tty(stream):
        yield
        return
    bar = term.Progress(stream, PROGRESS_LABEL, escapes=color_for(stream))
    try:
        with progress.reporting(bar):
            yield
    finally:
        bar.close()


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
    return _render(doc, name)[0]


def _render(doc: Mapping[str, Any], name: str) -> tuple[str, bool]:
    """The rendered text, and whether our own json renderer wrote it (already escaped).
    A renderer plugin runs contained (it cannot print into our output or end the run); if
    it fails, that is the error."""
    pm = get_plugin_manager()
    plugin, chosen = pm.renderer_of(name, str(doc.get("kind")))
    before = len(pm.problems)
    text = pm.guard(plugin, f"render {name}", partial(chosen.render, envelope(**doc)))
    if not isinstance(text, str):
        failed = pm.problems[before:]
        why = failed[-1].message if failed else f"returned {type(text).__name__}, not text"
        raise TokentrailError("render_failed", f"{why} (in the {name} renderer)")
    return text.rstrip("\n"), name == "json" and plugin == "tokentrail.builtin.render_json"


def dump_json(doc: Mapping[str, Any]) -> str:
    return render(doc, "json")


def emit(doc: Mapping[str, Any], as_json: bool = False, fmt: str | None = None) -> None:
    """Print the document; its warnings (with the config file's) go to stderr unless the
    output is JSON (where they are part of the document). Text on a terminal is coloured."""
    name = format_name(as_json, fmt)
    setup = config_warnings()
    if setup:
        doc = {**doc, "warnings": [*setup, *(doc.get("warnings") or [])]}
    text, ours = _render(doc, name)
    echo(text, json=ours, paint=name == "text")
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
    # one line per warning, never wrapped: stderr is for grep and CI logs as much as for eyes
    for line in shown:
        echo(f"tokentrail: warning: {plain(line)}", err=True, paint=True)


def show_error(message: str) -> None:
    """`tokentrail: error: …` on stderr, in red on a terminal."""
    echo(f"tokentrail: error: {plain(message)}", err=True, paint=True)


def echo(
    text: str, err: bool = False, nl: bool = True, *, json: bool = False, paint: bool = False
) -> None:
    """Everything tokentrail writes to a terminal (or a CI log) goes through here: secrets
    redacted and control, bidi and zero-width characters made visible, so no log or git
    string can retitle, clear or rewrite the terminal. `json` text comes from the json
    renderer, which escaped it already (redacting it again could break its quoting).
    `paint`: coloured on a terminal (our own colours, added after the escaping)."""
    out = text if json else terminal(redact_lines(text))
    if paint and color_for(sys.stderr if err else sys.stdout):
        out = term.paint(out)
    click.echo(out, err=err, nl=nl)


def handle_errors(fn: F) -> F:
    """Turn errors into a clear message (or a JSON error document) and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        quiet = as_json or kwargs.get("fmt") == "json" or bool(kwargs.get("quiet"))
        exit_code = 1
        try:
            with progress_on_stderr(quiet):
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
            text, ours = _render(doc, "json")
            echo(text, json=ours)
        else:
            show_error(message)
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
