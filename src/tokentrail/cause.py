"""The likely cause: one sentence naming the largest avoidable cost driver with its dollars
and its share of the bill, or saying plainly that nothing stands out.

Drivers come from a receipt's own figures, never from the logs directly, so a receipt built
from logs and one rebuilt from git notes say the same thing:

- the findings, grouped by what the next run would do differently (cache re-writes by
  their cause, the other findings by detector), each group's dollars being its waste;
- the carry groups (`carry.summary` → `top_groups`): a file or a command whose output sat
  in the context and was re-sent on every later request, its dollars what that cost.

The largest group is named when it holds at least CLEAR_SHARE of the bill and CLEAR_USD
(with the runner-up when that one is clear too); below that, nothing stands out as
avoidable. Subagent reports and plans are what a session is for, so they never drive it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A driver worth naming holds at least this share of the bill: below ~3 % a session's cost
# is spread over its conversation and work, and no one change would move it; and at least
# a few cents, or a tiny session would name a $0.01 item as its cause.
CLEAR_SHARE = 0.03
CLEAR_USD = 0.05
# Carried results that are the point of the work, not a way to save: a subagent's report
# (delegating is the advice elsewhere), plans and to-do lists.
NOT_DRIVERS = {
    "Task",
    "Agent",
    "TodoWrite",
    "TodoRead",
    "update_plan",
    "EnterPlanMode",
    "ExitPlanMode",
    "AskUserQuestion",
}

REWRITE_CAUSES = {  # kind -> (one, several)
    "idle": (
        "after an idle gap past the cache lifetime",
        "after idle gaps past the cache lifetime",
    ),
    "background task notification": (
        "after a background task notification",
        "after background task notifications",
    ),
    "model switch": ("after a model switch", "after model switches"),
    "unexplained": ("with no cause in the log", "with no cause in the log"),
}
DETECTOR_LABELS = {
    "retry_loop": "failing calls re-run unchanged",
    "reread": "re-reads of unchanged files",
    "noisy_output": "oversized command and search outputs",
    "generated_read": "generated files read whole",
    "edit_cascade": "failed edits made blind",
    "error_churn": "variations on the same error",
    "broad_exploration": "files read and never used",
    "model_rightsizing": "premium-model calls a smaller model would do",
    "context_bloat": "oversized context",
}


@dataclass(frozen=True)
class Driver:
    label: str
    usd: float


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f} %" if whole > 0 else "0 %"


def _usd(value: Any) -> float:
    return float(value or 0.0)


def _k(tokens: int) -> str:
    return f"~{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)


def _short(what: str, limit: int = 60) -> str:
    """Long paths keep their last components, long commands their start."""
    what = " ".join(what.split())
    if len(what) <= limit:
        return what
    if "/" in what and " " not in what:
        parts = what.split("/")
        kept = parts[-1]
        for part in reversed(parts[:-1]):
            if len(part) + len(kept) + 3 > limit:
                break
            kept = f"{part}/{kept}"
        return "…/" + kept[-(limit - 2) :]
    return what[: limit - 1] + "…"


def _rewrite_kind(finding: Mapping[str, Any]) -> str:
    evidence = finding.get("evidence") or []
    first = evidence[0] if evidence and isinstance(evidence[0], Mapping) else {}
    kind = str(first.get("kind") or "")
    if kind:
        return kind
    title = str(finding.get("title") or "")  # receipts written before `kind` existed
    return next((k for k in REWRITE_CAUSES if title.endswith(k)), "unexplained")


def finding_drivers(findings: Sequence[Mapping[str, Any]]) -> list[Driver]:
    """Findings grouped by what the next run would change, with their waste."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for f in findings:
        detector = str(f.get("detector") or "?")
        kind = _rewrite_kind(f) if detector == "cache_rewrite" else ""
        groups.setdefault((detector, kind), []).append(f)
    out = []
    for (detector, kind), members in groups.items():
        usd = sum(_usd(f.get("wasted_usd")) for f in members)
        n = len(members)
        if detector == "cache_rewrite":
            lost = all(str(f.get("title") or "").startswith("prompt cache lost") for f in members)
            what = "prompt-cache loss" if lost else "cache re-write"
            plural = ("es" if lost else "s") if n > 1 else ""
            why = REWRITE_CAUSES.get(kind, (f"({kind})", f"({kind})"))[n > 1]
            label = f"{n} {what}{plural} {why}"
        elif n == 1:
            label = str(members[0].get("title") or detector)
        else:
            label = f"{n} {DETECTOR_LABELS.get(detector, detector.replace('_', ' ') + ' findings')}"
        out.append(Driver(label, usd))
    return out


def carry_drivers(groups: Iterable[Mapping[str, Any]]) -> list[Driver]:
    """Files and commands whose output the context carried, with what that cost."""
    out = []
    for g in groups:
        if not isinstance(g, Mapping):
            continue
        counted = ((str(k), int(v)) for k, v in (g.get("tools") or {}).items())
        tools = dict(sorted(counted, key=lambda kv: (-kv[1], kv[0])))  # notes sort keys
        if not tools and g.get("tool"):
            tools = {str(g["tool"]): 1}  # an item of an older receipt
        if tools and set(tools) <= NOT_DRIVERS:
            continue
        size = _k(int(g.get("largest_tokens") or g.get("size_tokens") or 0))
        times = int(g.get("carried_requests") or 0)
        what = _short(str(g.get("what") or g.get("tool") or "?"))
        kind = str(g.get("kind") or "")
        if kind == "file":
            copies = ", ".join(f"{n}× {tool}" for tool, n in tools.items())
            label = (
                f"{what} in the context ({copies}; up to {size} tokens, "
                f"re-sent up to {times} times)"
            )
        elif kind == "command":
            runs = sum(tools.values())
            ran = f"{runs} runs, " if runs > 1 else ""
            label = f"the output of `{what}` ({ran}{size} tokens re-sent {times} times)"
        else:
            tool = next(iter(tools), "tool")
            turn = g.get("turn")
            at = f" at turn {turn}" if turn is not None else ""
            about = f" ({what})" if what and what != tool else ""
            label = f"the {tool} result{at}{about}: {size} tokens re-sent {times} times"
        out.append(Driver(label, _usd(g.get("carry_usd"))))
    return out


def likely_cause(findings: Sequence[Mapping[str, Any]], carry: Mapping[str, Any]) -> str:
    """The largest avoidable driver in one sentence with its dollars and share, or an honest
    "nothing stands out". `carry` is a combined carry summary (carry.combine); without one
    (old notes) only the findings speak."""
    billed = _usd(carry.get("billed_usd"))
    if not carry.get("billed_tokens"):
        return _from_findings(findings)
    if billed <= 0:
        return "nothing was billed, so there is no cost driver"
    groups = carry.get("top_groups")
    if groups is None:  # receipts written before groups existed: items stand alone
        groups = carry.get("top_items") or []
    drivers = sorted([*finding_drivers(findings), *carry_drivers(groups)], key=lambda d: -d.usd)
    if not drivers or drivers[0].usd <= 0:
        return (
            f"nothing stands out as avoidable: no waste found and no tool output carried "
            f"worth naming; the ${billed:.2f} billed is conversation and work"
        )
    top = drivers[0]
    if not _clear(top, billed):
        return (
            f"nothing stands out as avoidable: the largest driver, {top.label}, is "
            f"${top.usd:.2f} ({_pct(top.usd, billed)} of the ${billed:.2f} billed); the rest "
            "is conversation and work"
        )
    sentence = f"{top.label}: ${top.usd:.2f} ({_pct(top.usd, billed)} of the ${billed:.2f} billed)"
    if len(drivers) > 1 and _clear(drivers[1], billed):
        sentence += f"; next, {drivers[1].label}: ${drivers[1].usd:.2f}"
    return sentence


def _clear(driver: Driver, billed: float) -> bool:
    return driver.usd >= CLEAR_SHARE * billed and driver.usd >= CLEAR_USD


def _from_findings(findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return "no waste findings were recorded for these commits"
    wasted = sum(_usd(f.get("wasted_usd")) for f in findings)
    top = max(finding_drivers(findings), key=lambda d: d.usd)
    return (
        f"no carry figures were recorded; findings total ${wasted:.2f}, the largest is "
        f"{top.label} (${top.usd:.2f})"
    )
