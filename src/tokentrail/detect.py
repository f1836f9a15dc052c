"""The detect step: run every detector plugin over sessions and keep the waste honest.

One entry point for the report and the lessons command: `analyze(sessions, pm, config)`.
A token is counted as waste by at most one finding (findings name what they claim; the
biggest finding keeps a contested claim), and a session's waste never exceeds its bill.
A detector that raises is reported through `pm.report` and skipped for that session.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson

from tokentrail import carry as carry_mod
from tokentrail.carry import SessionCarry
from tokentrail.hookspecs import Detector
from tokentrail.model import Finding, Lesson, Session
from tokentrail.plugins import TokentrailPluginManager
from tokentrail.thresholds import Thresholds, load_thresholds

FINDING_KEYS = (
    "id",
    "detector",
    "title",
    "session",
    "evidence",
    "wasted_tokens",
    "wasted_usd",
    "confidence",
    "measured",
    "lesson",
    "claims",
    "message",  # the fake and other simple plugins title their findings this way
)
# A driver is "the" cause only when it holds at least this share of the bill.
DOMINANT_SHARE = 0.25


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    lessons: list[Lesson] = field(default_factory=list)
    likely_cause: str = ""
    carry: dict[str, SessionCarry] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "likely_cause": self.likely_cause,
            "findings": [f.to_dict() for f in self.findings],
            "lessons": [lesson.to_dict() for lesson in self.lessons],
            "carry": carry_summary(self.carry.values()),
        }


def detectors(pm: TokentrailPluginManager) -> list[tuple[str, Detector]]:
    return pm.collect("register_detectors", Detector)  # type: ignore[type-abstract]


def finding_id(f: Finding) -> str:
    raw = orjson.dumps([f.detector, f.session, f.title, f.evidence], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha1(raw).hexdigest()[:12]


def _finite(value: Any, what: str) -> float:
    """A figure a finding claims, as a float; a finding with NaN, infinity or a
    non-number there is refused (its waste would poison every total it reaches)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} is a {type(value).__name__}, not a number")
    if not math.isfinite(value):
        raise ValueError(f"{what} is {value!r}, not a finite number")
    return float(value)


def coerce(item: Any, plugin: str, session: Session) -> Finding:
    """A Finding, or a mapping (third parties need not import us): missing figures mean
    "no waste claimed", other scalar keys become evidence. Raises TypeError/ValueError for
    a finding whose figures are not finite numbers."""
    if isinstance(item, Finding):
        f = item
    elif isinstance(item, Mapping):
        extra = {
            k: v
            for k, v in item.items()
            if k not in FINDING_KEYS and isinstance(v, (str, int, float, bool))
        }
        evidence = item.get("evidence")
        f = Finding(
            detector=str(item.get("detector") or plugin),
            title=str(item.get("title") or item.get("message") or item.get("detector") or plugin),
            session=str(item.get("session") or session.id),
            evidence=[dict(e) for e in evidence] if evidence else ([extra] if extra else []),
            wasted_tokens=item.get("wasted_tokens") or 0,
            wasted_usd=item.get("wasted_usd") or 0.0,
            confidence=item.get("confidence", 0.5),
            measured=bool(item.get("measured", False)),
            lesson=str(item.get("lesson") or ""),
            claims=dict(item.get("claims") or {}),
        )
    else:
        raise TypeError(f"yielded {type(item).__name__}, not a Finding or mapping")
    f.session = f.session or session.id
    f.wasted_tokens = max(int(_finite(f.wasted_tokens, "wasted_tokens")), 0)
    f.wasted_usd = max(_finite(f.wasted_usd, "wasted_usd"), 0.0)
    f.confidence = min(max(_finite(f.confidence, "confidence"), 0.0), 1.0)
    f.claims = {
        str(k): (
            max(int(_finite(v[0], f"claim {k} tokens")), 0),
            max(_finite(v[1], f"claim {k} usd"), 0.0),
        )
        for k, v in f.claims.items()
    }
    if not f.claims:  # nothing to share: it owns exactly what it says
        f.claims = {f"{plugin}:{f.title}": (f.wasted_tokens, f.wasted_usd)}
    return f


def settle(findings: list[Finding], billed_tokens: int, billed_usd: float) -> list[Finding]:
    """Each claimed resource counts once (the biggest finding keeps it); the session's
    waste is capped at its bill."""
    taken: set[str] = set()
    kept: list[Finding] = []
    tokens_left, usd_left = billed_tokens, billed_usd
    for f in sorted(findings, key=lambda f: (-f.wasted_usd, -f.wasted_tokens, f.detector)):
        lost_t, lost_u = 0, 0.0
        for key, (t, u) in f.claims.items():
            if key in taken:
                lost_t, lost_u = lost_t + t, lost_u + u
            else:
                taken.add(key)
        tokens = min(f.wasted_tokens - lost_t, tokens_left)
        usd = min(f.wasted_usd - lost_u, usd_left)
        if tokens <= 0 and f.wasted_tokens > 0:
            continue  # everything it claimed was already counted by a bigger finding
        tokens = max(tokens, 0)
        f.wasted_tokens, f.wasted_usd = tokens, max(usd, 0.0)
        tokens_left -= tokens
        usd_left -= f.wasted_usd
        kept.append(f)
    return kept


def detect_session(
    session: Session,
    pm: TokentrailPluginManager,
    found: Sequence[tuple[str, Detector]],
    config: Mapping[str, Any],
    thresholds: Thresholds,
) -> tuple[list[Finding], SessionCarry]:
    carry = carry_mod.compute(session)
    context = {"carry": carry, "thresholds": thresholds, "config": config}
    findings: list[Finding] = []
    for plugin, detector in found:
        stage = f"detect {session.id}"
        produced = pm.guard(plugin, stage, partial(_detect, detector, session, context))
        for item in produced or []:
            try:
                findings.append(coerce(item, plugin, session))
            except (TypeError, ValueError, OverflowError, IndexError) as exc:
                pm.report(plugin, stage, exc)  # that finding is dropped, not the others
    for f in findings:
        f.id = f.id or finding_id(f)
    return settle(findings, carry.billed_tokens, carry.billed_usd), carry


def _detect(detector: Detector, session: Session, context: Mapping[str, Any]) -> list[Any]:
    return list(detector.detect(session, context))


def analyze(
    sessions: Iterable[Session], pm: TokentrailPluginManager, config: Mapping[str, Any]
) -> Analysis:
    """Findings, lessons, the likely cause and the carry model for these sessions."""
    from tokentrail.lessons import build_lessons

    thresholds = load_thresholds(config)
    found = detectors(pm)
    out = Analysis()
    for session in sessions:
        findings, carry = detect_session(session, pm, found, config, thresholds)
        out.findings.extend(findings)
        out.carry[session.id] = carry
    out.findings.sort(key=lambda f: (-f.wasted_usd, f.session, f.id))
    out.lessons = build_lessons(out.findings)
    out.likely_cause = likely_cause(out.findings, list(out.carry.values()))
    return out


def carry_summary(carries: Iterable[SessionCarry], top: int = 5) -> dict[str, Any]:
    """Which files and commands burned the context, and the rest."""
    carries = list(carries)
    items = sorted(
        (i for c in carries for i in c.items), key=lambda i: (-i.carry_usd, -i.carry_tokens)
    )
    billed = sum(c.billed_tokens for c in carries)
    carried = sum(c.carried_tokens for c in carries)
    return {
        "billed_tokens": billed,
        "billed_usd": round(sum(c.billed_usd for c in carries), 6),
        "carried_tokens": carried,
        "carried_usd": round(sum(c.carried_usd for c in carries), 6),
        "remainder_tokens": billed - carried,
        "remainder_usd": round(sum(c.remainder_usd for c in carries), 6),
        "top_items": [
            {
                "session": next((c.session_id for c in carries if i.call.id in c.by_call), ""),
                "tool": i.call.name,
                "what": i.call.command or ", ".join(i.call.files) or i.call.summary,
                "turn": i.call.request_index,
                "size_tokens": i.size_tokens,
                "measured": i.measured,
                "carried_requests": i.carried_requests,
                "carry_tokens": i.carry_tokens,
                "carry_usd": round(i.carry_usd, 6),
            }
            for i in items[:top]
            if i.carry_tokens > 0
        ],
    }


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f} %" if whole > 0 else "0 %"


def dominant_finding(findings: Sequence[Finding], billed_usd: float) -> str | None:
    """The detector whose findings hold at least DOMINANT_SHARE of the bill, in a sentence."""
    by_detector: dict[str, tuple[float, int, str]] = {}
    for f in findings:
        usd, n, title = by_detector.get(f.detector, (0.0, 0, f.title))
        by_detector[f.detector] = (usd + f.wasted_usd, n + 1, title)
    if not by_detector or billed_usd <= 0:
        return None
    name, (usd, n, title) = max(by_detector.items(), key=lambda kv: kv[1][0])
    if usd < DOMINANT_SHARE * billed_usd:
        return None
    what = title if n == 1 else f"{n} {name.replace('_', ' ')} findings"
    return f"{what}: ${usd:.2f} of ${billed_usd:.2f} billed ({_pct(usd, billed_usd)}) was avoidable"


def cause_from_findings(findings: Sequence[Finding], billed_usd: float) -> str:
    """The likely cause when only findings are known (a report built from git notes, where
    the carry model of the sessions is not available)."""
    dominant = dominant_finding(findings, billed_usd)
    if dominant:
        return dominant
    if not findings:
        return "no waste findings were recorded for these commits"
    wasted = sum(f.wasted_usd for f in findings)
    top = max(findings, key=lambda f: f.wasted_usd)
    return (
        f"no single driver dominates: findings total ${wasted:.2f} "
        f"({_pct(wasted, billed_usd)} of the bill), the largest is {top.title} "
        f"(${top.wasted_usd:.2f})"
    )


def finding_from_dict(d: Mapping[str, Any]) -> Finding:
    """A finding as notes carry it, back into the model (claims are not carried)."""
    return Finding(
        detector=str(d.get("detector") or "?"),
        title=str(d.get("title") or ""),
        session=str(d.get("session") or ""),
        evidence=list(d.get("evidence") or []),
        wasted_tokens=int(d.get("wasted_tokens") or 0),
        wasted_usd=float(d.get("wasted_usd") or 0.0),
        confidence=float(d.get("confidence") or 0.0),
        measured=bool(d.get("measured")),
        lesson=str(d.get("lesson") or ""),
        id=str(d.get("id") or ""),
    )


def likely_cause(findings: Sequence[Finding], carries: Sequence[SessionCarry]) -> str:
    """The single biggest driver in one sentence with its number, or an honest 'none'."""
    billed_usd = sum(c.billed_usd for c in carries)
    input_side = sum(c.input_side_tokens for c in carries)
    if not carries or (billed_usd <= 0 and input_side <= 0):
        return "nothing was billed, so there is no cost driver"
    dominant = dominant_finding(findings, billed_usd)
    if dominant:
        return dominant
    carried = sum(c.carried_tokens for c in carries)
    items = [i for c in carries for i in c.items]
    largest = max(items, key=lambda i: i.carry_tokens, default=None)
    largest_share = _pct(largest.carry_tokens, input_side) if largest else "0 %"
    if largest and input_side and largest.carry_tokens >= DOMINANT_SHARE * input_side:
        what = largest.call.command or ", ".join(largest.call.files) or largest.call.name
        return (
            f"one tool result ({largest.call.name} {what[:60]}) was re-sent "
            f"{largest.carried_requests} times: {largest_share} of input-side tokens"
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
