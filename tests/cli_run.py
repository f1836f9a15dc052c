"""Run the installed `tokentrail` CLI in a subprocess with an isolated environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def tokentrail(
    *args: str, env: dict[str, str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tokentrail", *args]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
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
