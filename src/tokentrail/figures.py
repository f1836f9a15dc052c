"""Token and dollar figures in the field names every `--json` output shares."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tokentrail.model import Request, Session, Usage

SCHEMA_VERSION = 1
# Costs are summed exactly (math.fsum: the correctly rounded sum), so a total is the same
# whatever order or grouping its requests were added in: over requests, or over the exact
# per-session sums the index keeps (`cost_units`, in units of 2**-1074 dollars).
_UNIT_BITS = 1074


def cost_units(costs: Iterable[float]) -> int | None:
    """The exact sum of `costs` as an integer number of 2**-1074 (every finite float is
    one); None when a cost is infinite or NaN (a plugin's bad price)."""
    total = 0
    for cost in costs:
        if not math.isfinite(cost):
            return None
        numerator, denominator = cost.as_integer_ratio()
        total += numerator << (_UNIT_BITS + 1 - denominator.bit_length())
    return total


def units_to_usd(units: int) -> float:
    """An exact sum back to the nearest float (int true division rounds correctly)."""
    return units / (1 << _UNIT_BITS)


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
    costs: list[float] = []
    count = unpriced = lower_bound = 0
    for r in requests:
        count += 1
        usage.add(r.usage)
        if r.cost_usd is None:
            unpriced += 1
        else:
            costs.append(r.cost_usd)
        lower_bound += r.output_lower_bound
    priced = len(costs)
    cost = math.fsum(costs)
    return {
        "requests": count,
        **usage_fields(usage),
        "web_search_requests": usage.web_search_requests,
        "cost_usd": round(cost, 6) if priced or not count else None,
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
