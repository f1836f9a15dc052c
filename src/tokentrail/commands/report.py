"""`tokentrail report`: the branch receipt — what the sessions behind this branch cost,
commit by commit, with what is still pending."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from tokentrail.builtin.render_html import page
from tokentrail.builtin.render_markdown import render_receipt
from tokentrail.builtin.render_text import TOKEN_HEADERS, money, output, table, token_cells, tokens
from tokentrail.commands.common import echo, emit, handle_errors, json_option, warn_about
from tokentrail.config import load_config
from tokentrail.detect import cause_from_findings, finding_from_dict
from tokentrail.errors import TokentrailError
from tokentrail.escape import plain
from tokentrail.figures import iso
from tokentrail.lessons import build_lessons
from tokentrail.model import Finding
from tokentrail.notes import line_to_row, notes_ref, read_note
from tokentrail.pipeline import findings_by_session, portable_finding, run_branch
from tokentrail.plugins import get_plugin_manager
from tokentrail.pricing import PRICING_VERSION
from tokentrail.receipt import branch_receipt, from_attribution
from tokentrail.scope import Scope, find_scope


def _meta(scope: Scope, source: str, pricing: str | list[str]) -> dict[str, Any]:
    return {
        "source": source,
        "repo": str(scope.root),
        "branch": scope.branch,
        "base": scope.base,
        "base_ref": scope.base_ref,
        "base_time": iso(scope.base_time),
        "head": scope.head,
        "pricing": pricing,
    }


def build_report(
    path: Path | None = None,
    base: str | None = None,
    *,
    from_notes: bool = False,
    ref: str | None = None,
    as_json: bool = True,
    head: str = "HEAD",
) -> dict[str, Any]:
    """The branch receipt for the repo at `path` (the demo and the Action call this).
    `head` names the branch tip when it is not HEAD (in CI, HEAD is a merge commit)."""
    config = load_config()
    scope = find_scope(path, base, head, allow_detached=from_notes)
    if from_notes:
        return _from_notes(scope, notes_ref(config, ref))
    pm = get_plugin_manager()
    run = run_branch(scope, pm, config)
    analysis = run.analysis.to_dict()
    doc = from_attribution(
        run.attribution,
        _meta(scope, "logs", PRICING_VERSION),
        findings=[{**portable_finding(f), "session": f["session"]} for f in analysis["findings"]],
        lessons=analysis["lessons"],
        session_findings=findings_by_session(run.analysis),
    )
    doc["likely_cause"] = analysis["likely_cause"]
    doc["carry"] = analysis["carry"]
    doc["warnings"] = warn_about(run.catalog, pm, as_json)
    return doc


def _from_notes(scope: Scope, ref: str) -> dict[str, Any]:
    commit_rows = []
    pricing: set[str] = set()
    missing = 0
    for c in scope.commits:
        rows = [line_to_row(line) for line in read_note(scope.root, ref, c.sha)]
        missing += not rows
        pricing.update(str(r["pricing"]) for r in rows if r.get("pricing"))
        commit_rows.append(({"sha": c.sha, "subject": c.subject, "time": iso(c.time)}, rows))
    found: dict[str, Finding] = {}
    for _, rows in commit_rows:
        for row in rows:
            for d in row.get("findings") or []:
                finding = finding_from_dict({**d, "session": row["id"]})
                found.setdefault(finding.id or f"{finding.session}:{finding.title}", finding)
    findings = sorted(found.values(), key=lambda f: (-f.wasted_usd, f.session, f.id))
    doc = branch_receipt(
        _meta(scope, "notes", sorted(pricing)),
        commit_rows,
        [],
        findings=[{**portable_finding(f.to_dict()), "session": f.session} for f in findings],
        lessons=[lesson.to_dict() for lesson in build_lessons(findings)],
    )
    doc["likely_cause"] = cause_from_findings(findings, doc["totals"]["cost_usd"] or 0.0)
    doc["notes_ref"] = ref
    doc["commits_without_note"] = missing
    return doc


def _pricing_label(doc: Mapping[str, Any]) -> str:
    pricing = doc.get("pricing")
    if isinstance(pricing, list):
        return ", ".join(pricing) or "no pricing recorded"
    return str(pricing)


def _session_cells(row: Mapping[str, Any]) -> list[str]:
    return [row["agent"], str(row["id"])[:8], row["link"], *token_cells(row)]


def render_text(doc: Mapping[str, Any]) -> str:
    t = doc["totals"]
    base = str(doc["base"])[:7]
    head = [
        f"Branch {plain(doc['branch'] or '(detached)')}  base {plain(doc['base_ref'])} "
        f"({plain(base)})  head {plain(str(doc['head'])[:7])}",
        f"Total: {t['requests']} requests, {money(t)} API-equivalent "
        f"({plain(_pricing_label(doc))})",
        f"  input {tokens(t['input_tokens'])}, cache read {tokens(t['cache_read_tokens'])}, "
        f"cache write {tokens(t['cache_write_tokens'])}, output {output(t)}",
    ]
    if doc.get("source") == "notes":
        head.append(
            f"  from notes ({plain(doc.get('notes_ref'))}); "
            f"{doc.get('commits_without_note', 0)} commit(s) without a note"
        )
    if doc.get("likely_cause"):
        head.append(f"Likely cause: {plain(doc['likely_cause'])}")
    parts = ["\n".join(head)]
    if doc["commits"]:
        rows = [
            [
                c["sha"][:7],
                _cut(c.get("subject") or "", 40),
                str(len(c["sessions"])),
                *token_cells(c),
            ]
            for c in doc["commits"]
        ]
        parts.append(table(("COMMIT", "SUBJECT", "SESS", *TOKEN_HEADERS), rows, set(range(2, 9))))
    else:
        parts.append("No commits beyond the base yet: everything below is pending.")
    p = doc["pending"]
    parts.append(
        f"Pending (next commit): {p['requests']} requests, {money(p)}, "
        f"{len(p['sessions'])} session(s)"
    )
    if doc["sessions"]:
        rows = [_session_cells(s) for s in doc["sessions"]]
        parts.append(
            "Sessions:\n" + table(("AGENT", "ID", "LINK", *TOKEN_HEADERS), rows, set(range(3, 9)))
        )
    else:
        parts.append("No agent sessions found for this branch.")
    if doc.get("findings"):
        rows = [
            [
                f["detector"],
                _cut(f["title"], 60),
                str(f.get("session") or "")[:8],
                tokens(f["wasted_tokens"]),
                f"${f['wasted_usd']:.2f}",
                f"{f['confidence']:.1f}",
            ]
            for f in doc["findings"][:10]
        ]
        more = len(doc["findings"]) - len(rows)
        parts.append(
            "Waste found (each token counted once):\n"
            + table(("DETECTOR", "WHAT", "SESSION", "TOKENS", "USD", "CONF"), rows, {3, 4, 5})
            + (f"\n... and {more} more (--json)" if more > 0 else "")
        )
    if doc.get("lessons"):
        parts.append(
            "Lessons for the next run:\n"
            + "\n".join(
                f"  - {plain(lesson['text'])} (saves ~${lesson.get('saved_usd', 0):.2f})"
                for lesson in doc["lessons"][:5]
            )
        )
    return "\n\n".join(parts)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The receipt as a PR comment (the `markdown` renderer)."""
    return render_receipt(doc)


def write_html(target: Path, doc: Mapping[str, Any]) -> None:
    try:
        target.write_text(page(render_receipt(doc)), encoding="utf-8")
    except OSError as exc:
        raise TokentrailError("write_failed", f"cannot write {target}: {exc.strerror}") from None


@click.command()
@click.option(
    "--base", help="Base revision (default: merge-base with origin/HEAD, main or master)."
)
@click.option("--markdown", is_flag=True, help="Print Markdown (for a PR comment).")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the report as a standalone HTML page to this file.",
)
@click.option("--from-notes", is_flag=True, help="Build the receipt from git notes alone.")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@json_option
@handle_errors
def report(
    base: str | None,
    markdown: bool,
    html_file: Path | None,
    from_notes: bool,
    ref: str | None,
    as_json: bool,
) -> None:
    """The branch receipt: sessions behind this branch, attributed to its commits."""
    doc = build_report(None, base, from_notes=from_notes, ref=ref, as_json=as_json)
    if html_file is not None:
        write_html(html_file, doc)
    if as_json:
        emit(doc, True)
    elif markdown:
        echo(render_markdown(doc))
    else:
        echo(render_text(doc))
