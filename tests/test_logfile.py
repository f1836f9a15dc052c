"""Schema drift is said out loud: record types an adapter has never seen, and files in
which it recognises nothing, give one warning line with the count (here through the Claude
Code and Codex adapters, on the corpus's drift fixture and on a rollout of a new shape)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli_inprocess import run_json
from tests.cli_run import CORPUS
from tests.logs import codex_rollout
from tokentrail.logfile import RecordKinds
from tokentrail.model import ParseIssues

DRIFT = CORPUS / "claude-code" / "jazzyalex-agent-sessions-synthetic" / "schema_drift.jsonl"


def test_record_kinds_counts_per_file() -> None:
    issues = ParseIssues()
    kinds = RecordKinds("acme", frozenset({"a", "b"}))
    for kind in ("a", "zz", "zz", None, "b"):
        kinds.see(kind)
    kinds.report("f1", issues)
    for kind in ("x", "y"):
        kinds.see(kind)
    kinds.report("f2", issues)
    kinds.report("f3", issues)  # nothing seen: nothing said
    assert issues.warnings == [
        "f1: skipped 3 acme record(s) of a type tokentrail does not know ((no type) ×1, zz ×2)",
        "f2: no acme record recognised in 2 record(s); a log format tokentrail does not know "
        "yet, nothing was counted from it",
    ]


def test_the_corpus_drift_fixture_is_warned_about(isolated_home: Path) -> None:
    folder = isolated_home / ".claude" / "projects" / "-tmp-project"
    folder.mkdir(parents=True)
    (folder / "ses_stage0_drift.jsonl").symlink_to(DRIFT)
    doc = run_json("sessions")
    assert doc["warnings"] == [
        f"{folder / 'ses_stage0_drift.jsonl'}: skipped 2 claude-code record(s) of a type "
        "tokentrail does not know (tool_result ×1, tool_use ×1)"
    ]


def test_a_rollout_of_a_new_shape(isolated_home: Path) -> None:
    day = isolated_home / ".codex" / "sessions" / "2026" / "02" / "01"
    rollout = codex_rollout(
        day / "rollout-2026-02-01T10-00-00-019c8a4c-ed82-79a1-aa28-7738fc5ab61a.jsonl",
        [(1000, 0, 10, 0)],
        model="gpt-5",
    )
    with rollout.open("a") as fh:
        fh.write(json.dumps({"timestamp": "2026-02-01T10:05:00Z", "type": "turn_summary"}) + "\n")
    new_shape = day / "rollout-2026-02-01T11-00-00-019c8a4c-ed82-79a1-aa28-7738fc5ab61b.jsonl"
    shutil.copy(rollout, new_shape)
    new_shape.write_text(
        "".join(json.dumps({"kind": "step", "usage": {"in": n}}) + "\n" for n in range(3))
    )
    doc = run_json("sessions", "--agent", "codex")
    assert doc["warnings"] == [
        f"{rollout}: skipped 1 codex record(s) of a type tokentrail does not know "
        "(turn_summary ×1)",
        f"{new_shape}: no codex record recognised in 3 record(s); a log format tokentrail "
        "does not know yet, nothing was counted from it",
    ]
    assert [row["requests"] for row in doc["sessions"]] == [1]
