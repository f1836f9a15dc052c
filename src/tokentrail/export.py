"""Exports into engines a team already runs: one file per table (requests, sessions, commits,
findings) as Parquet, NDJSON or CSV, with a documented, versioned schema (docs/export.md).

Columns are named like the JSON contract (input_tokens, cache_read_tokens, cost_usd, ...).
From logs every table is filled; from notes there are no per-request figures, so the
requests table is not written and the manifest says so. pyarrow is imported only when
Parquet is asked for (`pip install 'tokentrail[parquet]'`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tokentrail import __version__
from tokentrail.errors import TokentrailError
from tokentrail.figures import iso, usage_fields
from tokentrail.logfile import parse_ts

EXPORT_VERSION = 1
TOKEN_COLUMNS = (
    ("requests", "int"),
    ("input_tokens", "int"),
    ("cache_read_tokens", "int"),
    ("cache_write_tokens", "int"),
    ("cache_write_1h_tokens", "int"),
    ("output_tokens", "int"),
    ("reasoning_tokens", "int"),
    ("web_search_requests", "int"),
    ("unpriced_requests", "int"),
    ("output_lower_bound_requests", "int"),
    ("cost_usd", "float"),
)
# table -> (column, type); types: string, int, float, bool, timestamp (UTC)
SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "requests": (
        ("repo", "string"),
        ("branch", "string"),
        ("commit", "string"),
        ("session_id", "string"),
        ("agent", "string"),
        ("request_key", "string"),
        ("time", "timestamp"),
        ("model", "string"),
        ("subagent", "string"),
        ("link", "string"),
        ("input_tokens", "int"),
        ("cache_read_tokens", "int"),
        ("cache_write_tokens", "int"),
        ("cache_write_1h_tokens", "int"),
        ("output_tokens", "int"),
        ("reasoning_tokens", "int"),
        ("web_search_requests", "int"),
        ("output_lower_bound", "bool"),
        ("cost_usd", "float"),
    ),
    "sessions": (
        ("repo", "string"),
        ("session_id", "string"),
        ("agent", "string"),
        ("link", "string"),
        ("models", "string"),
        ("first", "timestamp"),
        ("last", "timestamp"),
        ("commits", "int"),
        ("pending", "bool"),
        *TOKEN_COLUMNS,
    ),
    "commits": (
        ("repo", "string"),
        ("commit", "string"),
        ("pr", "int"),
        ("branch", "string"),
        ("author", "string"),
        ("author_email", "string"),
        ("week", "string"),
        ("session_id", "string"),
        ("agent", "string"),
        ("link", "string"),
        ("model", "string"),
        ("models", "string"),
        ("first", "timestamp"),
        ("last", "timestamp"),
        *TOKEN_COLUMNS,
    ),
    "findings": (
        ("repo", "string"),
        ("session_id", "string"),
        ("agent", "string"),
        ("commit", "string"),
        ("pr", "int"),
        ("branch", "string"),
        ("week", "string"),
        ("finding_id", "string"),
        ("detector", "string"),
        ("title", "string"),
        ("lesson", "string"),
        ("lesson_id", "string"),
        ("wasted_tokens", "int"),
        ("wasted_usd", "float"),
        ("confidence", "float"),
    ),
}
FORMATS = ("parquet", "ndjson", "csv", "otlp")
EXTENSIONS = {"parquet": "parquet", "ndjson": "ndjson", "csv": "csv"}
NOT_FROM_NOTES = {"requests": "notes hold per-session sums per commit, not single requests"}


def models_json(models: Mapping[str, Any] | None) -> str:
    return orjson.dumps(dict(models or {}), option=orjson.OPT_SORT_KEYS).decode()


def model_label(models: Mapping[str, Any] | None) -> str:
    """The model, or "a + b" when a row used several (the roll-up's `by.model` key)."""
    names = sorted(str(m) for m in (models or {}))
    return " + ".join(names) or "(unknown)"


def conform(table: str, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with exactly the table's columns, in order, values of the column's type."""
    columns = SCHEMA[table]
    out = []
    for row in rows:
        item: dict[str, Any] = {}
        for name, kind in columns:
            value = row.get(name)
            if value is None:
                item[name] = None
            elif kind == "int":
                item[name] = int(value)
            elif kind == "float":
                item[name] = float(value)
            elif kind == "bool":
                item[name] = bool(value)
            elif kind == "timestamp":
                item[name] = value if isinstance(value, datetime) else parse_ts(value)
            else:
                item[name] = str(value)
        out.append(item)
    return out


def _plain(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def write_ndjson(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with path.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps({k: _plain(v) for k, v in row.items()}) + b"\n")


def write_csv(path: Path, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    names = [name for name, _ in SCHEMA[table]]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in rows:
            writer.writerow([_csv_cell(row[n]) for n in names])


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value) or ""
    return str(value)


def write_parquet(path: Path, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise TokentrailError(
            "missing_dependency",
            "Parquet needs pyarrow: pip install 'tokentrail[parquet]' (or use --format ndjson)",
        ) from None
    types = {
        "string": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    schema = pa.schema([(name, types[kind]) for name, kind in SCHEMA[table]])
    columns = {name: [row[name] for row in rows] for name, _ in SCHEMA[table]}
    pq.write_table(pa.table(columns, schema=schema), path)


def write_tables(
    out: Path, fmt: str, tables: Mapping[str, list[dict[str, Any]]], source: str
) -> dict[str, Any]:
    """Write one file per table and `manifest.json`; the manifest as a dict."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TokentrailError("write_failed", f"cannot create {out}: {exc.strerror}") from None
    manifest: dict[str, Any] = {
        "export_version": EXPORT_VERSION,
        "tool_version": __version__,
        "source": source,
        "format": fmt,
        "tables": {},
        "not_filled": {},
    }
    for table in SCHEMA:
        if table not in tables:
            manifest["not_filled"][table] = NOT_FROM_NOTES.get(table, "not exported")
            continue
        rows = conform(table, tables[table])
        path = out / f"{table}.{EXTENSIONS[fmt]}"
        try:
            if fmt == "parquet":
                write_parquet(path, table, rows)
            elif fmt == "csv":
                write_csv(path, table, rows)
            else:
                write_ndjson(path, rows)
        except OSError as exc:
            raise TokentrailError("write_failed", f"cannot write {path}: {exc.strerror}") from None
        manifest["tables"][table] = {
            "file": path.name,
            "rows": len(rows),
            "columns": [{"name": n, "type": k} for n, k in SCHEMA[table]],
        }
    write_manifest(out, manifest)
    return manifest


def write_manifest(out: Path, manifest: Mapping[str, Any]) -> None:
    path = out / "manifest.json"
    try:
        path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    except OSError as exc:
        raise TokentrailError("write_failed", f"cannot write {path}: {exc.strerror}") from None


def _token_cells(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name, _ in TOKEN_COLUMNS}


def tables_from_logs(
    doc: Mapping[str, Any],
    attribution: Any,
    repo: str,
    authors: Mapping[str, tuple[str, str]],
    agent: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every table from a branch run: `doc` is its receipt, `attribution` the requests behind
    it (tokentrail.attribute.Attribution), `authors` sha -> (name, email)."""
    from tokentrail.rollup import week_of

    keep = (lambda a: a == agent) if agent else (lambda a: True)
    branch = doc.get("branch")
    requests = []
    places = [(sha, parts) for sha, parts in attribution.commits.items()]
    places.append((None, attribution.pending))
    for sha, parts in places:
        for part in parts:
            if not keep(part.session.agent):
                continue
            for r in part.requests:
                u = r.usage
                requests.append(
                    {
                        "repo": repo,
                        "branch": branch,
                        "commit": sha,
                        "session_id": part.session.id,
                        "agent": part.session.agent,
                        "request_key": r.key,
                        "time": r.timestamp,
                        "model": r.model,
                        "subagent": r.subagent,
                        "link": part.link,
                        **usage_fields(u),
                        "web_search_requests": u.web_search_requests,
                        "output_lower_bound": r.output_lower_bound,
                        "cost_usd": r.cost_usd,
                    }
                )
    sessions = [
        {
            "repo": repo,
            "session_id": s["id"],
            "agent": s["agent"],
            "link": s["link"],
            "models": models_json(s.get("models")),
            "first": s.get("first"),
            "last": s.get("last"),
            "commits": len(s.get("commits") or []),
            "pending": s.get("pending"),
            **_token_cells(s),
        }
        for s in doc["sessions"]
        if keep(s["agent"])
    ]
    commit_places = [(c["sha"], c["sessions"]) for c in doc["commits"]]
    commit_places.append((None, doc["pending"]["sessions"]))
    commits = []
    for sha, rows in commit_places:
        name, email = authors.get(sha or "", (None, None))
        for row in rows:
            if not keep(row["agent"]):
                continue
            last = parse_ts(row.get("last"))
            commits.append(
                {
                    "repo": repo,
                    "commit": sha,
                    "pr": None,
                    "branch": branch,
                    "author": name,
                    "author_email": email,
                    "week": week_of(last)[0] if last else None,
                    "session_id": row["id"],
                    "agent": row["agent"],
                    "link": row["link"],
                    "model": model_label(row.get("models")),
                    "models": models_json(row.get("models")),
                    "first": row.get("first"),
                    "last": row.get("last"),
                    **_token_cells(row),
                }
            )
    first_commit = {s["id"]: (s.get("commits") or [None])[0] for s in doc["sessions"]}
    agents = {s["id"]: s["agent"] for s in doc["sessions"]}
    findings = [
        _finding_row(
            f, repo, agents.get(f["session"]), first_commit.get(f["session"]), None, branch, None
        )
        for f in doc.get("findings") or []
        if keep(agents.get(f["session"]) or "")
    ]
    return {"requests": requests, "sessions": sessions, "commits": commits, "findings": findings}


def _finding_row(
    f: Mapping[str, Any],
    repo: str,
    agent: str | None,
    commit: str | None,
    pr: int | None,
    branch: str | None,
    week: str | None,
) -> dict[str, Any]:
    from tokentrail.lessons import lesson_id

    lesson = " ".join(str(f.get("lesson") or "").split())
    return {
        "repo": repo,
        "session_id": f.get("session"),
        "agent": agent,
        "commit": commit,
        "pr": pr,
        "branch": branch,
        "week": week,
        "finding_id": f.get("id"),
        "detector": f.get("detector"),
        "title": f.get("title"),
        "lesson": lesson or None,
        "lesson_id": lesson_id(lesson) if lesson else None,
        "wasted_tokens": f.get("wasted_tokens"),
        "wasted_usd": f.get("wasted_usd"),
        "confidence": f.get("confidence"),
    }


def tables_from_notes(
    rows: Sequence[dict[str, Any]], agent: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The sessions, commits and findings tables from roll-up rows (tokentrail.rollup)."""
    from tokentrail.receipt import link_of, merge_models, sum_rows
    from tokentrail.rollup import team_findings

    rows = [r for r in rows if not agent or r["agent"] == agent]
    commits = [
        {
            "repo": r["repo"],
            "commit": r["commit"],
            "pr": r["pr"],
            "branch": r["branch"],
            "author": r["author"],
            "author_email": r["author_email"],
            "week": r["week"],
            "session_id": r["id"],
            "agent": r["agent"],
            "link": r.get("link"),
            "model": model_label(r.get("models")),
            "models": models_json(r.get("models")),
            "first": r.get("first"),
            "last": r.get("last"),
            **_token_cells(r),
        }
        for r in rows
    ]
    grouped: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        grouped.setdefault((r["repo"], r["agent"], r["id"]), []).append(r)
    sessions = []
    for (repo, agent_name, sid), items in grouped.items():
        firsts = [str(i["first"]) for i in items if i.get("first")]
        lasts = [str(i["last"]) for i in items if i.get("last")]
        sessions.append(
            {
                "repo": repo,
                "session_id": sid,
                "agent": agent_name,
                "link": link_of(str(i.get("link")) for i in items),
                "models": models_json(merge_models(items)),
                "first": min(firsts) if firsts else None,
                "last": max(lasts) if lasts else None,
                "commits": len({i["commit"] for i in items}),
                "pending": False,
                **_token_cells(sum_rows(items)),
            }
        )
    found, _ = team_findings(list(rows))
    findings = [
        _finding_row(f, f["repo"], f["agent"], f["commit"], f["pr"], f["branch"], f["week"])
        for f in found
    ]
    return {"sessions": sessions, "commits": commits, "findings": findings}
