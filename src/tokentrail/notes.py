"""Receipts in git notes: the bridge from a developer's machine (logs) to CI (no logs).

A note holds one JSON object per line, one line per session, keys sorted, lines sorted
(so `git notes merge -s cat_sort_uniq` is a clean union). Each line names its session and
the exact requests it covers (`rids`), so merging notes from two machines, re-noting,
carrying and re-noting after a rebase never count a request twice: readers keep, per
session, the line that covers the others, or the sum of lines covering different requests.
Lines carry ids, link, model mix, token kinds, cost, findings and the carry summary with
repository-relative paths and command names only: never prompts, file contents, tool
output, absolute paths or host names. Lines tokentrail cannot read (another tool's, another
version's, broken ones) are kept verbatim when a note is rewritten, and counted.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tokentrail.errors import TokentrailError
from tokentrail.escape import flat
from tokentrail.figures import COUNT_FIELDS
from tokentrail.scope import run_git

NOTE_VERSION = 2
READABLE_VERSIONS = (1, 2)  # a line of another version is kept verbatim, never read
DEFAULT_REF = "refs/notes/tokentrail"
LINE_KIND = "session"
EMPTY_KIND = "no_sessions"  # a receipt saying: no agent work went into this commit
RID_WIDTH = 10  # hex digits of one request id (model.request_id)
# A count above this is not a token count (fuzzing found 2**64 and 1e21 in garbled logs).
MAX_COUNT = 10**12
MAX_FINDINGS = 200  # per line; more are left out
MAX_LIMIT_PCT = 100_000.0  # weekly-limit points of one line (a window can be overdrawn)
_FINDING_TEXT = ("id", "detector", "title", "lesson")
WRITE_ATTEMPTS = 30
# Row fields copied into a note line (everything else in a row stays on the machine).
_LINE_FIELDS = (
    "id",
    "agent",
    "link",
    "branch",
    "pr",
    "models",
    "subagent_requests",
    *COUNT_FIELDS,
    "cost_usd",
    "limit_pct",
    "first",
    "last",
    "rids",
    "findings",
    "carry",
)


def notes_ref(config: Mapping[str, Any], override: str | None = None) -> str:
    """`--ref`, else `notes.ref` from .tokentrail.yml, else refs/notes/tokentrail."""
    notes_cfg = config.get("notes")
    configured = notes_cfg.get("ref") if isinstance(notes_cfg, dict) else None
    name = override or (configured if isinstance(configured, str) and configured else None)
    name = name or DEFAULT_REF
    return name if name.startswith("refs/") else f"refs/notes/{name}"


def note_line(sha: str, row: Mapping[str, Any], *, pricing: str) -> dict[str, Any]:
    """A receipt row as a note line: the session, the exact requests it covers (`rids`),
    their figures. No host, no absolute path: the same session noted on two machines gives
    the same line."""
    line = {k: _clean(row.get(k)) for k in _LINE_FIELDS if row.get(k) is not None}
    line.update(v=NOTE_VERSION, kind=LINE_KIND, commit=sha, pricing=pricing)
    return line


def _clean(value: Any) -> Any:
    """Strings redacted, one line, without control, bidi or zero-width characters: a note
    is shown by `git notes show` and leaves the machine."""
    if isinstance(value, str):
        return flat(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    return value


def no_sessions_line(sha: str) -> dict[str, Any]:
    """The receipt of a commit no agent work went into (a human's, a merge): written so
    that a commit without any note reads as "receipt missing", never as $0."""
    return {"v": NOTE_VERSION, "kind": EMPTY_KIND, "commit": sha}


def line_to_row(line: Mapping[str, Any]) -> dict[str, Any]:
    """A note line as a receipt row (the shape receipt.sum_rows and friends read)."""
    row = {k: line.get(k) for k in _LINE_FIELDS}
    row["pricing"] = line.get("pricing")
    row["findings"] = list(line.get("findings") or [])
    row["models"] = dict(line.get("models") or {})
    row["carry"] = line.get("carry") if isinstance(line.get("carry"), dict) else None
    row["link"] = line.get("link") or "window"
    return row


def rid_set(line: Mapping[str, Any]) -> frozenset[str] | None:
    """The request ids a line covers; None for a version-1 line (it did not list them)."""
    raw = line.get("rids")
    if not isinstance(raw, str):
        return None
    return frozenset(raw[i : i + RID_WIDTH] for i in range(0, len(raw), RID_WIDTH))


def encode_rids(rids: Iterable[str]) -> str:
    return "".join(sorted(set(rids)))


# --- reading: tolerant, never trusting an absurd value ------------------------------------


@dataclass
class ParsedNote:
    lines: list[dict[str, Any]]  # ours, valid, one per session (see union)
    kept: list[str]  # raw lines we do not read: another tool's, another version's, broken
    skipped: Counter[str] = field(default_factory=Counter)  # why ours were not read
    no_sessions: bool = False  # a receipt saying no agent work went into the commit

    @property
    def foreign(self) -> int:
        return len(self.kept)


def _count_ok(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _figure_ok(value: Any, ceiling: float) -> bool:
    """An optional float figure (dollars, rate-limit points): absent, or finite in
    0..ceiling."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and 0 <= value <= ceiling


def _problem(obj: Mapping[str, Any]) -> str | None:
    """Why a line of ours cannot be read, or None when it can."""
    version = obj.get("v")
    if version not in READABLE_VERSIONS:
        return "unknown_version"
    if not isinstance(obj.get("id"), str) or not obj.get("id"):
        return "no_session_id"
    if not isinstance(obj.get("agent"), str):
        return "bad_field"
    for key in COUNT_FIELDS:
        value = obj.get(key, 0)
        if value is None:
            continue
        if not _count_ok(value):
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            return "negative_or_absurd_count" if numeric else "bad_field"
    for key, ceiling in (("cost_usd", MAX_COUNT), ("limit_pct", MAX_LIMIT_PCT)):
        if not _figure_ok(obj.get(key), ceiling):
            return "negative_or_absurd_count"
    models = obj.get("models", {})
    if not isinstance(models, dict) or not all(
        isinstance(k, str) and _count_ok(v) for k, v in models.items()
    ):
        return "bad_field"
    rids = obj.get("rids")
    if rids is not None and (
        not isinstance(rids, str)
        or len(rids) % RID_WIDTH
        or any(ch not in "0123456789abcdef" for ch in rids)
    ):
        return "bad_field"
    if not isinstance(obj.get("findings", []), list):
        return "bad_field"
    for key in ("carry",):
        if obj.get(key) is not None and not isinstance(obj.get(key), dict):
            return "bad_field"
    for key in ("first", "last", "link", "pricing", "commit", "branch"):
        if obj.get(key) is not None and not isinstance(obj.get(key), str):
            return "bad_field"
    return None


def _usd_ok(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_COUNT
    )


def _finding_ok(raw: Any) -> bool:
    """Whether a finding a note carries is readable: text where text belongs, plausible
    figures, a confidence in 0..1 (a PR author writes notes: nothing absurd reaches a total)."""
    if not isinstance(raw, dict):
        return False
    if not all(isinstance(raw.get(k), (str, type(None))) for k in _FINDING_TEXT):
        return False
    if not (_count_ok(raw.get("wasted_tokens", 0)) and _usd_ok(raw.get("wasted_usd", 0))):
        return False
    confidence = raw.get("confidence", 0)
    return _usd_ok(confidence) and confidence <= 1 and isinstance(raw.get("evidence", []), list)


def parse_note_text(text: str) -> ParsedNote:
    """Every line of a note: ours and readable, or kept as it is (and counted when ours)."""
    lines: list[dict[str, Any]] = []
    kept: list[str] = []
    skipped: Counter[str] = Counter()
    empty = False
    for raw in text.replace("\r\n", "\n").split("\n"):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw.lstrip("\ufeff"))  # a BOM an editor left: still ours
        except orjson.JSONDecodeError:
            kept.append(raw)
            if '"kind":"session"' in raw.replace(" ", ""):
                skipped["not_json"] += 1
            continue
        if isinstance(obj, dict) and obj.get("kind") == EMPTY_KIND:
            empty = True
            continue
        if not isinstance(obj, dict) or obj.get("kind") != LINE_KIND:
            kept.append(raw)
            continue
        problem = _problem(obj)
        if problem is not None:
            kept.append(raw)
            skipped[problem] += 1
            continue
        findings = obj.get("findings") or []
        readable = [f for f in findings[:MAX_FINDINGS] if _finding_ok(f)]
        if len(readable) != len(findings):  # the line is read, those findings are not
            skipped["implausible_finding"] += len(findings) - len(readable)
            obj = {**obj, "findings": readable}
        lines.append(obj)
    return ParsedNote(union(lines, []), kept, skipped, empty and not lines)


def parse_note(text: str) -> tuple[list[dict[str, Any]], int]:
    """Session lines of a note (one per session) and how many lines were not read."""
    parsed = parse_note_text(text)
    return parsed.lines, parsed.foreign


# --- union: a request is counted once, whatever the notes went through ----------------------


def _key(line: Mapping[str, Any]) -> tuple[str, str]:
    """One line per session in a note. Neither the commit nor the machine is part of it:
    after an amend a note can hold the old commit's line and the new one, and the same
    session noted on two machines is the same work."""
    return (str(line.get("agent")), str(line.get("id")))


def _encode(line: Mapping[str, Any]) -> str:
    return orjson.dumps(line, option=orjson.OPT_SORT_KEYS).decode()


def _rank(line: Mapping[str, Any]) -> tuple[int, str, str]:
    """Bigger (more requests) wins, then newer (later last request), then bytes (stable)."""
    return (int(line.get("requests") or 0), str(line.get("last") or ""), _encode(line))


def summed(lines: Sequence[Mapping[str, Any]], commit: str) -> dict[str, Any]:
    """Lines of one session covering disjoint requests as one line (their exact sum)."""
    from tokentrail.receipt import link_of, merge_models, sum_rows

    first = [str(x["first"]) for x in lines if x.get("first")]
    last = [str(x["last"]) for x in lines if x.get("last")]
    sums = sum_rows(lines)
    biggest = max(lines, key=_rank)
    out = dict(biggest)
    out.update({k: sums[k] for k in (*COUNT_FIELDS, "cost_usd", "limit_pct")})
    if out["limit_pct"] is None:
        del out["limit_pct"]
    findings: dict[str, Any] = {}
    for x in lines:
        for f in x.get("findings") or []:
            if isinstance(f, dict):
                findings.setdefault(str(f.get("id") or _encode(f)), f)
    rids = [r for x in lines for r in rid_set(x) or ()]
    carries = [x["carry"] for x in lines if isinstance(x.get("carry"), dict)]
    out.update(
        commit=commit,
        link=link_of(str(x.get("link")) for x in lines),
        models=merge_models(lines),
        subagent_requests=sum(int(x.get("subagent_requests") or 0) for x in lines),
        first=min(first) if first else None,
        last=max(last) if last else None,
        findings=list(findings.values()),
        rids=encode_rids(rids) if all(rid_set(x) is not None for x in lines) else None,
        carry=max(carries, key=lambda c: int(c.get("billed_tokens") or 0)) if carries else None,
        pricing=",".join(sorted({str(x.get("pricing")) for x in lines if x.get("pricing")})),
    )
    return {k: v for k, v in out.items() if v is not None}


def merge_pair(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Two lines of one session in one note: the one that covers the other; both when they
    cover different requests; else (they overlap in part, which attribution never writes)
    the bigger one, so nothing is ever counted twice."""
    ra, rb = rid_set(a), rid_set(b)
    if ra is not None and rb is not None:
        if ra >= rb:
            return dict(a)
        if rb >= ra:
            return dict(b)
        if ra.isdisjoint(rb):
            return summed([a, b], str(a.get("commit") or b.get("commit")))
    return dict(a if _rank(a) >= _rank(b) else b)


def union(
    old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Old and new lines together, one per session (merge_pair): a rewrite never holds
    fewer requests than before, and never the same request twice."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for line in [*old, *new]:
        key = _key(line)
        best[key] = merge_pair(best[key], line) if key in best else dict(line)
    return sorted(best.values(), key=_encode)


def combine(
    notes: Iterable[list[dict[str, Any]]], onto: str, pr: int | None = None
) -> list[dict[str, Any]]:
    """Lines of several commits' notes as lines of one commit (`notes carry`): a session
    that went into several of them becomes one line covering all its requests once. `pr`,
    when known (the Action's merged-PR mode), is recorded on each line so the receipt can
    be found by its PR after the branch's commits are gone."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for lines in notes:
        for line in lines:
            groups.setdefault(_key(line), []).append(line)
    out = []
    for group in groups.values():
        if all(rid_set(line) is None for line in group):
            combined = summed(group, onto)  # version-1 lines: one per commit, disjoint
        else:
            combined = group[0]
            for line in group[1:]:
                combined = merge_pair(combined, line)
            combined = {**combined, "commit": onto}
        combined["carried_from"] = sorted({str(x.get("commit")) for x in group})
        if pr is not None:
            combined["pr"] = pr
        out.append(combined)
    return out


def encode_note(lines: Iterable[Mapping[str, Any]], kept: Iterable[str] = ()) -> str:
    ours = "".join(_encode(line) + "\n" for line in sorted(lines, key=_encode))
    return ours + "".join(f"{raw}\n" for raw in kept)


def read_raw(root: Path, ref: str, sha: str) -> str:
    return run_git(root, "notes", f"--ref={ref}", "show", sha, check=False)


def read_note(root: Path, ref: str, sha: str) -> list[dict[str, Any]]:
    out = read_raw(root, ref, sha)
    return parse_note_text(out).lines if out else []


def read_notes(root: Path, ref: str, shas: Iterable[str]) -> dict[str, ParsedNote]:
    """The notes of many commits in two git calls (`notes list`, `cat-file --batch`)."""
    wanted = set(shas)
    listing = run_git(root, "notes", f"--ref={ref}", "list", check=False)
    blobs: dict[str, str] = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] in wanted:
            blobs[parts[1]] = parts[0]
    if not blobs:
        return {}
    order = list(blobs.items())
    proc = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=root,
        input="".join(f"{blob}\n" for _, blob in order).encode(),
        capture_output=True,
        check=False,
    )
    out: dict[str, ParsedNote] = {}
    data, pos = proc.stdout, 0
    for sha, _ in order:
        end = data.find(b"\n", pos)
        if end < 0:
            break
        header = data[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        out[sha] = parse_note_text(data[pos : pos + size].decode("utf-8", "replace"))
        pos += size + 1
    return out


# --- writing: compare-and-swap on the notes ref -----------------------------------------


def write_notes(
    root: Path, ref: str, new: Mapping[str, Iterable[Mapping[str, Any]]]
) -> dict[str, int]:
    """Merge `new` lines into each commit's note, all in one notes commit that moves the
    ref only if nobody moved it meanwhile (`git update-ref REF NEW OLD`); on a race, read
    again and retry. Returns how many session lines each note now holds."""
    wanted = {sha: list(lines) for sha, lines in new.items()}
    for attempt in range(WRITE_ATTEMPTS):
        old = run_git(root, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
        tmp = f"refs/notes/tokentrail-write-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        held: dict[str, int] = {}
        changed = False
        try:
            if old:
                run_git(root, "update-ref", tmp, old)
            for sha, lines in wanted.items():
                raw = read_raw(root, tmp, sha) if old else ""
                parsed = parse_note_text(raw)
                ours = [x for x in lines if x.get("kind") == LINE_KIND]
                merged = union(parsed.lines, ours)
                empty = [] if merged else [no_sessions_line(sha)]
                text = encode_note([*merged, *empty], parsed.kept)
                held[sha] = len(merged)
                if text != raw:
                    run_git(root, "notes", f"--ref={tmp}", "add", "-f", "-F", "-", sha, input=text)
                    changed = True
            tip = run_git(root, "rev-parse", "--verify", "--quiet", tmp, check=False).strip()
        finally:
            run_git(root, "update-ref", "-d", tmp, check=False)
        if not changed:
            return held
        expected = old or "0" * len(tip)
        moved = run_git(root, "update-ref", ref, tip, expected, check=False)
        current = run_git(root, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
        if current == tip:
            return held
        del moved
        time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
    raise TokentrailError(
        "notes_busy",
        f"{ref} kept changing under {WRITE_ATTEMPTS} attempts to write it (other writers); "
        "nothing was lost: run `tokentrail note` again",
    )


def write_note(root: Path, ref: str, sha: str, new: Iterable[Mapping[str, Any]]) -> int:
    """Merge `new` into one commit's note; the number of session lines it now holds."""
    return write_notes(root, ref, {sha: list(new)})[sha]


def ref_exists(root: Path, ref: str) -> bool:
    out = run_git(root, "rev-parse", "--verify", "--quiet", ref, check=False)
    return bool(out.strip())


# --- sharing notes with a remote ----------------------------------------------------------


def pick_remote(root: Path, remote: str | None) -> str:
    remotes = run_git(root, "remote").split()
    if not remotes:
        raise TokentrailError(
            "no_remote", "this repository has no remote; add one with `git remote add`"
        )
    if remote:
        if remote not in remotes:
            raise TokentrailError(
                "unknown_remote", f"no remote named {remote!r}; remotes: {', '.join(remotes)}"
            )
        return remote
    upstream = run_git(
        root, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}", check=False
    ).strip()
    if "/" in upstream and upstream.split("/", 1)[0] in remotes:
        return upstream.split("/", 1)[0]
    return "origin" if "origin" in remotes else remotes[0]


def tracking_ref(ref: str, remote: str) -> str:
    name = ref.removeprefix("refs/notes/")
    return f"refs/notes/remotes/{remote}/{name}"


PUSH_ATTEMPTS = 4


def fetch_notes(root: Path, ref: str, remote: str, timeout: float | None = None) -> str:
    """Fetch and merge the remote's notes; 'absent', 'created' or 'merged'. The merge is a
    union (cat_sort_uniq): readers keep one line per session, counting requests once."""
    if not run_git(root, "ls-remote", remote, ref, timeout=timeout).strip():
        return "absent"
    tracking = tracking_ref(ref, remote)
    run_git(root, "fetch", "--quiet", remote, f"+{ref}:{tracking}", timeout=timeout)
    if not ref_exists(root, ref):
        run_git(root, "update-ref", ref, tracking)
        return "created"
    run_git(root, "notes", f"--ref={ref}", "merge", "--quiet", "-s", "cat_sort_uniq", tracking)
    return "merged"


def push_notes(root: Path, ref: str, remote: str, deadline: float | None = None) -> str:
    """Fetch-merge, then push (without running hooks again); 'nothing' or 'pushed'. When a
    teammate pushed notes in between, the push is rejected: fetch, merge and push again, a
    few times, before giving up with git's own error line. `deadline` (a time.monotonic()
    value) bounds the whole exchange."""
    last = ""
    for attempt in range(PUSH_ATTEMPTS):
        left = None if deadline is None else max(deadline - time.monotonic(), 0.5)
        fetch_notes(root, ref, remote, timeout=left)
        if not ref_exists(root, ref):
            return "nothing"
        left = None if deadline is None else max(deadline - time.monotonic(), 0.5)
        try:
            run_git(root, "push", "--quiet", "--no-verify", remote, f"{ref}:{ref}", timeout=left)
            return "pushed"
        except TokentrailError as exc:
            if exc.code != "git_failed" or "rejected" not in exc.message:
                raise
            last = exc.message
        time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))
    raise TokentrailError(
        "notes_push_rejected",
        f"the remote kept rejecting the notes after {PUSH_ATTEMPTS} fetch-merge-push rounds "
        f"(teammates pushing at the same time?): {last}",
    )
