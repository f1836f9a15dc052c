"""Budgets: how much a branch, the next commit and waste may cost before `tokentrail check`
warns (or, with `--strict`, refuses).

Limits come from `.tokentrail.yml` (`budget.branch_usd`, `budget.commit_usd`,
`budget.max_waste_share`, `budget.unpriced`) and are overridden by command-line flags. The
comparison is a pure function of a finished branch receipt (receipt.finish), so it reads
the same whether the receipt came from logs or from notes.

Requests on a model nobody prices have no dollar figure: a budget can only compare the
priced part. The verdict says how many requests that leaves out, and `unpriced: fail`
(`--unpriced fail`) counts any unpriced work under a budget as a breach.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokentrail import fmt
from tokentrail.errors import TokentrailError

BUDGET_KEYS = ("branch_usd", "commit_usd", "max_waste_share")
UNPRICED_KEY = "unpriced"
# what unpriced requests do to a verdict: said and left out of the comparison, or a breach
UNPRICED_POLICIES = ("warn", "fail")
ERROR_CODE = "budget_invalid"
FLAGS = {
    "branch_usd": "--budget",
    "commit_usd": "--commit-budget",
    "max_waste_share": "--max-waste-share",
    UNPRICED_KEY: "--unpriced",
}


@dataclass(frozen=True, slots=True)
class Budget:
    branch_usd: float | None = None  # the whole branch (committed + pending)
    commit_usd: float | None = None  # pending work: what the next commit will carry
    max_waste_share: float | None = None  # findings' wasted $ / branch $, 0..1
    unpriced: str = "warn"  # "fail": unpriced work under a budget is a breach

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.branch_usd, self.commit_usd, self.max_waste_share))

    def to_dict(self) -> dict[str, float | str | None]:
        return {k: getattr(self, k) for k in (*BUDGET_KEYS, UNPRICED_KEY)}


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
    allowed = (*BUDGET_KEYS, UNPRICED_KEY)
    unknown = sorted(str(k) for k in set(section) - set(allowed))
    if unknown:
        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise TokentrailError(
            ERROR_CODE,
            f"{source}: budget has unknown keys {unknown}{hint}; allowed: {', '.join(allowed)}",
        )
    out: dict[str, Any] = {}
    for key in BUDGET_KEYS:
        value = _number(f"{source}: budget.{key}", key, section.get(key))
        if value is not None:
            out[key] = value
    if section.get(UNPRICED_KEY) is not None:
        out[UNPRICED_KEY] = unpriced_policy(f"{source}: budget.unpriced", section[UNPRICED_KEY])
    return out


def unpriced_policy(name: str, value: Any) -> str:
    """`warn` or `fail`; `name` says where the value came from."""
    if value not in UNPRICED_POLICIES:
        raise TokentrailError(
            ERROR_CODE, f"{name} is {' or '.join(UNPRICED_POLICIES)}, not {value!r}"
        )
    return str(value)


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


def resolve_budget(config: Mapping[str, Any], **flags: float | str | None) -> Budget:
    """Config limits with flags on top (a flag given wins, even over a stricter config)."""
    source = str(config.get("_path") or ".tokentrail.yml")
    merged: dict[str, Any] = dict(validate_budget(source, config.get("budget")))
    for key, value in flags.items():
        if key not in FLAGS:
            raise TypeError(f"unknown budget flag {key}")
        if value is None:
            continue
        if key == UNPRICED_KEY:
            merged[key] = unpriced_policy(FLAGS[key], value)
        else:
            merged[key] = _number(FLAGS[key], key, value)
    return Budget(**merged)


def _cost(row: Mapping[str, Any] | None) -> float | None:
    if not row:
        return None
    value = row.get("cost_usd")
    return float(value) if value is not None else None


money = fmt.money


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
    totals = receipt.get("totals") or {}
    verdict: dict[str, Any] = {
        "branch_total": {
            **_limit(branch_cost, budget.branch_usd),
            "requests": int(totals.get("requests") or 0),
            "unpriced_requests": int(totals.get("unpriced_requests") or 0),
        },
        "pending": {
            **_limit(pending_cost, budget.commit_usd),
            "requests": int(pending.get("requests") or 0),
            "unpriced_requests": int(pending.get("unpriced_requests") or 0),
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
    verdict["unpriced"] = _unpriced(verdict["branch_total"], verdict["pending"], budget)
    breaches = [
        name
        for name, part in (
            ("branch", verdict["branch_total"]),
            ("commit", verdict["pending"]),
            ("waste", verdict["waste"]),
            ("unpriced", verdict["unpriced"]),
        )
        if part["over"]
    ]
    verdict["over"] = breaches
    verdict["status"] = "over_budget" if breaches else "ok"
    verdict["lines"] = verdict_lines(receipt, verdict)
    return verdict


def _unpriced(
    branch: Mapping[str, Any], pending: Mapping[str, Any], budget: Budget
) -> dict[str, Any]:
    """Requests no price source knows: how many, and whether they breach a budget (only
    with `unpriced: fail`, and only under a budget they would count against)."""
    over = budget.unpriced == "fail" and (
        (budget.branch_usd is not None and branch["unpriced_requests"] > 0)
        or (budget.commit_usd is not None and pending["unpriced_requests"] > 0)
    )
    return {
        "requests": branch["unpriced_requests"],
        "of": branch["requests"],
        "pending_requests": pending["unpriced_requests"],
        "policy": budget.unpriced,
        "over": over,
    }


def _against(cost: float | None, limit: float | None, what: str) -> str:
    if limit is None:
        return "(no budget set)"
    if cost is None:
        return f"of {money(limit)} {what} (unpriced, not compared)"
    if cost > limit:
        return f"of {money(limit)} {what}: OVER by {money(cost - limit)}"
    return f"of {money(limit)} {what} ({fmt.share(cost, limit)})" if limit else f"of {money(limit)}"


def _priced(cost: float | None, unpriced: int) -> str:
    """`$0.10`, or `$0.10 + 33 unpriced` when part of the work has no price, or
    `unpriced` when none of it has."""
    if cost is None:
        return money(None)
    return fmt.cost({"cost_usd": cost, "unpriced_requests": unpriced})


def verdict_lines(receipt: Mapping[str, Any], verdict: Mapping[str, Any]) -> list[str]:
    """Two to five lines: branch, pending, unpriced work (when there is some), waste (when
    measured or limited), top cause."""
    branch = receipt.get("branch") or "(detached)"
    b, p, w = verdict["branch_total"], verdict["pending"], verdict["waste"]
    pending_cost = p["cost_usd"] if p["requests"] else 0.0
    lines = [
        f"branch {branch}: {_priced(b['cost_usd'], b['unpriced_requests'])} API-equivalent "
        + _against(b["cost_usd"], b["budget_usd"], "branch budget"),
        f"pending (next commit): {_priced(pending_cost, p['unpriced_requests'])} "
        + _against(pending_cost, p["budget_usd"], "commit budget"),
    ]
    u = verdict["unpriced"]
    if u["requests"]:
        text = (
            f"unpriced: {u['requests']} of {fmt.count(u['of'], 'request')} used a model "
            "without a known price"
        )
        if b["budget_usd"] is not None or p["budget_usd"] is not None:
            text += "; budgets compare the priced part only"
            text += (
                ": OVER (--unpriced fail)"
                if u["over"]
                else " (--unpriced fail counts them as over budget)"
            )
        lines.append(text)
    if w["findings"] or w["max_share"] is not None:
        text = f"waste: {fmt.percent(w['share'])} of the branch ({money(w['wasted_usd'])})"
        if w["max_share"] is not None:
            text += f", max {fmt.percent(w['max_share'])}" + (": OVER" if w["over"] else "")
        lines.append(text)
    if verdict.get("likely_cause"):
        lines.append(f"top cause: {verdict['likely_cause']}")
    return lines
