"""Shared pytest fixtures: every test is isolated from the real home (HOME, the cache, agent
log folders, user config and third-party plugin discovery all point into temp dirs), plus
the fake third-party plugin package and an environment that sees it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_run import AGENT_DIR_VARIABLES, isolated_env
from tests.teamrepos import Team, build_team

FAKE_PLUGIN_SRC = Path(__file__).parent / "fake_plugin"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One parsed-session cache for the whole run (private to it): the corpus is parsed once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_home(
    shared_cache: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """No test reads or writes the real home: logs, cache, config and plugins are private."""
    home = tmp_path_factory.mktemp("home")
    for name in (*AGENT_DIR_VARIABLES, "TOKENTRAIL_CONFIG", "TOKENTRAIL_NO_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("TOKENTRAIL_CACHE_DIR", str(shared_cache))
    monkeypatch.setenv("TOKENTRAIL_PLUGINS", "")
    monkeypatch.setenv("NO_COLOR", "1")
    from tokentrail.plugins import get_plugin_manager

    get_plugin_manager.cache_clear()
    yield home
    get_plugin_manager.cache_clear()


@pytest.fixture(scope="session")
def fake_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/fake_plugin installed with pip into a private folder, never into the venv.

    Built from a copy so setuptools' build/ and *.egg-info never land in the work tree.
    """
    base = tmp_path_factory.mktemp("fake_plugin")
    source = base / "src"
    shutil.copytree(FAKE_PLUGIN_SRC, source)
    site = base / "site"
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    proc = subprocess.run(
        [*cmd, "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    if proc.returncode != 0:
        raise AssertionError(
            "could not build tests/fake_plugin (needs setuptools>=70.1: "
            f"pip install -e '.[test]'):\n{proc.stdout}\n{proc.stderr}"
        )
    return site


@pytest.fixture
def plugin_env(fake_plugin_site: Path, tmp_path: Path) -> dict[str, str]:
    """An isolated CLI environment that sees the fake plugin, with every plugin enabled.

    Claude Code and Codex roots are empty folders; the fake adapter reads tmp_path/fake.
    """
    for folder in ("home", "claude", "codex", "fake"):
        (tmp_path / folder).mkdir()
    env = isolated_env(
        tmp_path / "home",
        CLAUDE_CONFIG_DIR=tmp_path / "claude",
        CODEX_HOME=tmp_path / "codex",
        FAKE_AGENT_DIR=tmp_path / "fake",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(fake_plugin_site), os.environ.get("PYTHONPATH", "")) if p
        ),
    )
    del env["TOKENTRAIL_PLUGINS"]  # unset: every installed plugin loads
    return env


@pytest.fixture(scope="session")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """The three repositories, built once per test run (tests only read them)."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("team-home")
        mp.setenv("HOME", str(home))
        mp.setenv("TOKENTRAIL_PLUGINS", "")
        mp.setenv("TOKENTRAIL_CACHE_DIR", str(home / "cache"))
        yield build_team(tmp_path_factory.mktemp("team"))
