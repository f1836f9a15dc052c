"""Per real corpus session: the likely cause and the findings, as tokentrail says them.

    python benchmarks/diagnosis.py                       # the table, current code
    python benchmarks/diagnosis.py --json out.json       # ... and keep it
    python benchmarks/diagnosis.py --before out.json     # before/after, side by side

Reads the corpus in place (`../shared/corpus` from the repository root) through the same
pipeline every command uses (discover → parse → price → detect → likely cause), in a private
HOME and cache, so it runs against whichever `tokentrail` is importable: point PYTHONPATH at
an older checkout's `src` to record its "before" table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
CLAUDE_DIRS = (
    "claude-code/chiphuyen-sniffly/-Users-chip-dev-ai-music",
    "claude-code/d-kimuson-claude-code-viewer/sample-project",
    "claude-code/marot-spotter",
)
# the 14 larger real sessions: synthetic fixtures and few-call files stay out
MIN_COST = 0.20
MIN_REQUESTS = 10


def _environment(tmp: Path) -> None:
    projects = tmp / "claude" / "projects"
    projects.mkdir(parents=True)
    for rel in CLAUDE_DIRS:
        (projects / rel.replace("/", "__")).symlink_to(CORPUS / rel, target_is_directory=True)
    os.environ.update(
        HOME=str(tmp),
        CLAUDE_CONFIG_DIR=str(tmp / "claude"),
        CODEX_HOME=str(CORPUS / "codex" / "madshn-localpush"),
        TOKENTRAIL_CACHE_DIR=str(tmp / "cache"),
        TOKENTRAIL_PLUGINS="",
    )


def collect() -> list[dict[str, Any]]:
    """One row per larger real session: id, agent, cost, likely cause, findings."""
    from tokentrail.carry import combine, summary
    from tokentrail.catalog import SessionFilter
    from tokentrail.cause import likely_cause
    from tokentrail.detect import analyze
    from tokentrail.pipeline import load_sessions
    from tokentrail.plugins import get_plugin_manager
    from tokentrail.privacy import portable

    pm = get_plugin_manager()
    loaded = load_sessions(pm, SessionFilter(), {})
    result = analyze(loaded.catalog.sessions, pm, loaded.pricer)
    rows = []
    for s in loaded.catalog.sessions:
        cost = sum(r.cost_usd or 0.0 for r in s.requests)
        if cost < MIN_COST or len(s.requests) < MIN_REQUESTS:
            continue
        mine = [f for f in result.findings if f.session == s.id]
        # as a receipt carries it: strings portable, paths relative to where the agent ran
        carry = combine([portable(summary(result.carry[s.id]), Path(s.cwd or "/"))])
        rows.append(
            {
                "session": s.id,
                "agent": s.agent,
                "cost_usd": round(cost, 4),
                "likely_cause": likely_cause([f.to_dict() for f in mine], carry),
                "findings": [
                    {
                        "detector": f.detector,
                        "title": f.title,
                        "wasted_usd": round(f.wasted_usd, 4),
                    }
                    for f in mine
                ],
            }
        )
    rows.sort(key=lambda r: -r["cost_usd"])
    return rows


def _block(row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return ["  (session not in this table)"]
    lines = [f"  likely cause: {row['likely_cause']}"]
    if not row["findings"]:
        lines.append("  findings: none")
    for f in row["findings"]:
        lines.append(f"  - ${f['wasted_usd']:.2f} {f['detector']}: {f['title']}")
    total = sum(f["wasted_usd"] for f in row["findings"])
    lines.append(f"  {len(row['findings'])} finding(s), ${total:.2f} claimed")
    return lines


def render(rows: list[dict[str, Any]], before: list[dict[str, Any]] | None) -> str:
    old = {r["session"]: r for r in before or []}
    out = []
    for row in rows:
        out.append(f"== {row['session'][:8]} ({row['agent']}, ${row['cost_usd']:.2f} billed)")
        if before is not None:
            out.append(" before:")
            out.extend(_block(old.get(row["session"])))
            out.append(" after:")
        out.extend(_block(row))
        out.append("")
    for label, table in (("before", before), ("after", rows)):
        if table is None:
            continue
        n = sum(len(r["findings"]) for r in table)
        usd = sum(f["wasted_usd"] for r in table for f in r["findings"])
        out.append(f"{label}: {len(table)} sessions, {n} findings, ${usd:.2f} claimed")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--before", type=Path, help="rows written earlier, shown beside")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        _environment(Path(tmp))
        rows = collect()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    before = json.loads(args.before.read_text()) if args.before else None
    print(render(rows, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
