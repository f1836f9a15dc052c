"""What a step in GitHub Actions reads and says: the event, the repository, the token and
the API client, and warnings as annotations. Shared by `comment` and `consolidate`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import orjson

from tokentrail.errors import TokentrailError
from tokentrail.escape import plain
from tokentrail.github import DEFAULT_MAX_WAIT, GitHub

MAX_WAIT_ENV = "TOKENTRAIL_GITHUB_MAX_WAIT"  # seconds all GitHub retries may wait together


def read_event(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        event = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise TokentrailError(
            "event_unreadable", f"cannot read GITHUB_EVENT_PATH {path}: {exc.strerror}"
        ) from None
    except orjson.JSONDecodeError:
        raise TokentrailError("event_unreadable", f"GITHUB_EVENT_PATH {path} is not JSON") from None
    if not isinstance(event, dict):
        raise TokentrailError("event_unreadable", f"GITHUB_EVENT_PATH {path} is not an object")
    return event


def pull_request(event: Mapping[str, Any]) -> dict[str, Any]:
    """The PR part of a pull_request, pull_request_target or workflow_run event."""
    pr = event.get("pull_request")
    if isinstance(pr, dict):
        return pr
    runs = (event.get("workflow_run") or {}).get("pull_requests") or []
    return runs[0] if runs and isinstance(runs[0], dict) else {}


def pr_number(event: Mapping[str, Any], given: int | None) -> int:
    if given is not None:
        return given
    number = pull_request(event).get("number") or event.get("number")
    if isinstance(number, int):
        return number
    raise TokentrailError(
        "no_pull_request",
        "no pull request number: run on a pull_request event (GITHUB_EVENT_PATH) or pass --pr",
    )


def is_fork(event: Mapping[str, Any]) -> bool:
    run = event.get("workflow_run")
    if isinstance(run, dict):
        head_repo = (run.get("head_repository") or {}).get("full_name")
        return bool(head_repo and head_repo != (event.get("repository") or {}).get("full_name"))
    pr = pull_request(event)
    head = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
    base = ((pr.get("base") or {}).get("repo") or {}).get("full_name")
    return bool(head and base and head != base)


def max_wait() -> float:
    raw = os.environ.get(MAX_WAIT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_MAX_WAIT
    except ValueError:
        raise TokentrailError("bad_usage", f"${MAX_WAIT_ENV} must be a number of seconds") from None
    return max(value, 0.0)


def client(token_env: str, event: Mapping[str, Any]) -> GitHub:
    token = os.environ.get(token_env, "")
    if not token:
        raise TokentrailError(
            "no_token", f"no token in ${token_env}: set it or pass --token-env NAME"
        )
    api = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    return GitHub(api, token, fork=is_fork(event), max_wait=max_wait())


def repo_name() -> str:
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    if repo.count("/") != 1:
        raise TokentrailError("no_repository", "GITHUB_REPOSITORY must be owner/name")
    return repo


def warn(message: str) -> None:
    """A warning on stderr; an annotation on the run's page when in GitHub Actions."""
    message = plain(message)  # redacted, one line, nothing a terminal or a CI log acts on
    if os.environ.get("GITHUB_ACTIONS") == "true":
        data = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        click.echo(f"::warning title=tokentrail::{data}", err=True)
    else:
        click.echo(f"tokentrail: warning: {message}", err=True)
