"""Token and dollar figures in the field names every `--json` output shares."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tokentrail.logfile import display
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


# Summable figures of a receipt row, in the names totals() gives them.
COUNT_FIELDS = (
    "requests",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "web_search_requests",
    "unpriced_requests",
    "output_lower_bound_requests",
)


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
    is None when none could be priced; `unpriced_requests` says how many were left out.
    `limit_pct`: weekly rate-limit points the agent reported for these requests (an upper
    bound, see Request.limit_pct), None when no request reported any."""
    usage = Usage()
    costs: list[float] = []
    limits: list[float] = []
    count = unpriced = lower_bound = 0
    for r in requests:
        count += 1
        usage.add(r.usage)
        if r.cost_usd is None:
            unpriced += 1
        else:
            costs.append(r.cost_usd)
        lower_bound += r.output_lower_bound
        if r.limit_pct is not None:
            limits.append(r.limit_pct)
    priced = len(costs)
    cost = math.fsum(costs)
    return {
        "requests": count,
        **usage_fields(usage),
        "web_search_requests": usage.web_search_requests,
        "cost_usd": round(cost, 6) if priced or not count else None,
        "total_tokens": usage.total,
        "unpriced_requests": unpriced,
        "output_lower_bound_requests": lower_bound,
        "limit_pct": round(math.fsum(limits), 4) if limits else None,
    }


def agent_cost(requests: Iterable[Request], session_total: float | None = None) -> dict[str, Any]:
    """The cost the agent recorded itself, beside tokentrail's price of the same requests.

    `agent_cost_usd` is None when the log records no cost; `agent_cost_requests` says how
    many requests carried one and `cost_usd_same_requests` is tokentrail's price of
    exactly those (None when none of them could be priced), so the two compare like for
    like. An agent that records one running total for the whole session instead (Claude
    Code `cost-state`: `session_total`) is compared with the price of all its requests;
    the difference is usage the transcript does not show."""
    requests = list(requests)
    recorded = [r for r in requests if r.agent_cost_usd is not None]
    if not recorded and session_total is not None:
        priced = [r.cost_usd for r in requests if r.cost_usd is not None]
        return {
            "agent_cost_usd": round(session_total, 6),
            "agent_cost_requests": len(requests),
            "cost_usd_same_requests": round(sum(priced), 6) if priced else None,
        }
    ours = [r.cost_usd for r in recorded if r.cost_usd is not None]
    return {
        "agent_cost_usd": round(sum(r.agent_cost_usd or 0.0 for r in recorded), 6)
        if recorded
        else None,
        "agent_cost_requests": len(recorded),
        "cost_usd_same_requests": round(sum(ours), 6) if ours else None,
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
        **agent_cost(session.requests, session.agent_cost_usd),
        "paths": [display(p) for p in session.paths],
    }


def envelope(**body: Any) -> dict[str, Any]:
    from tokentrail import __version__

    return {"schema_version": SCHEMA_VERSION, "tool_version": __version__, **body}
