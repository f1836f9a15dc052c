"""`tokentrail show REV`: the receipt a commit's note holds."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitrepo import feature_branch


def test_show_prints_the_stored_receipt(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    f.env.run(f.repo.path, "note", "--range", f"{f.base}..HEAD")
    doc = f.env.json(f.repo.path, "show", f.c1)
    assert doc["sha"] == f.c1 and doc["receipt_version"] == 1
    assert (doc["requests"], doc["input_tokens"], doc["output_tokens"]) == (5, 870, 590)
    assert {s["link"] for s in doc["sessions"]} == {"window"}
    text = f.env.run(f.repo.path, "show").stdout  # HEAD = c2
    assert text.startswith(f"Commit {f.c2[:7]}: 1 session(s), 2 requests")
    assert "exact" in text and "API-equivalent" in text


def test_show_without_a_note(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    proc = f.env.run(f.repo.path, "show", f.c1, "--json", check=False)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "no_note"
    proc = f.env.run(f.repo.path, "show", "no-such-rev", check=False)
    assert proc.returncode == 1 and "does not name a commit" in proc.stderr
