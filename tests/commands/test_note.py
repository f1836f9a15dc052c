"""`tokentrail note` and `report --from-notes`: receipts written into real git notes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitrepo import ClaudeLog, Env, GitRepo, at, feature_branch

TOKENS = ("requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


def note_lines(repo: GitRepo, sha: str) -> list[dict[str, object]]:
    text = repo.git("notes", "--ref=tokentrail", "show", sha)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_note_range_writes_one_line_per_session(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    doc = f.env.json(f.repo.path, "note", "--range", f"{f.base}..HEAD")
    assert [c["status"] for c in doc["commits"]] == ["written", "written"]
    lines = note_lines(f.repo, f.c1)
    assert sorted(str(x["id"])[:8] for x in lines) == ["11111111", "22222222", "33333333"]
    for line in lines:
        assert line["v"] == 2 and line["commit"] == f.c1 and line["branch"] == "feat"
        assert str(line["pricing"]).startswith("genai-prices")
        assert line["findings"] == []
        # the exact requests it covers, by id: one 10-hex-digit id per request
        assert len(str(line["rids"])) == 10 * int(str(line["requests"]))
        # nothing private: no paths, prompts, tool output or machine
        assert not {"cwd", "paths", "text", "prompt", "host"} & set(line)
    raw = f.repo.git("notes", "--ref=tokentrail", "show", f.c2)
    assert str(f.repo.path) not in raw and "Committing" not in raw
    assert "second change" not in raw
    # git log shows it too
    log = f.repo.git("log", "--notes=tokentrail", "-1", f.c2)
    assert "Notes (tokentrail):" in log and '"link":"exact"' in log


def test_from_notes_reproduces_the_local_totals(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    local = f.env.json(f.repo.path, "report")
    f.env.run(f.repo.path, "note", "--range", f"{f.base}..HEAD")
    ci = Env(tmp_path / "ci")  # no logs on this machine at all
    assert ci.json(f.repo.path, "sessions")["sessions"] == []
    remote = ci.json(f.repo.path, "report", "--from-notes")
    assert remote["source"] == "notes" and remote["commits_without_note"] == 0
    assert remote["totals"] == local["committed"]
    for mine, theirs in zip(local["commits"], remote["commits"]):
        assert {k: mine[k] for k in (*TOKENS, "cost_usd")} == {
            k: theirs[k] for k in (*TOKENS, "cost_usd")
        }
        assert sorted((s["id"], s["link"]) for s in mine["sessions"]) == sorted(
            (s["id"], s["link"]) for s in theirs["sessions"]
        )
    # a detached checkout (as in CI) is fine for --from-notes
    f.repo.checkout("--detach", f.c2)
    detached = ci.json(f.repo.path, "report", "--from-notes", "--base", f.base)
    assert detached["branch"] is None and detached["totals"] == local["committed"]


def test_two_writers_for_one_commit_are_both_kept(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    f.env.run(f.repo.path, "note", f.c1)
    before = note_lines(f.repo, f.c1)
    # a second machine: its own logs, its own session on the same branch
    other = Env(tmp_path / "laptop", host="host-b")
    ClaudeLog(other, f.repo.path, session_id="77777777-0000-4000-8000-000000000007").request(
        at(12.5), "feat", input=9, output=9
    )
    doc = other.json(f.repo.path, "note", f.c1)
    assert doc["commits"][0]["in_note"] == len(before) + 1
    after = note_lines(f.repo, f.c1)
    assert {x["id"] for x in before} < {x["id"] for x in after}
    # writing again from the first machine changes nothing and never drops the laptop's
    f.env.run(f.repo.path, "note", f.c1)
    assert note_lines(f.repo, f.c1) == after
    # a machine with no logs writes nothing and removes nothing
    empty = Env(tmp_path / "empty")
    assert empty.json(f.repo.path, "note", f.c1)["commits"][0]["status"] == "no_sessions"
    assert note_lines(f.repo, f.c1) == after


def test_rewriting_keeps_the_bigger_line(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    f.env.run(f.repo.path, "note", f.c1)
    # half the log is gone (rotated away): the note keeps what it had
    path = next((f.env.claude_dir / "projects").glob("*/11111111-*.jsonl"))
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]))
    doc = f.env.json(f.repo.path, "note", f.c1)
    s1 = [x for x in note_lines(f.repo, f.c1) if str(x["id"]).startswith("1111")]
    assert len(s1) == 1 and s1[0]["requests"] == 3 and s1[0]["input_tokens"] == 170
    assert doc["commits"][0]["in_note"] == 3


def test_note_head_on_the_default_branch(tmp_path: Path) -> None:
    """A commit straight on main still gets what went into it (since its parent)."""
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    c = repo.commit("on main", at(20))
    ClaudeLog(env, repo.path).request(at(10), "main", input=31, output=3)
    doc = env.json(repo.path, "note")
    assert doc["commits"][0]["sha"] == c and doc["commits"][0]["status"] == "written"
    assert note_lines(repo, c)[0]["input_tokens"] == 31


def test_note_ref_from_config_and_option(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    (f.repo.path / ".tokentrail.yml").write_text("notes:\n  ref: receipts\n")
    assert f.env.json(f.repo.path, "note", f.c1)["ref"] == "refs/notes/receipts"
    assert f.repo.git("notes", "--ref=receipts", "show", f.c1).strip()
    f.env.run(f.repo.path, "note", f.c1, "--ref", "refs/notes/other")
    assert f.repo.git("notes", "--ref=other", "show", f.c1).strip()
    text = f.env.run(f.repo.path, "note", f.c1).stdout
    assert text.startswith(f"{f.c1[:7]}: wrote 3 session(s)")
