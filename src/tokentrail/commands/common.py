"""What every command shares: option parsing, JSON and error output, rendering."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, TypeVar

import click

from tokentrail.builtin.render_json import JsonRenderer
from tokentrail.catalog import Catalog
from tokentrail.errors import TokentrailError
from tokentrail.escape import plain, terminal
from tokentrail.figures import envelope
from tokentrail.hookspecs import Renderer
from tokentrail.plugins import TokentrailPluginManager, get_plugin_manager
from tokentrail.redact import redact_lines

F = TypeVar("F", bound=Callable[..., Any])
_RELATIVE = re.compile(r"^(\d+)([dhm])$")

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON (schema_version 1).")


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


def dump_json(doc: Mapping[str, Any]) -> str:
    return JsonRenderer().render(doc)


def echo(text: str, err: bool = False, nl: bool = True, *, json: bool = False) -> None:
    """Everything tokentrail writes to a terminal (or a CI log) goes through here: secrets
    redacted and control, bidi and zero-width characters made visible, so no log or git
    string can retitle, clear or rewrite the terminal. `json` text comes from the json
    renderer, which escaped it already (redacting it again could break its quoting)."""
    click.echo(text if json else terminal(redact_lines(text)), err=err, nl=nl)


def handle_errors(fn: F) -> F:
    """Turn errors into a clear message (or a JSON error document) and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except TokentrailError as exc:
            code, message = exc.code, exc.message
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # never a traceback for the user
            if os.environ.get("TOKENTRAIL_DEBUG"):
                raise
            code = "internal_error"
            message = f"{type(exc).__name__}: {exc} (set TOKENTRAIL_DEBUG=1 for a traceback)"
        if as_json:
            echo(
                dump_json({"schema_version": 1, "error": {"code": code, "message": message}}),
                json=True,
            )
        else:
            echo(f"tokentrail: error: {plain(message)}", err=True)
        sys.exit(1)

    return wrapper  # type: ignore[return-value]


def renderers(pm: TokentrailPluginManager) -> dict[str, tuple[str, Renderer]]:
    """Renderer name -> (plugin, renderer)."""
    found = pm.collect("register_renderers", Renderer)  # type: ignore[type-abstract]
    return {r.name: (plugin, r) for plugin, r in found}


def renderer(pm: TokentrailPluginManager, name: str) -> Renderer:
    return _renderer(pm, name)[1]


def _renderer(pm: TokentrailPluginManager, name: str) -> tuple[str, Renderer]:
    found = renderers(pm)
    if name not in found:
        raise TokentrailError(
            "unknown_format", f"no renderer named {name!r}; available: {', '.join(sorted(found))}"
        )
    return found[name]


def emit(doc: dict[str, Any], as_json: bool, fmt: str | None = None) -> None:
    """Render `doc` with the chosen renderer and print it. A renderer plugin runs contained
    (it cannot print into our output or end the run); if it fails, that is the error."""
    pm = get_plugin_manager()
    if as_json and fmt and fmt != "json":
        raise TokentrailError("bad_usage", f"--json and --format {fmt} ask for two formats")
    name = "json" if as_json else (fmt or "text")
    plugin, chosen = _renderer(pm, name)
    before = len(pm.problems)
    text = pm.guard(plugin, f"render {name}", partial(chosen.render, envelope(**doc)))
    if not isinstance(text, str):
        failed = pm.problems[before:]
        why = failed[-1].message if failed else f"returned {type(text).__name__}, not text"
        raise TokentrailError("render_failed", f"{why} (in the {name} renderer)")
    ours = name == "json" and plugin == "tokentrail.builtin.render_json"
    echo(text.rstrip("\n"), json=ours)


def warn_about(catalog: Catalog | None, pm: TokentrailPluginManager, as_json: bool) -> list[str]:
    """Problems worth telling the user, on stderr in text mode and in `warnings` for JSON."""
    lines = []
    if catalog is not None:
        issues = catalog.issues
        if issues.bad_lines or issues.truncated_lines:
            lines.append(
                f"skipped {issues.bad_lines} garbled and {issues.truncated_lines} truncated "
                "log line(s); totals exclude them"
            )
        lines.extend(issues.warnings)
    lines.extend(f"plugin {p.plugin} failed in {p.stage}: {p.message}" for p in pm.problems)
    if not as_json:
        shown = (
            lines
            if len(lines) <= 6
            else [*lines[:5], f"... and {len(lines) - 5} more (see --json)"]
        )
        for line in shown:
            echo(f"tokentrail: warning: {plain(line)}", err=True)
    return lines
