"""Colour and progress only where a person watches: on a terminal (a real pseudo-terminal
here, since the process boundary is what is under test), never with NO_COLOR, --no-color,
a pipe or JSON; and the parse loop reports its progress to whoever listens."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.gitrepo import CLI, Feature, feature_branch
from tokentrail import catalog, progress
from tokentrail.config import load_config
from tokentrail.pipeline import load_sessions
from tokentrail.plugins import get_plugin_manager

RED = "\033[1;31m"


def on_a_terminal(f: Feature, *args: str, **extra: str) -> str:
    """What `tokentrail ARGS` prints to a pseudo-terminal (stdout and stderr)."""
    env = f.env.environ()
    env.pop("NO_COLOR", None)
    env.update(COLUMNS="100", **extra)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [CLI, *args], cwd=f.repo.path, env=env, stdout=slave, stderr=slave, stdin=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) in (0, 1)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def feat(tmp_path: Path) -> Feature:
    f = feature_branch(tmp_path)
    f.env.extra["TOKENTRAIL_CACHE_DIR"] = str(tmp_path / "cache")
    return f


def test_over_budget_is_red_on_a_terminal(feat: Feature) -> None:
    out = on_a_terminal(feat, "check", "--budget", "0.001")
    assert f"{RED}OVER by" in out
    assert "\033[31mover budget (warning only" in out


def test_no_color_and_the_flag_turn_it_off(feat: Feature) -> None:
    assert "\033[" not in on_a_terminal(feat, "check", "--budget", "0.001", NO_COLOR="1")
    assert "\033[" not in on_a_terminal(feat, "check", "--budget", "0.001", "--no-color")
    assert "\033[" not in on_a_terminal(feat, "report", "--no-color")


def test_a_pipe_gets_no_colour(feat: Feature) -> None:
    env = feat.env.environ()
    env.pop("NO_COLOR", None)
    proc = subprocess.run(
        [CLI, "check", "--budget", "0.001"],
        cwd=feat.repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "OVER by" in proc.stdout and "\033[" not in proc.stdout + proc.stderr


def test_the_parse_loop_reports_files_parsed_of_total(
    feat: Feature, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in feat.env.environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TOKENTRAIL_NO_CACHE", "1")
    get_plugin_manager.cache_clear()
    calls: list[tuple[int, int]] = []
    with progress.reporting(lambda done, total: calls.append((done, total))):
        loaded = load_sessions(get_plugin_manager(), catalog.SessionFilter(), load_config())
    total = calls[0][1]
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [done for done, _ in calls] == list(range(total + 1))
    assert total >= len(loaded.catalog.sessions) > 0
    calls.clear()
    load_sessions(get_plugin_manager(), catalog.SessionFilter(), load_config())
    assert calls == []  # nobody listening: nothing reported
