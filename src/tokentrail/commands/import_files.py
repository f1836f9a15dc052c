"""`tokentrail import otel|trace FILE…`: telemetry and traces into the local store.

Re-importing a file (or an export that overlaps an earlier one) adds nothing twice: every
record has a key made from what it says, and keys already in the store are skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tokentrail.commands.common import echo, emit, handle_errors, json_option
from tokentrail.errors import TokentrailError
from tokentrail.ingest import Imported, Place
from tokentrail.store import append, check_agent_name

FILES = click.Path(exists=True, dir_okay=False, path_type=Path)
cwd_option = click.option(
    "--cwd",
    type=click.Path(file_okay=False, path_type=Path),
    help="Working directory of calls whose record names none (exports do not).",
)
branch_option = click.option("--branch", metavar="B", help="Git branch of calls that name none.")


def _place(cwd: Path | None, branch: str | None) -> Place:
    return Place(str(cwd.resolve()) if cwd else None, branch)


def _read(reader: Callable[[], Imported], files: tuple[Path, ...]) -> Imported:
    try:
        return reader()
    except OSError as exc:
        raise TokentrailError(
            "import_unreadable", f"cannot read {exc.filename or files[0]}: {exc.strerror or exc}"
        ) from None


def _finish(fmt: str, files: tuple[Path, ...], result: Imported, as_json: bool) -> None:
    written, skipped = append(result.records)
    calls: Counter[tuple[str, str]] = Counter(
        (r["agent"], r["session"]) for r in result.records if r["kind"] == "call"
    )
    sessions = [
        {
            "agent": agent,
            "id": session,
            "calls": calls[(agent, session)],
            "metrics_only": (agent, session) in result.metrics_only,
        }
        for agent, session in sorted(result.sessions)
    ]
    warnings = list(result.warnings)
    if result.bad_lines:
        warnings.append(f"skipped {result.bad_lines} line(s) that are not JSON")
    if result.unknown:
        shapes = ", ".join(f"{k} ×{n}" for k, n in result.unknown.most_common(6))
        warnings.append(
            f"skipped {sum(result.unknown.values())} record(s) tokentrail does not know: {shapes}"
        )
    doc: dict[str, Any] = {
        "kind": "import",
        "format": fmt,
        "files": [str(f) for f in files],
        "records": len(result.records),
        "calls": sum(calls.values()),
        "tool_results": sum(1 for r in result.records if r["kind"] == "tool"),
        "written": written,
        "already_imported": skipped,
        "sessions": sessions,
        "used": dict(result.used),
        "not_counted": dict(result.ignored),
        "unknown": dict(result.unknown),
        "skipped": {"bad_lines": result.bad_lines},
        "warnings": warnings,
    }
    if as_json:
        emit(doc, True)
        return
    echo(
        f"imported {written} new record(s) ({doc['calls']} calls, {doc['tool_results']} tool "
        f"results in all) from {len(files)} file(s) into {len(sessions)} session(s); "
        f"{skipped} were already imported"
    )
    for row in sessions:
        if row["metrics_only"]:
            echo(
                f"{row['agent']} session {row['id']}: from metrics only — totals per model and "
                "export interval, no per-request detail (waste detectors and price tiers "
                "cannot see single requests)"
            )
    for line in warnings:
        echo(f"tokentrail: warning: {line}", err=True)


@click.group(name="import")
def import_group() -> None:
    """Read OpenTelemetry exports and JSONL traces into the local store."""


@import_group.command(name="otel")
@click.argument("files", nargs=-1, required=True, type=FILES)
@cwd_option
@branch_option
@json_option
@handle_errors
def import_otel(
    files: tuple[Path, ...], cwd: Path | None, branch: str | None, as_json: bool
) -> None:
    """Claude Code / Codex OTLP JSON or JSONL exports (logs and metrics)."""
    from tokentrail.ingest.otel import read_otel

    result = _read(lambda: read_otel(files, _place(cwd, branch)), files)
    _finish("otel", files, result, as_json)


@import_group.command(name="trace")
@click.argument("files", nargs=-1, required=True, type=FILES)
@click.option(
    "--agent",
    default="custom",
    show_default=True,
    metavar="NAME",
    help="Agent name for lines that name none.",
)
@cwd_option
@branch_option
@json_option
@handle_errors
def import_trace(
    files: tuple[Path, ...], agent: str, cwd: Path | None, branch: str | None, as_json: bool
) -> None:
    """JSONL traces (TokenCause's fields and common aliases), one model call per line."""
    from tokentrail.ingest.trace import read_trace

    check_agent_name(agent)
    result = _read(lambda: read_trace(files, _place(cwd, branch), agent), files)
    _finish("trace", files, result, as_json)
