"""Run the `tokentrail` CLI for a test: in this process (the default; fast), or as a real
subprocess when the process boundary is what is under test (hooks, exit codes seen by git,
the installed entry point, concurrent runs, a plugin found through PYTHONPATH).

The in-process run behaves like a fresh process: the environment is replaced by the one
given, the working directory changed, the plugin manager rebuilt, and SystemExit mapped to
the exit code; everything is restored afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
# Variables that point tokentrail at agent logs or at its own store: a test never inherits
# them from the machine it runs on (XDG_DATA_HOME holds OpenCode's and the store's data).
AGENT_DIR_VARIABLES = (
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_CLI_HOME",
    "OPENCODE_DATA_DIR",
    "PI_AGENT_DIR",
    "TOKENTRAIL_DATA_DIR",
    "XDG_DATA_HOME",
)
# Claude Code corpus folders that stand for `projects/<slug>` folders of a config dir.
CLAUDE_PROJECT_DIRS = (
    "claude-code/chiphuyen-sniffly/-Users-chip-dev-ai-music",
    "claude-code/d-kimuson-claude-code-viewer/sample-project",
    "claude-code/jazzyalex-agent-sessions-synthetic",
    "claude-code/jazzyalex-agent-sessions-synthetic/subagent",
    "claude-code/marot-spotter",
    "claude-code/oneryalcin-fasthooks",
)
# The installed console script (the entry point a git hook or pre-commit runs).
INSTALLED_CLI = str(Path(sys.executable).parent / "tokentrail")


def claude_config_from_corpus(tmp: Path) -> Path:
    """A Claude config dir whose projects/ are symlinks to corpus folders (read in place)."""
    projects = tmp / "claude" / "projects"
    projects.mkdir(parents=True, exist_ok=True)
    for rel in CLAUDE_PROJECT_DIRS:
        link = projects / rel.replace("/", "__")
        if not link.exists():
            link.symlink_to(CORPUS / rel, target_is_directory=True)
    return tmp / "claude"


def isolated_env(home: Path, **extra: str | Path) -> dict[str, str]:
    """No real logs, no third-party plugins unless asked, no user config."""
    env = {
        k: v for k, v in os.environ.items() if k not in (*AGENT_DIR_VARIABLES, "TOKENTRAIL_CONFIG")
    }
    env.update({"HOME": str(home), "TOKENTRAIL_PLUGINS": "", "NO_COLOR": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_in_process(
    args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`tokentrail ARGS` in this process, as if it were a fresh one (see the module doc)."""
    from click.testing import CliRunner

    from tokentrail.cli import cli
    from tokentrail.model import resolved_cwd
    from tokentrail.plugins import get_plugin_manager

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    get_plugin_manager.cache_clear()
    resolved_cwd.cache_clear()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=True)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        get_plugin_manager.cache_clear()
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(
        ["tokentrail", *args], result.exit_code, result.stdout, stderr
    )


def run_subprocess(
    cmd: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd),
        env=dict(env),
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def needs_process(env: Mapping[str, str]) -> bool:
    """A PYTHONPATH of its own (the fake plugin) only takes effect in a new interpreter."""
    return env.get("PYTHONPATH", "") != os.environ.get("PYTHONPATH", "")


def tokentrail(
    *args: str,
    env: dict[str, str],
    cwd: Path | None = None,
    check: bool = True,
    input: str | None = None,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """The CLI with `args`; `process=True` runs the installed entry point in a subprocess."""
    if process or needs_process(env):
        proc = run_subprocess([INSTALLED_CLI, *args], env, cwd, input)
    else:
        proc = run_in_process(args, env, cwd, input)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"tokentrail {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def tokentrail_json(*args: str, env: dict[str, str], cwd: Path | None = None) -> Any:
    return json.loads(tokentrail(*args, "--json", env=env, cwd=cwd).stdout)


def invoke(*args: str, env: dict[str, str | Path] | None = None, cwd: Path | None = None) -> Any:
    """The CLI in-process (click's CliRunner): exit code, stdout and stderr, fast.

    `env` is set for the call only; `cwd` is the working directory for it. Exceptions that
    escape the CLI fail the test instead of becoming an exit code.
    """
    from click.testing import CliRunner

    from tokentrail.cli import cli
    from tokentrail.plugins import get_plugin_manager

    get_plugin_manager.cache_clear()  # plugin problems belong to one command
    before = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(
            cli,
            list(args),
            env={k: str(v) for k, v in (env or {}).items()},
            catch_exceptions=False,
        )
    finally:
        os.chdir(before)
