"""The `tokentrail` command run in-process with click's CliRunner (fast: no interpreter
start-up), for tests where the process boundary is not what is under test."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from click.testing import CliRunner, Result

from tokentrail.cli import cli


def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def invoke(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    """Run `tokentrail ARGS`; `env` adds to (or with None removes from) the environment."""
    from tokentrail.plugins import get_plugin_manager

    get_plugin_manager.cache_clear()  # plugins and adapters see this run's environment
    return _runner().invoke(cli, list(args), env=dict(env or {}), catch_exceptions=False)


def run_ok(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    result = invoke(*args, env=env)
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


def run_json(*args: str, env: Mapping[str, str | None] | None = None) -> Any:
    return json.loads(run_ok(*args, "--json", env=env).stdout)
