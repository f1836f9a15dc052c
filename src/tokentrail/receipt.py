"""Receipts: the per-commit and per-branch result as small, versioned JSON.

A receipt is built from *rows*: one row per session per commit (or pending), holding ids,
link, model mix, token kinds and cost, and nothing private. Rows come either from an
attribution (logs on this machine) or from git notes (CI); both paths go through the same
summing here, and `finish` derives every other figure (total tokens, waste by detector, the
carried share, the likely cause, budget verdicts) from the receipt itself, so a report built
from notes says what the one built from logs says. Renderers, the budget gate and the PR
comment read these figures; none computes its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tokentrail import carry as carry_mod
from tokentrail.attribute import RANK, WINDOW, Attribution, Part
from tokentrail.budget import Budget, evaluate
from tokentrail.cause import likely_cause
from tokentrail.figures import COUNT_FIELDS, iso, totals

RECEIPT_VERSION = 1
# What "tokens" means in totals: input-side plus output, as ccusage and the MANIFEST count
TOKEN_KINDS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


def part_row(
    part: Part,
    findings: list[dict[str, Any]] | None = None,
    carry: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One session's share of one commit (or of pending), with the session's findings and
    carry summary (whole-session figures, so any one note can rebuild the cause)."""
    stamps = [r.timestamp for r in part.requests if r.timestamp is not None]
    figures = totals(part.requests)
    return {
        "id": part.session.id,
        "agent": part.session.agent,
        "link": part.link,
        "models": dict(Counter(r.model for r in part.requests).most_common()),
        "subagent_requests": sum(r.subagent is not None for r in part.requests),
        **{k: figures[k] for k in COUNT_FIELDS},
        "cost_usd": figures["cost_usd"],
        "total_tokens": figures["total_tokens"],
        "limit_pct": figures["limit_pct"],
        "first": iso(min(stamps)) if stamps else None,
        "last": iso(max(stamps)) if stamps else None,
        "findings": list(findings or []),
        "carry": dict(carry) if carry else None,
        "rids": "".join(sorted(set(part.rids))),
    }


def count_once(
    commit_rows: Sequence[tuple[Mapping[str, Any], list[dict[str, Any]]]],
) -> tuple[list[tuple[Mapping[str, Any], list[dict[str, Any]]]], int]:
    """Rows read from several commits' notes with every request counted once: a row whose
    requests an earlier commit's row already holds (a carried or cherry-picked copy) is
    left out. Returns the rows kept and how many were left out. (Rows that overlap only in
    part are never written by attribution; should one appear, the earlier commit keeps the
    shared requests and the later row is left out whole, so nothing counts twice.)"""
    from tokentrail.notes import rid_set

    counted: dict[tuple[str, str], set[str]] = {}
    out: list[tuple[Mapping[str, Any], list[dict[str, Any]]]] = []
    dropped = 0
    for commit, rows in commit_rows:
        kept = []
        for row in rows:
            rids = rid_set(row)
            seen = counted.setdefault((str(row.get("agent")), str(row.get("id"))), set())
            if rids is not None and rids & seen:
                dropped += 1
                continue
            seen.update(rids or ())
            kept.append(row)
        out.append((commit, kept))
    return out, dropped


def sum_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Token kinds, cost and weekly-limit points over rows; cost is None when no row was
    priced, limit points when no row reported any."""
    out: dict[str, Any] = dict.fromkeys(COUNT_FIELDS, 0)
    cost = 0.0
    priced = False
    limits: list[float] = []
    for row in rows:
        for key in COUNT_FIELDS:
            out[key] += int(row.get(key) or 0)
        if row.get("cost_usd") is not None:
            priced = True
            cost += float(row["cost_usd"])
        if row.get("limit_pct") is not None:
            limits.append(float(row["limit_pct"]))
    out["cost_usd"] = round(cost, 6) if priced or not out["requests"] else None
    out["limit_pct"] = round(math.fsum(limits), 4) if limits else None
    out["total_tokens"] = sum(out[k] for k in TOKEN_KINDS)
    return out


def link_of(links: Iterable[str]) -> str:
    """The evidence of a session's share: the strongest any of its parts had."""
    seen = [link if link in RANK else WINDOW for link in links]
    return min(seen, key=lambda k: RANK[k]) if seen else WINDOW


def merge_models(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    mix: Counter[str] = Counter()
    for row in rows:
        mix.update({str(k): int(v) for k, v in (row.get("models") or {}).items()})
    return dict(mix.most_common())


def session_rows(
    rows_by_place: Iterable[tuple[str | None, Mapping[str, Any]]],
) -> list[dict[str, Any]]:
    """Each session's whole share of the branch, from its per-commit rows (sha None =
    pending), in order of first appearance."""
    grouped: dict[tuple[str, str], list[tuple[str | None, Mapping[str, Any]]]] = {}
    for sha, row in rows_by_place:
        grouped.setdefault((str(row["agent"]), str(row["id"])), []).append((sha, row))
    out = []
    for (agent, sid), items in grouped.items():
        rows = [r for _, r in items]
        firsts = [str(r["first"]) for r in rows if r.get("first")]
        lasts = [str(r["last"]) for r in rows if r.get("last")]
        out.append(
            {
                "id": sid,
                "agent": agent,
                "link": link_of(str(r.get("link")) for r in rows),
                "models": merge_models(rows),
                "subagent_requests": sum(int(r.get("subagent_requests") or 0) for r in rows),
                **sum_rows(rows),
                "commits": [sha for sha, _ in items if sha is not None],
                "pending": any(sha is None for sha, _ in items),
                "first": min(firsts) if firsts else None,
                "last": max(lasts) if lasts else None,
                "carry": _latest_carry(rows),
            }
        )
    return out


def _latest_carry(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A session's carry summary: the one covering the most of it (notes written later hold
    more of a session that went on)."""
    found: list[Mapping[str, Any]] = [
        r["carry"] for r in rows if isinstance(r.get("carry"), Mapping)
    ]
    if not found:
        return None
    best = max(found, key=lambda c: int(c.get("billed_tokens") or 0))
    return dict(best)


def commit_receipt(sha: str, rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """What one commit carries: its sessions and their sum."""
    return {
        "receipt_version": RECEIPT_VERSION,
        "sha": sha,
        **extra,
        **sum_rows(rows),
        "sessions": rows,
    }


def branch_receipt(
    meta: Mapping[str, Any],
    commit_rows: Sequence[tuple[Mapping[str, Any], list[dict[str, Any]]]],
    pending_rows: list[dict[str, Any]],
    *,
    findings: list[dict[str, Any]] | None = None,
    lessons: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The branch receipt. `commit_rows` pairs each commit's facts (sha, subject, time)
    with its rows; `findings` and `lessons` come from the detectors once they exist."""
    commits = [
        {
            "sha": str(c["sha"]),
            "subject": c.get("subject"),
            "time": c.get("time"),
            **sum_rows(rows),
            "sessions": rows,
        }
        for c, rows in commit_rows
    ]
    committed_rows = [r for _, rows in commit_rows for r in rows]
    places: list[tuple[str | None, Mapping[str, Any]]] = [
        (str(c["sha"]), r) for c, rows in commit_rows for r in rows
    ]
    places += [(None, r) for r in pending_rows]
    return {
        "kind": "report",
        "receipt_version": RECEIPT_VERSION,
        **meta,
        "totals": sum_rows([*committed_rows, *pending_rows]),
        "committed": sum_rows(committed_rows),
        "sessions": session_rows(places),
        "commits": commits,
        "pending": {**sum_rows(pending_rows), "sessions": pending_rows},
        "findings": list(findings or []),
        "lessons": list(lessons or []),
    }


def from_attribution(
    attribution: Attribution,
    meta: Mapping[str, Any],
    *,
    findings: list[dict[str, Any]] | None = None,
    lessons: list[dict[str, Any]] | None = None,
    session_findings: Mapping[str, list[dict[str, Any]]] | None = None,
    session_carry: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The branch receipt from logs. `session_findings` and `session_carry` put each
    session's findings and carry summary on its rows, so notes carry them per commit."""
    by_session = session_findings or {}
    carries = session_carry or {}

    def row(p: Part) -> dict[str, Any]:
        return part_row(p, by_session.get(p.session.id), carries.get(p.session.id))

    commit_rows = [
        (
            {"sha": c.sha, "subject": c.subject, "time": iso(c.time)},
            [row(p) for p in attribution.commits[c.sha]],
        )
        for c in attribution.scope.commits
    ]
    pending = [row(p) for p in attribution.pending]
    doc = branch_receipt(meta, commit_rows, pending, findings=findings, lessons=lessons)
    doc["excluded_requests"] = attribution.excluded_requests
    return doc


def waste_summary(
    findings: Sequence[Mapping[str, Any]], billed_usd: float | None
) -> dict[str, Any]:
    """Waste over the receipt's findings: total, share of the bill, and per detector."""
    by: dict[str, dict[str, Any]] = {}
    for f in findings:
        name = str(f.get("detector") or "?")
        entry = by.setdefault(
            name, {"detector": name, "wasted_usd": 0.0, "wasted_tokens": 0, "findings": 0}
        )
        entry["wasted_usd"] += float(f.get("wasted_usd") or 0.0)
        entry["wasted_tokens"] += int(f.get("wasted_tokens") or 0)
        entry["findings"] += 1
    usd = sum(e["wasted_usd"] for e in by.values())
    for entry in by.values():
        entry["wasted_usd"] = round(entry["wasted_usd"], 6)
    return {
        "wasted_usd": round(usd, 6),
        "wasted_tokens": sum(e["wasted_tokens"] for e in by.values()),
        "findings": len(findings),
        "share": round(usd / billed_usd, 4) if billed_usd else None,
        "by_detector": sorted(by.values(), key=lambda e: (-e["wasted_usd"], e["detector"])),
    }


def finish(doc: dict[str, Any], budget: Budget | None = None) -> dict[str, Any]:
    """Derive every figure the renderers, the budget gate and the PR comment show from the
    receipt's own rows, findings and carry summaries (see the module docstring)."""
    doc["carry"] = carry_mod.combine(
        s["carry"] for s in doc["sessions"] if isinstance(s.get("carry"), Mapping)
    )
    # findings cover whole sessions, so their share is of those sessions' whole bill (the
    # same from logs and from notes); without carry figures, of the branch total
    billed = doc["carry"]["billed_usd"] if doc["carry"]["billed_tokens"] else None
    doc["waste"] = waste_summary(doc["findings"], billed or doc["totals"]["cost_usd"])
    doc["likely_cause"] = likely_cause(doc["findings"], doc["carry"])
    if budget is not None:
        doc["budget"] = evaluate(doc, budget)
    return doc
