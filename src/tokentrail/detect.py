"""The detect step: run every detector plugin over sessions and keep the waste honest.

One entry point for the pipeline: `analyze(sessions, pm, pricer)`, optionally with the
index's stored results (`Results`), so a session that did not change is not analysed again.
A token is counted as waste by at most one finding (findings name what they claim; the
biggest finding keeps a contested claim), and a session's waste never exceeds its bill.
A detector that raises is reported through `pm.report` and skipped for that session.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Protocol

import orjson

from tokentrail import __version__
from tokentrail import carry as carry_mod
from tokentrail.carry import CarryItem, SessionCarry
from tokentrail.hookspecs import Detector
from tokentrail.model import Finding, Lesson, Session
from tokentrail.plugins import BUILTIN_PLUGINS, TokentrailPluginManager
from tokentrail.pricing import Pricer
from tokentrail.thresholds import Thresholds, declared, load_thresholds

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


@dataclass(frozen=True)
class DetectContext:
    """What a detector gets besides the session: the carry model, the thresholds in force,
    the config, and the pricer (every what-if dollar figure goes through it). Item access
    (`context["carry"]`) keeps detectors written against the mapping form working."""

    carry: SessionCarry
    thresholds: Thresholds
    config: Mapping[str, Any]
    pricer: Pricer

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


@dataclass
class Analysis:
    """What the detectors found in a set of sessions; the receipt turns it into figures."""

    findings: list[Finding] = field(default_factory=list)
    lessons: list[Lesson] = field(default_factory=list)
    carry: dict[str, SessionCarry] = field(default_factory=dict)


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
    pricer: Pricer,
    thresholds: Thresholds,
) -> tuple[list[Finding], SessionCarry]:
    carry = carry_mod.compute(session, pricer)
    context = DetectContext(carry, thresholds, pricer.config, pricer)
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


def _detect(detector: Detector, session: Session, context: DetectContext) -> list[Any]:
    return list(detector.detect(session, context))


class Results(Protocol):
    """Where detector results are kept between runs (the index): by session, under a
    context string that names everything the results depend on besides the session."""

    def get(self, sessions: Sequence[Session], context: str) -> dict[int, bytes]:
        """Stored results by `id(session)`."""

    def put(self, results: Sequence[tuple[Session, bytes]], context: str) -> None:
        """Keep these sessions' results."""


def context_key(
    pm: TokentrailPluginManager,
    found: Sequence[tuple[str, Detector]],
    config: Mapping[str, Any],
    thresholds: Thresholds,
) -> str:
    """Everything detector results depend on besides the session and its prices (a
    session read again or priced again loses its stored results): the detectors (a third
    party's by version and by its module file, so editing it counts), the thresholds and
    the whole config, which detectors and the pricer get to read."""
    parts: list[Any] = [__version__, thresholds.as_dict()]
    for plugin, detector in found:
        stamp = ""
        if plugin not in BUILTIN_PLUGINS:
            import inspect

            try:
                st = os.stat(inspect.getfile(type(detector)))
                stamp = f"{st.st_size}:{st.st_mtime_ns}"
            except (OSError, TypeError):
                stamp = "?"
        parts.append([plugin, getattr(detector, "name", ""), pm.versions.get(plugin, ""), stamp])
    parts.append({k: v for k, v in config.items() if k != "_path"})
    raw = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.sha1(raw).hexdigest()


_FINDING_FIELDS = [f.name for f in fields(Finding)]
_ITEM_FIELDS = [f.name for f in fields(CarryItem) if f.name != "call"]
_CARRY_FIELDS = [f.name for f in fields(SessionCarry) if f.name not in ("items", "by_call")]


def encode_result(session: Session, findings: Sequence[Finding], carry: SessionCarry) -> bytes:
    """A session's settled findings and its carry model, as stored: a carry item names its
    tool call by position in the session. Raises ValueError when the encoding would not
    give back exactly these objects (then nothing is stored)."""
    position = {id(call): i for i, call in enumerate(session.tool_calls)}
    items = []
    for item in carry.items:
        if id(item.call) not in position:
            raise ValueError("a carry item whose call is not the session's")
        items.append([position[id(item.call)], *(getattr(item, k) for k in _ITEM_FIELDS)])
    data = orjson.dumps(
        {
            "findings": [[getattr(f, k) for k in _FINDING_FIELDS] for f in findings],
            "carry": [getattr(carry, k) for k in _CARRY_FIELDS],
            "items": items,
        }
    )
    again, again_carry = decode_result(data, session)
    if again != list(findings) or again_carry != carry:  # NaN, tuples in evidence...
        raise ValueError("detector results that do not survive encoding")
    return data


def decode_result(data: bytes, session: Session) -> tuple[list[Finding], SessionCarry]:
    doc = orjson.loads(data)
    findings = []
    for values in doc["findings"]:
        f = Finding(**dict(zip(_FINDING_FIELDS, values)))
        f.claims = {k: (v[0], v[1]) for k, v in f.claims.items()}
        findings.append(f)
    carry = SessionCarry(**dict(zip(_CARRY_FIELDS, doc["carry"])))
    for position, *values in doc["items"]:
        item = CarryItem(session.tool_calls[position], **dict(zip(_ITEM_FIELDS, values)))
        carry.items.append(item)
        carry.by_call[item.call.id] = item
    return findings, carry


def _decoded(data: bytes, session: Session) -> tuple[list[Finding], SessionCarry] | None:
    """A stored result, or None when it does not fit the session (then it is recomputed)."""
    try:
        return decode_result(data, session)
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
        return None


def analyze(
    sessions: Iterable[Session],
    pm: TokentrailPluginManager,
    pricer: Pricer,
    results: Results | None = None,
) -> Analysis:
    """Findings, lessons, the likely cause and the carry model for these sessions.
    With `results`, detectors run only over sessions it holds no result for."""
    from tokentrail.lessons import build_lessons

    sessions = list(sessions)
    found = pm.detectors()
    thresholds = load_thresholds(pricer.config, declared(d for _, d in found))
    context = context_key(pm, found, pricer.config, thresholds) if results is not None else ""
    stored = results.get(sessions, context) if results is not None else {}
    fresh: list[tuple[Session, bytes]] = []
    out = Analysis()
    for session in sessions:
        data = stored.get(id(session))
        decoded = _decoded(data, session) if data is not None else None
        if decoded is not None:
            findings, carry = decoded
        else:
            problems = len(pm.problems)
            findings, carry = detect_session(session, pm, found, pricer, thresholds)
            if results is not None and len(pm.problems) == problems:
                # evidence a plugin made of something JSON cannot hold exactly is not kept
                with contextlib.suppress(TypeError, ValueError, orjson.JSONEncodeError):
                    fresh.append((session, encode_result(session, findings, carry)))
        out.findings.extend(findings)
        out.carry[session.id] = carry
    if results is not None and fresh:
        results.put(fresh, context)
    out.findings.sort(key=lambda f: (-f.wasted_usd, f.session, f.id))
    out.lessons = build_lessons(out.findings)
    return out


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
