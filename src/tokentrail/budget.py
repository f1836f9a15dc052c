"""Budgets: how much a branch, the next commit and waste may cost before `tokentrail check`
warns (or, with `--strict`, refuses).

Limits come from `.tokentrail.yml` (`budget.branch_usd`, `budget.commit_usd`,
`budget.max_waste_share`) and are overridden by command-line flags. The comparison is a
pure function of a finished branch receipt (receipt.finish), so it reads the same whether
the receipt came from logs or from notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokentrail.errors import TokentrailError

BUDGET_KEYS = ("branch_usd", "commit_usd", "max_waste_share")
ERROR_CODE = "budget_invalid"
FLAGS = {
    "branch_usd": "--budget",
    "commit_usd": "--commit-budget",
    "max_waste_share": "--max-waste-share",
}


@dataclass(frozen=True, slots=True)
class Budget:
    branch_usd: float | None = None  # the whole branch (committed + pending)
    commit_usd: float | None = None  # pending work: what the next commit will carry
    max_waste_share: float | None = None  # findings' wasted $ / branch $, 0..1

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.branch_usd, self.commit_usd, self.max_waste_share))

    def to_dict(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in BUDGET_KEYS}


def _number(name: str, key: str, value: Any) -> float | None:
    """A limit is a number >= 0 (a share also <= 1); `null` means no limit. `name` is how
    the message names it (`file: budget.branch_usd`, `--budget`)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise TokentrailError(ERROR_CODE, f"{name} must be a number, not {value!r}")
    if value < 0:
        raise TokentrailError(ERROR_CODE, f"{name} must be >= 0, not {value!r}")
    if key == "max_waste_share" and value > 1:
        raise TokentrailError(
            ERROR_CODE,
            f"{name} is a fraction of the branch cost between 0 and 1 (0.2 = 20%), not {value!r}",
        )
    return float(value)


def validate_budget(source: str, section: Any) -> dict[str, float]:
    """The `budget:` section of a config file, checked; `source` names the file in
    messages. Unknown keys are errors so a typo never silently disables a limit."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise TokentrailError(
            ERROR_CODE,
            f"{source}: `budget` must be a mapping with {', '.join(BUDGET_KEYS)}",
        )
    unknown = sorted(str(k) for k in set(section) - set(BUDGET_KEYS))
    if unknown:
        raise TokentrailError(
            ERROR_CODE,
            f"{source}: budget has unknown keys {unknown}; allowed: {', '.join(BUDGET_KEYS)}",
        )
    out: dict[str, float] = {}
    for key in BUDGET_KEYS:
        value = _number(f"{source}: budget.{key}", key, section.get(key))
        if value is not None:
            out[key] = value
    return out


def parse_amount(flag: str, value: str | None, *, share: bool = False) -> float | None:
    """`5`, `$5`, `2.50`; a share also as `20%`. Parsed here rather than by click, so a bad
    value in a hook's `args:` is a warning like any other tokentrail problem, not exit 2;
    `check` and `comment` accept the same syntax."""
    if value is None:
        return None
    text = value.strip().lstrip("$").replace(",", "")
    scale = 1.0
    if share and text.endswith("%"):
        text, scale = text[:-1], 0.01
    try:
        return float(text) * scale
    except ValueError:
        raise TokentrailError(ERROR_CODE, f"{flag} {value!r} is not a number") from None


def resolve_budget(config: Mapping[str, Any], **flags: float | None) -> Budget:
    """Config limits with flags on top (a flag given wins, even over a stricter config)."""
    source = str(config.get("_path") or ".tokentrail.yml")
    merged: dict[str, Any] = dict(validate_budget(source, config.get("budget")))
    for key, value in flags.items():
        if key not in BUDGET_KEYS:
            raise TypeError(f"unknown budget flag {key}")
        if value is not None:
            merged[key] = _number(FLAGS[key], key, value)
    return Budget(**merged)


def _cost(row: Mapping[str, Any] | None) -> float | None:
    if not row:
        return None
    value = row.get("cost_usd")
    return float(value) if value is not None else None


def money(value: float | None) -> str:
    if value is None:
        return "unpriced"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def _limit(cost: float | None, limit: float | None) -> dict[str, Any]:
    over = cost is not None and limit is not None and cost > limit
    return {"cost_usd": cost, "budget_usd": limit, "over": over}


def evaluate(receipt: Mapping[str, Any], budget: Budget) -> dict[str, Any]:
    """The verdict: each limit with its figure and whether it is breached, the top cause,
    and 2-4 short lines for a terminal or a hook's output."""
    branch_cost = _cost(receipt.get("totals"))
    pending = receipt.get("pending") or {}
    pending_cost = _cost(pending)
    waste = receipt["waste"]
    wasted_usd, wasted_tokens, n_findings = (
        float(waste["wasted_usd"]),
        int(waste["wasted_tokens"]),
        int(waste["findings"]),
    )
    share = waste["share"]
    waste_over = (
        budget.max_waste_share is not None and share is not None and share > budget.max_waste_share
    )
    verdict: dict[str, Any] = {
        "branch_total": _limit(branch_cost, budget.branch_usd),
        "pending": {
            **_limit(pending_cost, budget.commit_usd),
            "requests": int(pending.get("requests") or 0),
        },
        "waste": {
            "wasted_usd": round(wasted_usd, 6),
            "wasted_tokens": wasted_tokens,
            "findings": n_findings,
            "share": round(share, 4) if share is not None else None,
            "max_share": budget.max_waste_share,
            "over": waste_over,
        },
        "likely_cause": receipt.get("likely_cause") or None,
        "budget": budget.to_dict(),
    }
    breaches = [
        name
        for name, part in (
            ("branch", verdict["branch_total"]),
            ("commit", verdict["pending"]),
            ("waste", verdict["waste"]),
        )
        if part["over"]
    ]
    verdict["over"] = breaches
    verdict["status"] = "over_budget" if breaches else "ok"
    verdict["lines"] = verdict_lines(receipt, verdict)
    return verdict


def _against(cost: float | None, limit: float | None, what: str) -> str:
    if limit is None:
        return "(no budget set)"
    if cost is None:
        return f"of {money(limit)} {what} (unpriced, not compared)"
    if cost > limit:
        return f"of {money(limit)} {what}: OVER by {money(cost - limit)}"
    return f"of {money(limit)} {what} ({cost / limit:.0%})" if limit else f"of {money(limit)}"


def verdict_lines(receipt: Mapping[str, Any], verdict: Mapping[str, Any]) -> list[str]:
    """Two to four lines: branch, pending, waste (when measured or limited), top cause."""
    branch = receipt.get("branch") or "(detached)"
    b, p, w = verdict["branch_total"], verdict["pending"], verdict["waste"]
    lines = [
        f"branch {branch}: {money(b['cost_usd'])} API-equivalent "
        + _against(b["cost_usd"], b["budget_usd"], "branch budget"),
        f"pending (next commit): {money(p['cost_usd'] if p['requests'] else 0.0)} "
        + _against(p["cost_usd"] if p["requests"] else 0.0, p["budget_usd"], "commit budget"),
    ]
    if w["findings"] or w["max_share"] is not None:
        share = "n/a" if w["share"] is None else f"{w['share']:.0%}"
        text = f"waste: {share} of the branch ({money(w['wasted_usd'])})"
        if w["max_share"] is not None:
            text += f", max {w['max_share']:.0%}" + (": OVER" if w["over"] else "")
        lines.append(text)
    if verdict.get("likely_cause"):
        lines.append(f"top cause: {verdict['likely_cause']}")
    return lines
