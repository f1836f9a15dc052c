"""`tokentrail log`: one AI call of a custom agent, appended to the local store.

Meant to be called by the agent itself after every model call, so it stays light: git is
asked through a subprocess (no GitPython), prices are looked up only for the answer.
"""

from __future__ import annotations

import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from tokentrail.commands.common import echo, emit, handle_errors, json_option, parse_when
from tokentrail.errors import TokentrailError
from tokentrail.store import append, check_agent_name, session_file

TOKENS = click.IntRange(min=0)


def _git(cwd: str, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out else None


def where(cwd: Path | None, branch: str | None) -> tuple[str, str | None]:
    """The working directory (the repository's top level by default) and branch a call is
    logged under: the given ones, else those of the current directory's checkout."""
    folder = str((cwd or Path.cwd()).resolve())
    if cwd is None:
        folder = _git(folder, "rev-parse", "--show-toplevel") or folder
    if branch is None:
        branch = _git(folder, "symbolic-ref", "--quiet", "--short", "HEAD")
    return folder, branch


def price(record: dict[str, Any], when: datetime) -> tuple[float | None, str | None]:
    """tokentrail's price of the call (the same pricers a report uses)."""
    from tokentrail.config import load_config
    from tokentrail.model import Price, Request, Usage
    from tokentrail.plugins import get_plugin_manager

    request = Request(
        key=None,
        timestamp=when,
        model=record["model"],
        provider=record["provider"],
        usage=Usage(
            input=record["input_tokens"],
            cache_read=record["cache_read_tokens"],
            cache_write_5m=record["cache_write_tokens"],
            output=record["output_tokens"],
        ),
    )
    answer = get_plugin_manager().first_result(
        "price_request", Price, request=request, config=load_config()
    )
    return (answer[1].cost_usd, answer[1].source) if answer else (None, None)


@click.command(name="log")
@click.option("--agent", required=True, metavar="NAME", help="Your agent's name (lowercase).")
@click.option("--provider", required=True, metavar="P", help="API provider: anthropic, openai…")
@click.option("--model", required=True, metavar="M", help="Model id as the provider names it.")
@click.option("--input-tokens", type=TOKENS, required=True, help="Uncached input tokens.")
@click.option("--output-tokens", type=TOKENS, required=True, help="Output (with reasoning).")
@click.option("--cache-read-tokens", type=TOKENS, default=0, help="Input read from the cache.")
@click.option("--cache-write-tokens", type=TOKENS, default=0, help="Input written to the cache.")
@click.option("--cost", type=click.FloatRange(min=0), help="USD the agent itself computed.")
@click.option("--session-id", metavar="ID", help="Group calls (default: AGENT-YYYY-MM-DD).")
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the call ran (default: the current repository's top level).",
)
@click.option("--branch", metavar="B", help="Git branch (default: the current branch).")
@click.option("--timestamp", metavar="T", help="When: ISO time, 2026-02-23, or 5m (ago); now.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing unless something failed.")
@json_option
@handle_errors
def log_command(
    agent: str,
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
    cost: float | None,
    session_id: str | None,
    cwd: Path | None,
    branch: str | None,
    timestamp: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Record one AI call of a custom agent, so branch receipts include it."""
    check_agent_name(agent)
    if not model.strip() or not provider.strip():
        raise TokentrailError("bad_usage", "--model and --provider cannot be empty")
    when = parse_when(timestamp) or datetime.now(timezone.utc)
    folder, branch = where(cwd, branch)
    session = session_id or f"{agent}-{when.astimezone(timezone.utc):%Y-%m-%d}"
    record: dict[str, Any] = {
        "kind": "call",
        "source": "log",
        "agent": agent,
        "session": session,
        "key": f"log:{uuid.uuid4().hex}",
        "ts": when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "provider": provider.strip(),
        "model": model.strip(),
        "input_tokens": input_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
        "output_tokens": output_tokens,
        "reasoning_tokens": 0,
        "cost_usd": cost,
        "cwd": folder,
        "branch": branch,
    }
    append([record], dedup=False)
    if quiet and not as_json:
        return
    cost_usd, source = price(record, when)
    if as_json:
        emit(
            {
                "kind": "log",
                "call": {k: v for k, v in record.items() if k != "kind"},
                "store": str(session_file(agent, session)),
                "cost_usd": None if cost_usd is None else round(cost_usd, 6),
                "price_source": source,
                "agent_cost_usd": cost,
            },
            True,
        )
        return
    figure = "unpriced" if cost_usd is None else f"${cost_usd:,.4f} ({source})"
    where_text = f"{folder}" + (f" on {branch}" if branch else "")
    echo(f"logged 1 {agent} call ({model}) in session {session}, {where_text}: {figure}")
