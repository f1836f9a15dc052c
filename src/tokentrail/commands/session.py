"""`tokentrail session ID`: one session broken down by model, subagent and file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any

import click

from tokentrail import catalog as catalog_mod
from tokentrail.commands.common import emit, handle_errors, json_option, warn_about
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.figures import session_row, totals
from tokentrail.model import Request, Session
from tokentrail.plugins import get_plugin_manager
from tokentrail.pricing import PRICING_VERSION


def _group(
    requests: list[Request], key: Callable[[Request], Hashable], label: str
) -> list[dict[str, Any]]:
    groups: dict[Hashable, list[Request]] = {}
    for r in requests:
        groups.setdefault(key(r), []).append(r)
    return [{label: k, **totals(v)} for k, v in groups.items()]


def _by_model(requests: list[Request]) -> list[dict[str, Any]]:
    """Per model, with which price source priced its requests (a plugin, the config, or
    genai-prices) so an override can be checked."""
    rows = _group(requests, lambda r: r.model, "model")
    for row in rows:
        sources = Counter(
            r.price_source for r in requests if r.model == row["model"] and r.price_source
        )
        row["price_sources"] = dict(sources)
    return rows


def breakdown(session: Session) -> dict[str, Any]:
    by_file = _group(session.requests, lambda r: r.file_index, "file")
    for row in by_file:
        row["file"] = str(session.paths[row["file"]])
    return {
        "session": session_row(session),
        "by_model": _by_model(session.requests),
        "by_subagent": _group(session.requests, lambda r: r.subagent or "main", "subagent"),
        "by_file": by_file,
        "tool_calls": len(session.tool_calls),
        "tool_errors": sum(c.is_error for c in session.tool_calls),
        "prompts": len(session.prompts),
        "compactions": len(session.compactions),
        "agent_commits": [{"sha": c.sha, "branch": c.branch} for c in session.commits],
    }


@click.command()
@click.argument("session_id")
@click.option("--format", "fmt", help="Renderer to use (default: text).")
@json_option
@handle_errors
def session(session_id: str, fmt: str | None, as_json: bool) -> None:
    """Show one session (full id or a unique prefix) by model, subagent and file."""
    pm = get_plugin_manager()
    config = load_config()
    found = catalog_mod.load(
        pm, catalog_mod.SessionFilter(), config, select=lambda row: row["id"] == session_id
    )
    if not found.sessions:
        found = catalog_mod.load(
            pm,
            catalog_mod.SessionFilter(),
            config,
            select=lambda row: str(row["id"]).startswith(session_id),
        )
    matches = found.sessions
    if not matches:
        raise TokentrailError("session_not_found", f"no session with id {session_id!r}")
    if len(matches) > 1:
        ids = ", ".join(f"{s.agent}:{s.id}" for s in matches[:5])
        raise TokentrailError(
            "ambiguous_session", f"{session_id!r} matches several sessions: {ids}"
        )
    doc = {"kind": "session", "pricing": PRICING_VERSION, **breakdown(matches[0])}
    doc["warnings"] = warn_about(found, pm, as_json)
    emit(doc, as_json, fmt)
