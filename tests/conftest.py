"""Shared pytest fixtures: every test is isolated from the real home (HOME, the cache, agent
log folders, user config and third-party plugin discovery all point into temp dirs), plus
the fake third-party plugin package and an environment that sees it."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.cli_run import AGENT_DIR_VARIABLES, isolated_env
from tests.teamrepos import Team, build_team

FAKE_PLUGIN_SRC = Path(__file__).parent / "fake_plugin"
T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """pyproject's addopts ask pytest-xdist for two workers; without xdist (`-p no:xdist`, or
    not installed) those options are accepted and the suite runs in this one process."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist", "stand-ins while pytest-xdist is disabled")
    group.addoption("--numprocesses", action="store", default=None, help="ignored")
    group.addoption("--dist", action="store", default="no", help="ignored")
    group.addoption("--no-loadscope-reorder", action="store_true", help="ignored")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "early: a slow test file, collected first so the xdist workers end together"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `early` first (whole files, in their own order): with `--dist loadfile`
    a slow file started last would leave one worker running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("early") is None)


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


def once_per_run(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]
) -> T:
    """`build(folder)` once per test run, into a new folder: with pytest-xdist, the first
    worker to ask builds it (the others wait on a lock) and every worker gets the same
    value back (pickled). Only for set-up that tests read and never change."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent  # this run's, shared by its workers
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / f"{name}.pickle"
        if done.exists():
            value: T = pickle.loads(done.read_bytes())
            return value
        value = build(Path(tempfile.mkdtemp(prefix=f"{name}-", dir=shared)))
        done.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def fake_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/fake_plugin installed with pip into a private folder, never into the venv
    (once per test run, shared by the xdist workers: tests only import from it).

    Built from a copy so setuptools' build/ and *.egg-info never land in the work tree.
    """
    return once_per_run(tmp_path_factory, "fake_plugin", _install_fake_plugin)


def _install_fake_plugin(base: Path) -> Path:
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
def team(tmp_path_factory: pytest.TempPathFactory) -> Team:
    """The three repositories, built once per test run (tests only read them)."""

    def build(folder: Path) -> Team:
        with pytest.MonkeyPatch.context() as mp:
            home = folder / "home"
            home.mkdir()
            mp.setenv("HOME", str(home))
            mp.setenv("TOKENTRAIL_PLUGINS", "")
            mp.setenv("TOKENTRAIL_CACHE_DIR", str(home / "cache"))
            (folder / "team").mkdir()
            return build_team(folder / "team")

    return once_per_run(tmp_path_factory, "team", build)
