"""`tokentrail export`: sessions, requests, commit receipts and findings as files an engine
loads (Parquet, NDJSON, CSV) or as OTLP JSON logs for an OpenTelemetry collector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tokentrail import otlp
from tokentrail.commands.common import emit, handle_errors, json_option, parse_when
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.export import (
    EXPORT_VERSION,
    FORMATS,
    tables_from_logs,
    tables_from_notes,
    write_manifest,
    write_tables,
)
from tokentrail.notes import notes_ref
from tokentrail.pipeline import receipt_from_run, run_branch, warnings
from tokentrail.plugins import get_plugin_manager
from tokentrail.repo_notes import repo_name
from tokentrail.rollup import collect, repo_paths
from tokentrail.scope import find_scope, git_fields, run_git


def _authors(root: Path, shas: list[str]) -> dict[str, tuple[str, str]]:
    if not shas:
        return {}
    out = run_git(root, "show", "-s", "-z", "--format=%H%x00%aN%x00%aE", *shas)
    found = {}
    for sha, name, email in git_fields(out, 3):  # a name may hold \r or U+2028
        found[sha.strip()] = (name, email.lower())
    return found


@click.command("export")
@click.argument("repos", nargs=-1)
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help="File format.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into (one file per table, plus manifest.json).",
)
@click.option(
    "--from-notes",
    is_flag=True,
    help="Read git notes of REPOS (default: this repository) instead of local logs.",
)
@click.option("--base", help="Logs: base revision of the branch (as for `report`).")
@click.option("--agent", help="Only this agent's sessions.")
@click.option("--since", help="Notes: work on or after this time (2026-02-23, ISO, 30d).")
@click.option("--until", help="Notes: work on or before this time.")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@click.option(
    "--otlp-endpoint",
    metavar="URL",
    help="With --format otlp: also POST the logs to this OTLP/HTTP endpoint (…/v1/logs).",
)
@json_option
@handle_errors
def export(
    repos: tuple[str, ...],
    fmt: str,
    out: Path,
    from_notes: bool,
    base: str | None,
    agent: str | None,
    since: str | None,
    until: str | None,
    ref: str | None,
    otlp_endpoint: str | None,
    as_json: bool,
) -> None:
    """Export the current branch (from logs) or the notes of REPOS (--from-notes)."""
    config = load_config()
    if otlp_endpoint and fmt != "otlp":
        raise TokentrailError("bad_usage", "--otlp-endpoint goes with --format otlp")
    if from_notes:
        if base:
            raise TokentrailError("bad_usage", "--base is for logs; notes exports take REPOS")
        data = collect(
            repo_paths(repos),
            notes_ref(config, ref),
            parse_when(since),
            parse_when(until, end_of_day=True),
        )
        tables = tables_from_notes(data.rows, agent)
        source = "notes"
    else:
        if repos or since or until:
            raise TokentrailError(
                "bad_usage",
                "REPOS, --since and --until are for --from-notes; from logs the export is "
                "the current branch (pick it with --base)",
            )
        scope = find_scope(None, base)
        pm = get_plugin_manager()
        run = run_branch(scope, pm, config)
        doc = receipt_from_run(run)
        doc["warnings"] = warnings(run.loaded.catalog, pm)
        authors = _authors(scope.root, [c.sha for c in scope.commits])
        tables = tables_from_logs(doc, run.attribution, repo_name(scope.root), authors, agent)
        source = "logs"
    if fmt == "otlp":
        manifest = _otlp(out, tables, source, otlp_endpoint)
    else:
        manifest = write_tables(out, fmt, tables, source)
    emit({"kind": "export", "out": str(out), **manifest}, as_json)


def _otlp(
    out: Path, tables: dict[str, list[dict[str, Any]]], source: str, endpoint: str | None
) -> dict[str, Any]:
    from tokentrail.export import conform

    conformed = {name: conform(name, rows) for name, rows in tables.items()}
    payload = otlp.build(conformed)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TokentrailError("write_failed", f"cannot create {out}: {exc.strerror}") from None
    otlp.write(out / "logs.json", payload)
    records = len(payload["resourceLogs"][0]["scopeLogs"][0]["logRecords"])
    per = "request" if "requests" in tables else "commits"
    manifest: dict[str, Any] = {
        "export_version": EXPORT_VERSION,
        "source": source,
        "format": "otlp",
        "tables": {per: {"file": "logs.json", "rows": records}},
        "not_filled": {},
    }
    if endpoint:
        manifest["posted"] = {"url": endpoint, "status": otlp.post(endpoint, payload)}
    write_manifest(out, manifest)
    return manifest
