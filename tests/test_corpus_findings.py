"""Every real corpus session through every built-in detector: no crash, waste within the
bill, and no detector firing on most sessions (that would be a miscalibrated threshold)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.cli_run import CORPUS, claude_config_from_corpus
from tokentrail.catalog import SessionFilter
from tokentrail.detect import analyze
from tokentrail.pipeline import load_sessions
from tokentrail.plugins import get_plugin_manager


def test_detectors_on_the_real_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_config_from_corpus(tmp_path)))
    monkeypatch.setenv("CODEX_HOME", str(CORPUS / "codex" / "madshn-localpush"))
    pm = get_plugin_manager()
    before = len(pm.problems)
    loaded = load_sessions(pm, SessionFilter(), {})
    sessions = loaded.catalog.sessions
    billed = [s for s in sessions if s.requests]
    result = analyze(sessions, pm, loaded.pricer)
    assert [p for p in pm.problems[before:] if p.stage.startswith("detect")] == []
    fired = Counter()
    for detector, _session in {(f.detector, f.session) for f in result.findings}:
        fired[detector] += 1
    assert fired, "the corpus holds real waste (cache re-writes at least)"
    for detector, count in fired.items():
        assert count <= len(billed) // 2, f"{detector} fires on {count}/{len(billed)} sessions"
    assert fired["cache_rewrite"] >= 3  # the issue: among the largest drivers on the corpus
    for s in sessions:
        carry = result.carry[s.id]
        mine = [f for f in result.findings if f.session == s.id]
        assert sum(f.wasted_tokens for f in mine) <= carry.billed_tokens
        assert sum(f.wasted_usd for f in mine) <= carry.billed_usd + 1e-9
    for f in result.findings:
        assert 0 <= f.confidence <= 1 and f.lesson and f.evidence
        assert all(len(str(v)) <= 200 for e in f.evidence for v in e.values())
