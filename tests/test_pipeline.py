"""The pipeline end to end, in-process: one pricer for every dollar figure, and a receipt
rebuilt from git notes that says what the receipt from logs says."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import CORPUS
from tests.gitrepo import Env, GitRepo
from tokentrail.builtin.claude_code import project_slug
from tokentrail.catalog import SessionFilter
from tokentrail.demo import (
    SONNET,
    Bash,
    Filler,
    Idle,
    Read,
    Reply,
    UserPrompt,
    write_claude_session,
)
from tokentrail.demo.repo import build_demo
from tokentrail.detect import analyze
from tokentrail.pipeline import build_receipt, load_sessions, note_commits
from tokentrail.plugins import get_plugin_manager

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
# Sonnet 4.5's list prices (USD per million tokens), given to a model genai-prices does not know
SONNET_PRICES = {
    "input": 3.0,
    "output": 15.0,
    "cache_read": 0.3,
    "cache_write_5m": 3.75,
    "cache_write_1h": 6.0,
}


def _figures(config: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Bill, waste and carry dollars per model, from one load → price → detect run."""
    pm = get_plugin_manager()
    loaded = load_sessions(pm, SessionFilter(), config)
    analysis = analyze(loaded.catalog.sessions, pm, loaded.pricer)
    out = {}
    for session in loaded.catalog.sessions:
        carry = analysis.carry[session.id]
        out[session.requests[0].model] = {
            "bill": sum(r.cost_usd or 0.0 for r in session.requests),
            "waste": sum(f.wasted_usd for f in analysis.findings if f.session == session.id),
            "carry": carry.carried_usd,
        }
    return out


def test_a_price_override_prices_waste_and_carry_like_the_bill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claude = tmp_path / "claude"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude))
    events = [
        UserPrompt("Find the slow query."),
        Read("src/db.py", chars=60000),
        Filler(4),
        Idle(minutes=12),  # the 5-minute cache expires: the context is written again
        Bash("pytest -q", output_chars=30000, exit_code=1),
        Bash("pytest -q", output_chars=30000, exit_code=1),
        Filler(3),
        Reply(),
    ]
    written = write_claude_session(
        claude, tmp_path / "app", model=SONNET, start=START, events=events
    )
    # the same session again on a model only the config prices: other ids, same usage
    [original] = [p for p in written.paths if p.name.startswith(written.id)]
    twin = original.read_bytes().replace(SONNET.encode(), b"house-sonnet")
    for old, new in ((written.id, "twin-session"), ("msg_01", "msg_02"), ("req_", "rqq_")):
        twin = twin.replace(old.encode(), new.encode())
    (original.parent / "twin-session.jsonl").write_bytes(twin)
    listed = _figures({"prices": {"house-sonnet": SONNET_PRICES}})
    real, house = listed[SONNET], listed["house-sonnet"]
    assert real["waste"] > 0.01 and real["carry"] > 0.01  # else this test could not fail
    for key in ("bill", "waste", "carry"):
        assert house[key] == pytest.approx(real[key], rel=1e-9), key
    doubled = {k: 2 * v for k, v in SONNET_PRICES.items()}
    twice = _figures({"prices": {"house-sonnet": doubled}})["house-sonnet"]
    for key in ("bill", "waste", "carry"):
        assert twice[key] == pytest.approx(2 * real[key], rel=1e-9), key


def _agree(logs: dict[str, Any], notes: dict[str, Any]) -> None:
    """What a receipt from notes must share with the one from logs: everything committed."""
    assert notes["source"] == "notes" and logs["source"] == "logs"
    assert notes["commits_without_note"] == 0
    assert notes["totals"] == logs["committed"] | {"total_tokens": notes["totals"]["total_tokens"]}
    assert notes["totals"]["total_tokens"] == logs["committed"]["total_tokens"]
    for mine, theirs in zip(logs["commits"], notes["commits"]):
        assert (mine["sha"], mine["cost_usd"], mine["requests"]) == (
            theirs["sha"],
            theirs["cost_usd"],
            theirs["requests"],
        )
    assert notes["waste"] == logs["waste"]
    assert notes["carry"] == logs["carry"]
    assert notes["likely_cause"] == logs["likely_cause"]
    assert [f["id"] for f in notes["findings"]] == [f["id"] for f in logs["findings"]]


def test_report_from_notes_agrees_with_report_from_logs_on_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = build_demo(tmp_path / "demo")
    for key, value in demo.env().items():
        monkeypatch.setenv(key, value)
    note_commits(demo.repo, spec=f"{demo.base}..{demo.branch}", base=demo.base)
    logs = build_receipt(demo.repo, demo.base)
    notes = build_receipt(demo.repo, demo.base, from_notes=True)
    assert logs["findings"] and logs["pending"]["requests"]  # the demo has both
    _agree(logs, notes)


def test_report_from_notes_agrees_on_a_real_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Claude Code session (with its subagents) relocated into a temp repository on
    its own branch (its working directory rewritten, nothing else), whose two commits hold
    the files the agent changed before each."""
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "spotter", env)
    repo.commit("initial", datetime(2026, 2, 12, 15, 0, tzinfo=timezone.utc))
    repo.checkout("-b", "spotter-dov")
    sid = "4d5611e5-241a-462a-8d15-5122611a9569"
    source = CORPUS / "claude-code" / "marot-spotter"
    target = env.claude_dir / "projects" / project_slug(str(repo.path))
    old, new = b"/home/USER/projects/spotter-worktrees/spotter-dov", str(repo.path).encode()
    for path in [source / f"{sid}.jsonl", *sorted((source / sid).rglob("*.jsonl"))]:
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(path.read_bytes().replace(old, new))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env.claude_dir))
    monkeypatch.setenv("CODEX_HOME", str(env.codex_home))
    [session] = load_sessions(get_plugin_manager(), SessionFilter(), {}).catalog.sessions
    noon = datetime(2026, 2, 12, 18, 0, tzinfo=timezone.utc)
    written = {
        (call.timestamp is not None and call.timestamp < noon, path)
        for call in session.tool_calls
        if call.writes and not call.is_error
        for path in call.files
        if path.startswith(str(repo.path))
    }
    assert len(written) >= 4  # else this would test nothing
    for morning, when, subject in (
        (True, noon, "morning"),
        (False, noon.replace(hour=21, minute=30), "afternoon"),
    ):
        for is_morning, path in sorted(written):
            if is_morning == morning:
                repo.write(Path(path).relative_to(repo.path).as_posix(), f"{subject}\n")
        repo.git("add", "-A")
        repo.git("commit", "-q", "--allow-empty", "-m", f"work of the {subject}", when=when)
    note_commits(repo.path, spec="main..spotter-dov", base="main")
    logs = build_receipt(repo.path, "main")
    notes = build_receipt(repo.path, "main", from_notes=True)
    assert logs["totals"]["requests"] > 100 and not logs["pending"]["requests"]
    assert [c["requests"] > 0 for c in logs["commits"]] == [True, True]
    assert logs["waste"]["findings"] >= 2
    _agree(logs, notes)
