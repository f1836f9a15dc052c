"""Token and dollar figures in the field names every `--json` output shares."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tokentrail.model import Request, Session, Usage

SCHEMA_VERSION = 1


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts else None


def usage_fields(u: Usage) -> dict[str, int]:
    return {
        "input_tokens": u.input,
        "cache_read_tokens": u.cache_read,
        "cache_write_tokens": u.cache_write,
        "cache_write_1h_tokens": u.cache_write_1h,
        "output_tokens": u.output,
        "reasoning_tokens": u.reasoning,
    }


def totals(requests: Iterable[Request]) -> dict[str, Any]:
    """Request count, tokens by kind and cost. `cost_usd` sums the priced requests only and
    is None when none could be priced; `unpriced_requests` says how many were left out."""
    usage = Usage()
    cost = 0.0
    count = unpriced = lower_bound = priced = 0
    for r in requests:
        count += 1
        usage.add(r.usage)
        if r.cost_usd is None:
            unpriced += 1
        else:
            priced += 1
            cost += r.cost_usd
        lower_bound += r.output_lower_bound
    return {
        "requests": count,
        **usage_fields(usage),
        "web_search_requests": usage.web_search_requests,
        "cost_usd": round(cost, 6) if priced or not count else None,
        "total_tokens": usage.total,
        "unpriced_requests": unpriced,
        "output_lower_bound_requests": lower_bound,
    }


def session_row(session: Session) -> dict[str, Any]:
    return {
        "agent": session.agent,
        "id": session.id,
        "cwd": session.cwd,
        "cwds": session.cwds,
        "branches": session.branches,
        "start": iso(session.start),
        "end": iso(session.end),
        "models": session.model_mix,
        "parent_id": session.parent_id,
        **totals(session.requests),
        "paths": [str(p) for p in session.paths],
    }


def envelope(**body: Any) -> dict[str, Any]:
    from tokentrail import __version__

    return {"schema_version": SCHEMA_VERSION, "tool_version": __version__, **body}
