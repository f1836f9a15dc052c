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
from tokentrail.figures import iso, session_row, totals
from tokentrail.model import RateLimits, RateWindow, Request, Session
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
        "agent_cost": agent_cost(session),
        "pr_links": [
            {"number": p.number, "url": p.url, "repository": p.repository, "at": iso(p.timestamp)}
            for p in session.pr_links
        ],
        "rate_limits": rate_limits(session.rate_limits),
    }


def agent_cost(session: Session) -> dict[str, Any] | None:
    """The agent's own cost figure (Claude Code `cost-state`) beside the priced transcript:
    the difference is usage the transcript does not show (or prices that differ)."""
    if session.agent_cost_usd is None:
        return None
    priced = [r.cost_usd for r in session.requests if r.cost_usd is not None]
    transcript = sum(priced) if priced else None
    return {
        "total_usd": round(session.agent_cost_usd, 6),
        "by_model": {m: round(c, 6) for m, c in session.agent_cost_by_model.items()},
        "unknown_models": session.agent_cost_unknown_models,
        "transcript_usd": round(transcript, 6) if transcript is not None else None,
        "outside_transcript_usd": (
            round(session.agent_cost_usd - transcript, 6) if transcript is not None else None
        ),
    }


def _window(window: RateWindow | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {
        "used_percent": window.used_percent,
        "window_minutes": window.window_minutes,
        "resets_at": iso(window.resets_at),
    }


def rate_limits(limits: RateLimits | None) -> dict[str, Any] | None:
    """The latest rate-limit usage the agent reported (Codex: 5-hour and weekly windows)."""
    if limits is None:
        return None
    return {
        "primary": _window(limits.primary),
        "secondary": _window(limits.secondary),
        "reported_at": iso(limits.timestamp),
    }


@click.command()
@click.argument("session_id")
@click.option("--format", "fmt", help="Renderer to use (default: text).")
@json_option
@handle_errors
def session(session_id: str, fmt: str | None, as_json: bool) -> None:
    """Show one session (full id or a unique prefix) by model, subagent and file."""
    pm = get_plugin_manager()
    found = catalog_mod.load(pm, catalog_mod.SessionFilter(), load_config())
    matches = [s for s in found.sessions if s.id == session_id]
    matches = matches or [s for s in found.sessions if s.id.startswith(session_id)]
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
