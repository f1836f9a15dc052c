"""The likely cause: one sentence naming the biggest cost driver with its number.

It is computed from a receipt's own figures (its findings and its carry summary), never
from the logs directly, so a receipt built from logs and one rebuilt from git notes say the
same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tokentrail import fmt

# A driver is "the" cause only when it holds at least this share of the bill.
DOMINANT_SHARE = 0.25


def _pct(part: float, whole: float) -> str:
    return fmt.share(part, whole) if whole > 0 else "0%"


def _usd(finding: Mapping[str, Any]) -> float:
    return float(finding.get("wasted_usd") or 0.0)


def dominant_finding(findings: Sequence[Mapping[str, Any]], billed_usd: float) -> str | None:
    """The detector whose findings hold at least DOMINANT_SHARE of the bill, in a sentence."""
    by_detector: dict[str, tuple[float, int, str]] = {}
    for f in findings:
        name = str(f.get("detector") or "?")
        usd, n, title = by_detector.get(name, (0.0, 0, str(f.get("title") or name)))
        by_detector[name] = (usd + _usd(f), n + 1, title)
    if not by_detector or billed_usd <= 0:
        return None
    name, (usd, n, title) = max(by_detector.items(), key=lambda kv: kv[1][0])
    if usd < DOMINANT_SHARE * billed_usd:
        return None
    what = title if n == 1 else f"{n} {name.replace('_', ' ')} findings"
    return (
        f"{what}: {fmt.money(usd)} of {fmt.money(billed_usd)} billed "
        f"({_pct(usd, billed_usd)}) was avoidable"
    )


def likely_cause(findings: Sequence[Mapping[str, Any]], carry: Mapping[str, Any]) -> str:
    """The single biggest driver in one sentence with its number, or an honest 'none'.
    `carry` is a combined carry summary (carry.combine); without one (old notes) only the
    findings speak."""
    billed_usd = float(carry.get("billed_usd") or 0.0)
    input_side = int(carry.get("input_side_tokens") or 0)
    if not carry.get("billed_tokens"):
        return _from_findings(findings)
    if billed_usd <= 0 and input_side <= 0:
        return "nothing was billed, so there is no cost driver"
    dominant = dominant_finding(findings, billed_usd)
    if dominant:
        return dominant
    carried = int(carry.get("carried_tokens") or 0)
    items = [i for i in carry.get("top_items") or [] if isinstance(i, Mapping)]
    largest = max(items, key=lambda i: int(i.get("carry_tokens") or 0), default=None)
    largest_tokens = int(largest.get("carry_tokens") or 0) if largest else 0
    largest_share = _pct(largest_tokens, input_side)
    if largest and input_side and largest_tokens >= DOMINANT_SHARE * input_side:
        what = str(largest.get("what") or largest.get("tool") or "?")
        return (
            f"one tool result ({largest.get('tool')} {what[:60]}) was re-sent "
            f"{largest.get('carried_requests')} times: {largest_share} of input-side tokens"
        )
    if input_side and carried >= 0.5 * input_side:
        return (
            f"accumulated tool output: {_pct(carried, input_side)} of input-side tokens, "
            f"largest item {largest_share}; no single item or mistake dominates"
        )
    return (
        f"no single driver dominates: tool output carried is {_pct(carried, input_side)} "
        f"of input-side tokens (largest item {largest_share}); the rest is conversation "
        "and work"
    )


def _from_findings(findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return "no waste findings were recorded for these commits"
    wasted = sum(_usd(f) for f in findings)
    top = max(findings, key=_usd)
    return (
        f"no carry figures were recorded; findings total {fmt.money(wasted)}, the largest is "
        f"{top.get('title')} ({fmt.money(_usd(top))})"
    )
