"""Receipts: the per-commit and per-branch result as small, versioned JSON.

A receipt is built from *rows*: one row per session per commit (or pending), holding ids,
link, model mix, token kinds and cost, and nothing private. Rows come either from an
attribution (logs on this machine) or from git notes (CI); both paths go through the same
summing here, so a report built from notes has exactly the totals of the one built from
logs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tokentrail.attribute import EXACT, STRONG, WINDOW, Attribution, Part
from tokentrail.figures import iso, totals

RECEIPT_VERSION = 1
# Summable figures of a row, in the names figures.totals() gives them.
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
_RANK = {EXACT: 0, STRONG: 1, WINDOW: 2}


def part_row(part: Part, findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One session's share of one commit (or of pending), with the session's findings."""
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
        "first": iso(min(stamps)) if stamps else None,
        "last": iso(max(stamps)) if stamps else None,
        "findings": list(findings or []),
    }


def sum_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Token kinds and cost over rows; cost is None when no row was priced."""
    out: dict[str, Any] = dict.fromkeys(COUNT_FIELDS, 0)
    cost = 0.0
    priced = False
    for row in rows:
        for key in COUNT_FIELDS:
            out[key] += int(row.get(key) or 0)
        if row.get("cost_usd") is not None:
            priced = True
            cost += float(row["cost_usd"])
    out["cost_usd"] = round(cost, 6) if priced or not out["requests"] else None
    return out


def link_of(links: Iterable[str]) -> str:
    seen = set(links)
    if EXACT in seen:
        return EXACT
    return max(seen, key=lambda k: _RANK.get(k, 3)) if seen else WINDOW


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
            }
        )
    return out


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
) -> dict[str, Any]:
    """The branch receipt from logs. `session_findings` puts each session's findings on its
    rows, so notes carry them per commit."""
    by_session = session_findings or {}
    commit_rows = [
        (
            {"sha": c.sha, "subject": c.subject, "time": iso(c.time)},
            [part_row(p, by_session.get(p.session.id)) for p in attribution.commits[c.sha]],
        )
        for c in attribution.scope.commits
    ]
    pending = [part_row(p, by_session.get(p.session.id)) for p in attribution.pending]
    doc = branch_receipt(meta, commit_rows, pending, findings=findings, lessons=lessons)
    doc["excluded_requests"] = attribution.excluded_requests
    return doc
