"""Receipts in git notes: the bridge from a developer's machine (logs) to CI (no logs).

A note holds one JSON object per line, one line per session per commit, keys sorted, lines
sorted. That makes `git notes merge -s cat_sort_uniq` a clean union, and lets two machines
write receipts for the same commit without either losing the other's sessions. Lines carry
ids, link, model mix, token kinds, cost and pricing version only: never prompts, file
contents, tool output or local paths.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from tokentrail.receipt import COUNT_FIELDS
from tokentrail.scope import run_git

NOTE_VERSION = 1
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
    line = {k: row.get(k) for k in _LINE_FIELDS}
    line.update(v=NOTE_VERSION, kind=LINE_KIND, commit=sha, host=host, pricing=pricing)
    return line


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
    """Session lines of a note (deduplicated by key) and how many lines were not ours."""
    lines: list[dict[str, Any]] = []
    foreign = 0
    for raw in text.split("\n"):  # our lines are JSON: U+2028 and friends stay inside
        raw = raw.strip()
        if not raw:
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            foreign += 1
            continue
        if not isinstance(obj, dict) or obj.get("kind") != LINE_KIND or "v" not in obj:
            foreign += 1
            continue
        lines.append(obj)
    return union(lines, []), foreign


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
    foreign = [line for line in raw.split("\n") if line.strip() and not _is_ours(line)]
    text = encode_note(merged) + "".join(f"{line}\n" for line in foreign)
    if text != raw:
        run_git(root, "notes", f"--ref={ref}", "add", "-f", "-F", "-", sha, input=text)
    return len(merged)


def _is_ours(raw: str) -> bool:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and obj.get("kind") == LINE_KIND and "v" in obj


def ref_exists(root: Path, ref: str) -> bool:
    out = run_git(root, "rev-parse", "--verify", "--quiet", ref, check=False)
    return bool(out.strip())
