"""How every figure reads, in every renderer: money, tokens, percentages and confidence.

The terminal, Markdown, HTML and the budget lines all format through here, so one amount
reads the same everywhere ("<$0.01", never "$0.00" for a cost that is not zero, and never
"$0.0002" in one place and "$0.00" in another), shares use one style ("30%"), confidence
is a percentage, and token counts keep about three significant digits in every column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNPRICED = "unpriced"
SMALLEST_CENT = 0.01


def money(value: float | None) -> str:
    """`$1,234.56`; `<$0.01` for an amount that is positive but under a cent; `$0.00` only
    for zero; `unpriced` when no price was known (never a silent $0)."""
    if value is None:
        return UNPRICED
    if value < 0:
        return "-" + money(-value)
    if value == 0:
        return "$0.00"
    if value < SMALLEST_CENT:
        return "<$0.01"
    return f"${value:,.2f}"


def cost(row: Mapping[str, Any]) -> str:
    """A row's cost: `$1.23`, `$1.23 + 4 unpriced`, `unpriced`, or `-` for no requests."""
    value, unpriced = row.get("cost_usd"), int(row.get("unpriced_requests") or 0)
    if value is None:
        return UNPRICED if unpriced else "-"
    text = money(float(value))
    return f"{text} + {unpriced} unpriced" if unpriced else text


def saving(value: float | None) -> str:
    """An estimated saving: `~$0.60`, or `<$0.01` when it is less than a cent."""
    if value is None:
        return UNPRICED
    text = money(float(value))
    return text if text.startswith(("<", "$0.00")) else "~" + text


def tokens(n: int | None) -> str:
    """`418`, `5.3k`, `13k`, `383k`, `2.7M`, `27M`, `1.2G`: about three significant digits,
    so every figure in a column reads the same way."""
    if n is None:
        return "-"
    if n < 0:
        return "-" + tokens(-n)
    if n < 1000:
        return str(n)
    for size, suffix in ((1_000, "k"), (1_000_000, "M"), (1_000_000_000, "G")):
        scaled = n / size
        if round(scaled, 1) < 10:
            return f"{scaled:.1f}{suffix}"
        if round(scaled) < 1000 or suffix == "G":
            return f"{round(scaled)}{suffix}"
    raise AssertionError("unreachable")


def output(row: Mapping[str, Any]) -> str:
    """Output tokens, marked `≥` when the log kept placeholders for some calls."""
    mark = "≥" if row.get("output_lower_bound_requests") else ""
    return mark + tokens(row.get("output_tokens"))


def percent(fraction: float | None) -> str:
    """`30%`; `<1%` for a share that is positive but rounds to zero; `n/a` when unknown."""
    if fraction is None:
        return "n/a"
    if 0 < fraction < 0.005:
        return "<1%"
    return f"{fraction:.0%}"


def share(part: float | None, whole: float | None) -> str:
    """`part` as a percentage of `whole` (`n/a` when there is no whole)."""
    if not whole:
        return "n/a"
    return percent((part or 0.0) / whole)


def confidence(value: float | None) -> str:
    """A detector's confidence, as a percentage like every other share."""
    return percent(None if value is None else float(value))


def count(n: int, singular: str, plural: str | None = None) -> str:
    """`1 request`, `2 requests`."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def rate_limit_share(doc: Mapping[str, Any]) -> str | None:
    """For a receipt under a subscription plan (`plan:` in .tokentrail.yml), the weekly
    rate-limit points its requests moved, as the agents reported them; None under the API
    plan or when no log carried rate limits. An upper bound: the agent reports the whole
    account's window, so other sessions in the same window count too."""
    plan = doc.get("plan") or "api"
    points = (doc.get("totals") or {}).get("limit_pct")
    if plan == "api" or points is None:
        return None
    return (
        f"plan {plan}: up to {percent(float(points) / 100)} of the weekly rate limit "
        "(as the agents reported it; other sessions in the same window count too)"
    )
