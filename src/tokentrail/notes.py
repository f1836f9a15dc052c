"""Receipts in git notes: the bridge from a developer's machine (logs) to CI (no logs).

A note holds one JSON object per line, one line per session per commit, keys sorted, lines
sorted. That makes `git notes merge -s cat_sort_uniq` a clean union, and lets two machines
write receipts for the same commit without either losing the other's sessions. Lines carry
ids, link, model mix, token kinds, cost and pricing version only: never prompts, file
contents, tool output or local paths.
"""

from __future__ import annotations

import hashlib
import math
import os
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentrail.escape import flat
from tokentrail.logfile import lenient_loads
from tokentrail.receipt import COUNT_FIELDS
from tokentrail.scope import run_git

NOTE_VERSION = 1
# A note comes from whoever pushed it (in CI: a PR's author). A line whose figures are
# outside these bounds is implausible and not read (docs/notes.md): it cannot reach a total.
MAX_REQUESTS = 10_000_000
MAX_TOKENS = 100_000_000_000  # one session's share of one commit, per token kind
MAX_USD = 10_000_000.0
MAX_FINDINGS = 200  # per line; more are left out
_TEXT_FIELDS = ("id", "agent", "link", "commit", "host", "pricing", "first", "last")
_FINDING_TEXT = ("id", "detector", "title", "lesson")
DEFAULT_REF = "refs/notes/tokentrail"
LINE_KIND = "session"
# Row fields copied into a note line (everything else in a row stays on the machine).
_LINE_FIELDS = (
    "id",
    "agent",
    "link",
    "models",
    "subagent_requests",
    *COUNT_FIELDS,
    "cost_usd",
    "first",
    "last",
    "findings",
)


def notes_ref(config: Mapping[str, Any], override: str | None = None) -> str:
    """`--ref`, else `notes.ref` from .tokentrail.yml, else refs/notes/tokentrail."""
    notes_cfg = config.get("notes")
    configured = notes_cfg.get("ref") if isinstance(notes_cfg, dict) else None
    name = override or (configured if isinstance(configured, str) and configured else None)
    name = name or DEFAULT_REF
    return name if name.startswith("refs/") else f"refs/notes/{name}"


def host_id() -> str:
    """A stable, non-identifying id of this machine (a hash, never the hostname itself)."""
    explicit = os.environ.get("TOKENTRAIL_HOST_ID")
    if explicit:
        return explicit
    seed = f"{socket.gethostname()}:{Path.home()}"
    return hashlib.sha256(seed.encode()).hexdigest()[:12]


def note_line(sha: str, row: Mapping[str, Any], *, host: str, pricing: str) -> dict[str, Any]:
    """A receipt row as a note line: every string redacted and without control, bidi or
    zero-width characters (a note is shown by `git notes show` and leaves the machine)."""
    line = {k: _clean(row.get(k)) for k in _LINE_FIELDS}
    line.update(v=NOTE_VERSION, kind=LINE_KIND, commit=sha, host=_clean(host), pricing=pricing)
    return line


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return flat(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    return value


def _count(value: Any, ceiling: int) -> bool:
    return type(value) is int and 0 <= value <= ceiling


def _usd(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_USD
    )


def _finding(raw: Any) -> dict[str, Any] | None:
    """A finding as a note carries it, or None when its figures are not plausible."""
    if not isinstance(raw, dict):
        return None
    if not all(isinstance(raw.get(k), (str, type(None))) for k in _FINDING_TEXT):
        return None
    if not (_count(raw.get("wasted_tokens", 0), MAX_TOKENS) and _usd(raw.get("wasted_usd", 0))):
        return None
    confidence = raw.get("confidence", 0)
    if not (_usd(confidence) and confidence <= 1):
        return None
    if not isinstance(raw.get("evidence", []), list):
        return None
    return raw


def valid_line(obj: Any) -> dict[str, Any] | None:
    """A session line of ours with plausible figures, or None. Findings that are not
    plausible are left out of the line; anything wrong elsewhere rejects the line."""
    if not isinstance(obj, dict) or obj.get("kind") != LINE_KIND or "v" not in obj:
        return None
    if not all(isinstance(obj.get(k), (str, type(None))) for k in _TEXT_FIELDS):
        return None
    for key in COUNT_FIELDS:
        ceiling = MAX_TOKENS if key.endswith("_tokens") else MAX_REQUESTS
        if key in obj and obj[key] is not None and not _count(obj[key], ceiling):
            return None
    if obj.get("cost_usd") is not None and not _usd(obj["cost_usd"]):
        return None
    models = obj.get("models") or {}
    if not isinstance(models, dict) or not all(_count(n, MAX_REQUESTS) for n in models.values()):
        return None
    findings = obj.get("findings") or []
    if not isinstance(findings, list):
        return None
    kept = [f for f in (_finding(f) for f in findings[:MAX_FINDINGS]) if f is not None]
    return {**obj, "findings": kept} if len(kept) != len(findings) else obj


def line_to_row(line: Mapping[str, Any]) -> dict[str, Any]:
    """A note line as a receipt row (the shape receipt.sum_rows and friends read)."""
    row = {k: line.get(k) for k in _LINE_FIELDS}
    row["host"] = line.get("host")
    row["pricing"] = line.get("pricing")
    row["findings"] = list(line.get("findings") or [])
    row["models"] = dict(line.get("models") or {})
    return row


def _key(line: Mapping[str, Any]) -> tuple[str, str, str]:
    """One line per session per machine. The commit is not part of the key: after an amend
    (notes.rewriteRef) a note can hold the old commit's line and the new one for the same
    session, and the bigger one is the truth."""
    return (str(line.get("id")), str(line.get("agent")), str(line.get("host")))


def _encode(line: Mapping[str, Any]) -> str:
    return orjson.dumps(line, option=orjson.OPT_SORT_KEYS).decode()


def _rank(line: Mapping[str, Any]) -> tuple[int, str, str]:
    """Bigger (more requests) wins, then newer (later last request), then bytes (stable)."""
    return (int(line.get("requests") or 0), str(line.get("last") or ""), _encode(line))


def parse_note(text: str) -> tuple[list[dict[str, Any]], int]:
    """Session lines of a note (deduplicated by key) and how many lines were not ours or
    not plausible (those are never read into a total; a rewrite keeps them as they are)."""
    lines: list[dict[str, Any]] = []
    foreign = 0
    for raw in text.split("\n"):  # our lines are JSON: U+2028 and friends stay inside
        if not raw.strip():
            continue
        line = _accepted(raw)
        if line is None:
            foreign += 1
            continue
        lines.append(line)
    return union(lines, []), foreign


def _accepted(raw: str) -> dict[str, Any] | None:
    text = raw.strip().lstrip("\ufeff")
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        obj = lenient_loads(text.encode("utf-8", "replace"))
    return valid_line(obj)


def union(
    old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Old and new lines together; for one (session, agent, host) the bigger/newer one is
    kept, so a rewrite never holds fewer sessions than before."""
    best: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for line in [*old, *new]:
        key = _key(line)
        if key not in best or _rank(line) > _rank(best[key]):
            best[key] = line
    return sorted((dict(v) for v in best.values()), key=_encode)


def combine(notes: Iterable[list[dict[str, Any]]], onto: str) -> list[dict[str, Any]]:
    """Lines of several commits' notes as lines of one commit (`notes carry`): a session
    that went into several of them becomes one line with their sums."""
    from tokentrail.receipt import COUNT_FIELDS, link_of, merge_models, sum_rows

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for lines in notes:
        for line in union(lines, []):
            groups.setdefault(_key(line), []).append(line)
    out = []
    for group in groups.values():
        first = [str(x["first"]) for x in group if x.get("first")]
        last = [str(x["last"]) for x in group if x.get("last")]
        sums = sum_rows(group)
        line = dict(group[0])
        line.update({k: sums[k] for k in (*COUNT_FIELDS, "cost_usd")})
        line.update(
            commit=onto,
            carried_from=sorted({str(x.get("commit")) for x in group}),
            link=link_of(str(x.get("link")) for x in group),
            models=merge_models(group),
            subagent_requests=sum(int(x.get("subagent_requests") or 0) for x in group),
            first=min(first) if first else None,
            last=max(last) if last else None,
            findings=[f for x in group for f in x.get("findings") or []],
            pricing=",".join(sorted({str(x.get("pricing")) for x in group})),
        )
        out.append(line)
    return out


def encode_note(lines: Iterable[Mapping[str, Any]]) -> str:
    return "".join(_encode(line) + "\n" for line in sorted(lines, key=_encode))


def read_note(root: Path, ref: str, sha: str) -> list[dict[str, Any]]:
    out = run_git(root, "notes", f"--ref={ref}", "show", sha, check=False)
    return parse_note(out)[0] if out else []


def read_raw(root: Path, ref: str, sha: str) -> str:
    return run_git(root, "notes", f"--ref={ref}", "show", sha, check=False)


def write_note(root: Path, ref: str, sha: str, new: Iterable[Mapping[str, Any]]) -> int:
    """Merge `new` into the commit's note; the number of session lines it now holds."""
    raw = read_raw(root, ref, sha)
    old, _ = parse_note(raw)
    merged = union(old, new)
    foreign = [line for line in raw.split("\n") if line.strip() and _accepted(line) is None]
    text = encode_note(merged) + "".join(f"{line}\n" for line in foreign)
    if text != raw:
        run_git(root, "notes", f"--ref={ref}", "add", "-f", "-F", "-", sha, input=text)
    return len(merged)


def ref_exists(root: Path, ref: str) -> bool:
    out = run_git(root, "rev-parse", "--verify", "--quiet", ref, check=False)
    return bool(out.strip())
