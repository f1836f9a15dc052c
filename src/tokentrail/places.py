"""Where each agent's logs are read from, which environment variable said so, and what a
filter left of them.

An adapter may expose `roots()` (the folders it reads) and `env_var` (the variable that
moves them, e.g. `CLAUDE_CONFIG_DIR`). A variable that names a folder that does not exist is
a misconfiguration worth a warning: otherwise it reads as "no sessions" and a $0 report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tokentrail.catalog import SessionFilter, discover
from tokentrail.hookspecs import Adapter
from tokentrail.plugins import TokentrailPluginManager


def env_var(adapter: Adapter) -> str | None:
    """The variable that moves this adapter's logs, when it declares one."""
    name = getattr(adapter, "env_var", None)
    return name if isinstance(name, str) and name else None


def named_folders(value: str) -> list[Path]:
    """The folders a variable names: one path, or a comma-separated list (Claude Code's
    `CLAUDE_CONFIG_DIR` takes several)."""
    if "," in value and not Path(value).expanduser().exists():
        return [Path(p.strip()).expanduser() for p in value.split(",") if p.strip()]
    return [Path(value).expanduser()]


def roots(adapter: Adapter) -> list[Path]:
    listing = getattr(adapter, "roots", None)
    if not callable(listing):
        return []
    try:
        return [Path(root) for root in listing()]
    except Exception:
        return []


def log_places(pm: TokentrailPluginManager) -> list[dict[str, Any]]:
    """Each adapter's folders: whether they exist, and the variable that set them (None:
    the default place)."""
    out = []
    for _, adapter in pm.adapters():
        variable = env_var(adapter)
        value = os.environ.get(variable) if variable else None
        for root in roots(adapter):
            out.append(
                {
                    "agent": adapter.name,
                    "path": str(root),
                    "exists": root.is_dir() or root.is_file(),
                    "variable": variable if value else None,
                    "variable_name": variable,
                }
            )
    return out


def missing_folder_warnings(pm: TokentrailPluginManager) -> list[str]:
    """One warning per variable that names a folder that is not there."""
    lines = []
    for _, adapter in pm.adapters():
        variable = env_var(adapter)
        value = os.environ.get(variable, "") if variable else ""
        if not variable or not value.strip():
            continue
        missing = [str(p) for p in named_folders(value) if not p.exists()]
        if missing:
            lines.append(
                f"{variable} names {', '.join(missing)}, which does not exist: no "
                f"{adapter.name} logs were read from it"
            )
    return lines


def emptied_by(
    pm: TokentrailPluginManager, flt: SessionFilter, given: dict[str, str]
) -> dict[str, Any] | None:
    """Why a filtered listing came back empty: which filter left nothing, and how many
    sessions there are without filters (a cheap listing, nothing parsed). None when there
    are no sessions at all (then where logs are looked for is the answer) or no filter."""
    if not given:
        return None
    unfiltered = len(discover(pm, SessionFilter()))
    if not unfiltered:
        return None
    reason = ""
    if flt.repo is not None and not flt.repo.is_dir():
        reason = f"--repo {flt.repo}: no such folder"
    elif flt.agent and not discover(pm, SessionFilter(agent=flt.agent)):
        reason = f"--agent {flt.agent}: this machine has no session of that agent"
    elif flt.repo is not None and not discover(pm, SessionFilter(repo=flt.repo)):
        reason = f"--repo {flt.repo}: no agent session ran inside this folder"
    elif flt.since or flt.until:
        window = " and ".join(
            f"{flag} {given[flag]}" for flag in ("--since", "--until") if flag in given
        )
        reason = f"{window}: no session was active in that window"
    return {"given": given, "reason": reason, "unfiltered": unfiltered}
