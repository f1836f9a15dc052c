"""Attribution in-process on a real repo and real (written) logs, through the pipeline's
load_sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepo import feature_branch
from tokentrail.attribute import attribute
from tokentrail.catalog import SessionFilter
from tokentrail.pipeline import load_sessions
from tokentrail.plugins import get_plugin_manager
from tokentrail.scope import find_scope


def test_parts_per_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = feature_branch(tmp_path)
    for key in ("HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "GIT_CONFIG_GLOBAL"):
        monkeypatch.setenv(key, f.env.environ()[key])
    scope = find_scope(f.repo.path)
    found = load_sessions(get_plugin_manager(), SessionFilter(repo=scope.root), {}).catalog
    result = attribute(scope, found.sessions)
    c1 = {p.session.id[:8]: (p.link, len(p.requests)) for p in result.commits[f.c1]}
    assert c1 == {"11111111": ("window", 3), "22222222": ("window", 1), "33333333": ("window", 1)}
    c2 = [(p.session.id[:8], p.link, len(p.requests)) for p in result.commits[f.c2]]
    assert c2 == [("11111111", "exact", 2)]
    pending = sorted((p.session.id[:8], len(p.requests)) for p in result.pending)
    assert pending == [("11111111", 1), ("44444444", 1)]
    # without the agent's own commit, time alone would put the request at 16 into c2
    s1 = next(s for s in found.sessions if s.id.startswith("1111"))
    s1.commits.clear()
    timed = attribute(scope, found.sessions)
    assert [len(p.requests) for p in timed.commits[f.c2]] == [3]
    assert [p.link for p in timed.commits[f.c2]] == ["window"]
