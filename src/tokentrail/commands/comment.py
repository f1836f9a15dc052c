"""`tokentrail comment`: the branch receipt as one sticky PR comment (what the Action runs).

Reads the standard Actions environment: GITHUB_API_URL, GITHUB_REPOSITORY,
GITHUB_EVENT_PATH (PR number, base and head from the event), the token from GITHUB_TOKEN
or `--token-env`. Writes the full report to $GITHUB_STEP_SUMMARY and key figures to
$GITHUB_OUTPUT when those are set. The token is only ever sent to the API.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import orjson

from tokentrail.builtin.render_markdown import MARKER, render_receipt, total_tokens
from tokentrail.commands.common import dump_json, echo, handle_errors, json_option
from tokentrail.commands.report import build_report
from tokentrail.errors import TokentrailError
from tokentrail.escape import plain
from tokentrail.github import GitHub

LIMIT = 65_536  # GitHub's limit on a comment body, in characters
MARGIN = 536  # room for GitHub's own accounting differences
SUMMARY_NOTE = "The full report is in the workflow run's summary."


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


def build(
    from_notes: bool, base: str | None, head: str | None, branch: str | None, ref: str | None
) -> dict[str, Any]:
    """The receipt of base..head: from notes by default (CI has no logs)."""
    if not from_notes:
        return build_report(None, base, ref=ref, as_json=True)
    doc = build_report(None, base, from_notes=True, ref=ref, as_json=True, head=head or "HEAD")
    doc["branch"] = doc.get("branch") or branch
    return doc


def key_figures(doc: Mapping[str, Any], budget: float | None) -> dict[str, Any]:
    t = doc["totals"]
    cost = t.get("cost_usd")
    return {
        "cost_usd": cost,
        "tokens": total_tokens(t),
        "over_budget": budget is not None and (cost or 0.0) > budget,
    }


def write_outputs(figures: Mapping[str, Any], full: str) -> None:
    """$GITHUB_OUTPUT key=value lines and the full report in $GITHUB_STEP_SUMMARY."""
    out = os.environ.get("GITHUB_OUTPUT")
    if out:
        cost = figures["cost_usd"]
        lines = [
            f"cost-usd={'' if cost is None else f'{cost:.6f}'}",
            f"tokens={figures['tokens']}",
            f"over-budget={'true' if figures['over_budget'] else 'false'}",
        ]
        _append(out, "\n".join(lines) + "\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        _append(summary, full + "\n")


def client(token_env: str, event: Mapping[str, Any]) -> GitHub:
    token = os.environ.get(token_env, "")
    if not token:
        raise TokentrailError(
            "no_token", f"no token in ${token_env}: set it or pass --token-env NAME"
        )
    api = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    return GitHub(api, token, fork=is_fork(event))


def repo_name() -> str:
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    if repo.count("/") != 1:
        raise TokentrailError("no_repository", "GITHUB_REPOSITORY must be owner/name")
    return repo


def post_prepared(
    body_file: Path,
    event: Mapping[str, Any],
    number: int | None,
    token_env: str,
    expect_head: str | None,
    as_json: bool,
) -> None:
    """Post a comment body built elsewhere (a fork PR's read-only workflow), after checking
    it is ours and, with --expect-head, that the PR number belongs to that commit."""
    try:
        body = body_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TokentrailError("body_unreadable", f"cannot read {body_file}: {exc}") from None
    if MARKER not in body.split("\n", 1)[0]:
        raise TokentrailError(
            "body_not_ours", f"{body_file} does not start with the tokentrail marker"
        )
    if len(body) >= LIMIT:
        raise TokentrailError("body_too_long", f"{body_file} is over {LIMIT} characters")
    gh, repo, pr = client(token_env, event), repo_name(), pr_number(event, number)
    if expect_head:
        head = gh.pull_head(repo, pr)
        if head != expect_head:
            raise TokentrailError(
                "head_mismatch",
                f"PR #{pr}'s head is {head[:12]}, not {expect_head[:12]}: refusing to post",
            )
    action, posted = gh.upsert(repo, pr, body, MARKER)
    result = {"action": action, "comment_id": posted.get("id"), "url": posted.get("html_url")}
    if as_json:
        echo(dump_json({"schema_version": 1, **result}), json=True)
    else:
        echo(f"tokentrail: {action} the PR comment: {plain(result['url'])}")


def _append(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise TokentrailError("write_failed", f"cannot write {path}: {exc.strerror}") from None


@click.command()
@click.option(
    "--from-notes/--from-logs",
    default=True,
    help="Build the receipt from git notes (default; CI has no logs) or from local logs.",
)
@click.option("--base", help="Base revision (default: the PR's base sha from the event).")
@click.option("--ref", help="Notes ref (default: notes.ref in .tokentrail.yml, else tokentrail).")
@click.option("--pr", "number", type=int, help="Pull request number (default: from the event).")
@click.option(
    "--token-env",
    default="GITHUB_TOKEN",
    show_default=True,
    help="Name of the environment variable that holds the token.",
)
@click.option("--budget", type=float, help="Budget in USD (API-equivalent) for the branch.")
@click.option("--fail-on-budget", is_flag=True, help="Exit 1 when the branch is over budget.")
@click.option("--dry-run", is_flag=True, help="Print the comment instead of posting it.")
@click.option(
    "--body-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Post this prepared comment (from `comment --dry-run`) instead of building one "
    "(the workflow_run pattern for fork PRs).",
)
@click.option(
    "--expect-head",
    metavar="SHA",
    help="Refuse to post unless the PR's head is this commit (guards a PR number that came "
    "from an untrusted artifact).",
)
@json_option
@handle_errors
def comment(
    from_notes: bool,
    base: str | None,
    ref: str | None,
    number: int | None,
    token_env: str,
    budget: float | None,
    fail_on_budget: bool,
    dry_run: bool,
    body_file: Path | None,
    expect_head: str | None,
    as_json: bool,
) -> None:
    """Post the branch receipt as one PR comment that updates itself."""
    if budget is not None and budget < 0:
        raise TokentrailError("bad_usage", "--budget must be >= 0")
    event = read_event(os.environ.get("GITHUB_EVENT_PATH"))
    if body_file is not None:
        post_prepared(body_file, event, number, token_env, expect_head, as_json)
        return
    pr = pull_request(event)
    base = base or (pr.get("base") or {}).get("sha")
    head = (pr.get("head") or {}).get("sha") if from_notes else None
    doc = build(from_notes, base, head, (pr.get("head") or {}).get("ref"), ref)
    figures = key_figures(doc, budget)
    if budget is not None:
        doc["budget"] = {"usd": budget, "over": figures["over_budget"]}
    full = render_receipt(doc)
    in_actions = bool(os.environ.get("GITHUB_STEP_SUMMARY"))
    body = render_receipt(doc, LIMIT - MARGIN, SUMMARY_NOTE if in_actions else "")
    write_outputs(figures, full)
    result: dict[str, Any] = {
        **figures,
        "chars": len(body),
        "truncated": len(body) < len(full),
    }
    if dry_run:
        result.update(action="dry-run", body=body)
    else:
        gh = client(token_env, event)
        action, posted = gh.upsert(repo_name(), pr_number(event, number), body, MARKER)
        result.update(action=action, comment_id=posted.get("id"), url=posted.get("html_url"))
    if as_json:
        echo(dump_json({"schema_version": 1, **result}), json=True)
    elif dry_run:
        echo(body, nl=False)
    else:
        where = f": {plain(result['url'])}" if result.get("url") else ""
        echo(f"tokentrail: {result['action']} the PR comment{where}")
    if fail_on_budget and figures["over_budget"]:
        echo(
            f"tokentrail: over budget: ${figures['cost_usd'] or 0:.2f} > ${budget:.2f}", err=True
        )
        sys.exit(1)
