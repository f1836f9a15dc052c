"""`tokentrail doctor`: what tokentrail sees on this machine and in this repository.

Where each agent's logs are read from (found or missing, and the variable that moved them),
how many sessions each agent has, the parsed-session cache (where, how big), the config file
(found, valid), the git hooks installed here, and whether the notes ref exists locally and on
the remote. Nothing is parsed or changed: listing sessions is the adapters' cheap discovery,
and the remote is only asked which refs it has.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from tokentrail import catalog, places
from tokentrail.config import find_config, load_config
from tokentrail.errors import TokentrailError
from tokentrail.githooks import status as hook_status
from tokentrail.notes import notes_ref, pick_remote, ref_exists
from tokentrail.plugins import TokentrailPluginManager
from tokentrail.scope import current_branch, open_repo, run_git

REMOTE_TIMEOUT = 15  # seconds to wait for `git ls-remote`


def agents(pm: TokentrailPluginManager, repo: Path | None) -> list[dict[str, Any]]:
    """Per agent: its folders, the variable that set them, its sessions on this machine
    and in this repository (cheap discovery, nothing parsed)."""
    everywhere = Counter(a.name for _, a, _ in catalog.discover(pm, catalog.SessionFilter()))
    here = (
        Counter(a.name for _, a, _ in catalog.discover(pm, catalog.SessionFilter(repo=repo)))
        if repo is not None
        else None
    )
    folders: dict[str, list[dict[str, Any]]] = {}
    for place in places.log_places(pm):
        folders.setdefault(place["agent"], []).append(place)
    out = []
    for _, adapter in pm.adapters():
        name = adapter.name
        found = folders.get(name, [])
        variable = places.env_var(adapter)
        value = os.environ.get(variable) if variable else None
        exists = any(p["exists"] for p in found)
        out.append(
            {
                "agent": name,
                "status": "found" if exists else "missing",
                "folders": [{"path": p["path"], "exists": p["exists"]} for p in found],
                "variable": variable,
                "from_variable": bool(value),
                "variable_value": value or None,
                "sessions": everywhere.get(name, 0),
                "sessions_in_repo": None if here is None else here.get(name, 0),
            }
        )
    return out


def cache_facts() -> dict[str, Any]:
    """Where tokentrail's index of parsed sessions lives, how many sessions and bytes."""
    from tokentrail.index import facts

    found = facts()
    if found is None:
        return {"path": None, "enabled": False, "exists": False, "entries": 0, "bytes": 0}
    return {
        "path": found["path"],
        "enabled": True,
        "exists": found["exists"],
        "entries": found["sessions"],
        "bytes": found["bytes"],
    }


def config_facts() -> dict[str, Any]:
    """The config file: where, and whether it is valid (with each problem)."""
    path = find_config()
    facts: dict[str, Any] = {
        "path": str(path) if path else None,
        "found": bool(path and path.is_file()),
        "valid": True,
        "problems": [],
        "error": None,
    }
    if path is None:
        return facts
    try:
        facts["problems"] = list(load_config(path).get("_warnings") or [])
    except TokentrailError as exc:
        facts.update(valid=False, error=exc.message, code=exc.code)
    return facts


def _ls_remote(root: Path, remote: str, ref: str) -> tuple[bool | None, str | None]:
    """Whether `remote` has `ref` (None with the reason when it could not be asked)."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        proc = subprocess.run(
            ["git", "ls-remote", remote, ref],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=REMOTE_TIMEOUT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"{remote} did not answer within {REMOTE_TIMEOUT} s"
    except FileNotFoundError:
        return None, "git is not installed"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        return None, detail[-1] if detail else f"git ls-remote {remote} failed"
    return bool(proc.stdout.strip()), None


def notes_facts(root: Path, config: dict[str, Any], ask_remote: bool) -> dict[str, Any]:
    """The notes ref: present here (and on how many commits), and on the remote."""
    ref = notes_ref(config)
    local = ref_exists(root, ref)
    noted = run_git(root, "notes", f"--ref={ref}", "list", check=False) if local else ""
    notes_cfg = config.get("notes")
    facts: dict[str, Any] = {
        "ref": ref,
        "local": local,
        "noted_commits": len(noted.splitlines()),
        "push_configured": isinstance(notes_cfg, dict) and notes_cfg.get("push") is True,
        "remote": None,
        "on_remote": None,
        "remote_error": None,
    }
    try:
        facts["remote"] = pick_remote(root, None)
    except TokentrailError as exc:
        facts["remote_error"] = exc.message
        return facts
    if ask_remote:
        facts["on_remote"], facts["remote_error"] = _ls_remote(root, facts["remote"], ref)
    return facts


def advice(doc: dict[str, Any]) -> list[str]:
    """What to do about what was found, most useful first."""
    out = []
    if not any(a["sessions"] for a in doc["agents"]):
        variables = ", ".join(a["variable"] for a in doc["agents"] if a["variable"])
        out.append(
            f"no agent sessions on this machine: if your logs live elsewhere, set {variables} "
            "(docs/agents/); `tokentrail demo` shows a report on generated data"
        )
    for a in doc["agents"]:
        if a["from_variable"] and a["status"] == "missing":
            out.append(f"{a['variable']} names a folder that does not exist ({a['agent']})")
    config = doc["config"]
    if not config["valid"]:
        out.append(f"fix the config: {config['error']}")
    out.extend(f"config: {p}" for p in config["problems"])
    hooks = doc.get("hooks")
    if hooks is not None:
        if hooks["hooks_path"]:
            out.append(
                f"core.hooksPath is {hooks['hooks_path']}: call tokentrail from those hooks "
                "(docs/notes.md)"
            )
        elif any(not h["status"].startswith("installed") for h in hooks["hooks"]):
            out.append("run `tokentrail install` to note each commit and push notes")
    notes = doc.get("notes")
    if notes is not None and notes["remote"]:
        if notes["local"] and notes["on_remote"] is False:
            out.append(f"the notes are not on {notes['remote']}: `tokentrail notes push`")
        if notes["local"] and not notes["push_configured"]:
            out.append("set `notes: {push: true}` in .tokentrail.yml to push notes on git push")
    return out


def diagnose(pm: TokentrailPluginManager, ask_remote: bool = True) -> dict[str, Any]:
    """The doctor document for the working directory."""
    try:
        repo = open_repo(None)
        root: Path | None = repo.root
        branch = current_branch(repo)
    except TokentrailError:
        root, branch = None, None
    config = config_facts()
    try:
        loaded = load_config()
    except TokentrailError:
        loaded = {}
    doc: dict[str, Any] = {
        "kind": "doctor",
        "agents": agents(pm, root),
        "cache": cache_facts(),
        "config": config,
        "repo": {"root": str(root), "branch": branch} if root is not None else None,
        "hooks": hook_status(root, notes_ref(loaded)) if root is not None else None,
        "notes": notes_facts(root, loaded, ask_remote) if root is not None else None,
        "plugin_problems": [
            {"plugin": p.plugin, "stage": p.stage, "message": p.message} for p in pm.problems
        ],
    }
    doc["advice"] = advice(doc)
    return doc
