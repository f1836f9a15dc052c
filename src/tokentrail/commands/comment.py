"""`tokentrail comment`: the branch receipt as one sticky PR comment (what the Action runs).

Reads the standard Actions environment: GITHUB_API_URL, GITHUB_REPOSITORY,
GITHUB_REPOSITORY_ID (else asked of the API), GITHUB_EVENT_PATH (PR number, base and head
from the event), the token from GITHUB_TOKEN or `--token-env`. Writes the full report to
$GITHUB_STEP_SUMMARY and key figures to $GITHUB_OUTPUT when those are set. The token is
only ever sent to the API.

Missing receipts fail closed: commits without a note are counted and named in the comment,
and `--fail-on-budget` fails on them too unless `--allow-missing` says they are expected.
A fork PR's read-only token cannot comment: that is a warning, not a failed job.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from tokentrail.actions import client, pr_number, pull_request, read_event, repo_name, warn
from tokentrail.budget import UNPRICED_POLICIES, Budget, parse_amount, resolve_budget
from tokentrail.commands.common import dump_json, echo, handle_errors, json_option
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.figures import envelope
from tokentrail.github import GitHub, Marker, Posted
from tokentrail.hookspecs import FittingRenderer
from tokentrail.notes import notes_ref
from tokentrail.pipeline import build_receipt
from tokentrail.plugins import get_plugin_manager
from tokentrail.rollup import pr_baseline

MARKER = "tokentrail:receipt"  # the hidden comment that makes our PR comment sticky
MARKER_LINE = f"<!-- {MARKER} -->\n\n"
LIMIT = 65_536  # GitHub's limit on a comment body, in characters
MARGIN = 536  # room for GitHub's own accounting differences
SUMMARY_NOTE = "The full report is in the workflow run's summary."


def build(
    from_notes: bool,
    base: str | None,
    head: str | None,
    branch: str | None,
    ref: str | None,
    budget: Budget,
) -> dict[str, Any]:
    """The receipt of base..head: from notes by default (CI has no logs)."""
    if not from_notes:
        return build_receipt(None, base, ref=ref, budget=budget)
    return build_receipt(
        None, base, from_notes=True, ref=ref, head=head or "HEAD", budget=budget, branch=branch
    )


def baseline(
    doc: Mapping[str, Any], event: Mapping[str, Any], number: int | None, ref: str | None
) -> dict[str, Any] | None:
    """ "this PR: $X; this repository's median PR: $Y" from the repository's notes; never
    a reason for the comment to fail."""
    try:
        pr: int | None = pr_number(event, number)
    except TokentrailError:
        pr = None
    try:
        return pr_baseline(
            Path.cwd(), notes_ref(load_config(), ref), pr, doc["totals"].get("cost_usd")
        )
    except TokentrailError:
        return None


def key_figures(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What the Action exposes as step outputs, straight from the receipt."""
    t = doc["totals"]
    return {
        "cost_usd": t.get("cost_usd"),
        "tokens": t["total_tokens"],
        "requests": int(t.get("requests") or 0),
        "over_budget": bool((doc.get("budget") or {}).get("over")),
        "commits": len(doc.get("commits") or []),
        "missing_receipts": int(doc.get("commits_without_note") or 0),
        "commits_without_receipt": list(doc.get("commits_missing_note") or []),
    }


def comment_body(doc: Mapping[str, Any], note: str) -> tuple[str, str]:
    """The full Markdown receipt, and the comment body: our marker plus the receipt
    shortened to fit GitHub's limit (by the renderer, when it knows how)."""
    renderer = get_plugin_manager().renderer("markdown", "report")
    full = renderer.render(envelope(**doc))
    room = LIMIT - MARGIN - len(MARKER_LINE)
    if isinstance(renderer, FittingRenderer):
        fitted = renderer.render_within(envelope(**doc), room, note)
    else:
        fitted = full if len(full) <= room else full[: room - 1] + "…"
    return MARKER_LINE + full, MARKER_LINE + fitted


def write_outputs(figures: Mapping[str, Any], full: str) -> None:
    """$GITHUB_OUTPUT key=value lines and the full report in $GITHUB_STEP_SUMMARY."""
    out = os.environ.get("GITHUB_OUTPUT")
    if out:
        cost = figures["cost_usd"]
        lines = [
            f"cost-usd={'' if cost is None else f'{cost:.6f}'}",
            f"tokens={figures['tokens']}",
            f"over-budget={'true' if figures['over_budget'] else 'false'}",
            f"missing-receipts={figures['missing_receipts']}",
        ]
        _append(out, "\n".join(lines) + "\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        _append(summary, full + "\n")


def marker(gh: GitHub, repo: str) -> Marker:
    """Our marker for this repository: the runner's GITHUB_REPOSITORY_ID, else the API's."""
    repo_id = os.environ.get("GITHUB_REPOSITORY_ID", "").strip()
    return Marker(MARKER, repo_id if repo_id.isdigit() else gh.repo_id(repo))


def post(gh: GitHub, number: int, body: str) -> tuple[Posted, str]:
    """Post or update our comment; what was done, and the body as posted (with the
    repository's marker)."""
    repo = repo_name()
    ours = marker(gh, repo)
    stamped = ours.stamp(body)
    if len(stamped) >= LIMIT:
        raise TokentrailError("body_too_long", f"the comment is over {LIMIT} characters")
    return gh.upsert(repo, number, stamped, ours), stamped


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
    done, _ = post(gh, pr, body)
    result = {
        "action": done.action,
        "comment_id": done.comment.get("id"),
        "url": done.comment.get("html_url"),
        "removed_duplicates": done.removed,
    }
    if as_json:
        echo(dump_json({"schema_version": 1, **result}), json=True)
    else:
        echo(f"tokentrail: {done.action} the PR comment: {result['url']}")


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
@click.option(
    "--budget",
    "budget_",
    metavar="USD",
    help="Branch budget in USD, API-equivalent (default: budget.branch_usd in .tokentrail.yml).",
)
@click.option(
    "--fail-on-budget",
    is_flag=True,
    help="Exit 1 when the branch is over budget, or when commits have no receipt.",
)
@click.option(
    "--allow-missing",
    is_flag=True,
    help="With --fail-on-budget: commits without a receipt do not fail the run (they are "
    "still counted and named in the comment).",
)
@click.option(
    "--unpriced",
    type=click.Choice(UNPRICED_POLICIES),
    help="Requests on a model without a price: warn (default) or fail (count as over "
    "budget) (budget.unpriced).",
)
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
    budget_: str | None,
    fail_on_budget: bool,
    allow_missing: bool,
    unpriced: str | None,
    dry_run: bool,
    body_file: Path | None,
    expect_head: str | None,
    as_json: bool,
) -> None:
    """Post the branch receipt as one PR comment that updates itself."""
    budget = resolve_budget(
        load_config(), branch_usd=parse_amount("--budget", budget_), unpriced=unpriced
    )
    event = read_event(os.environ.get("GITHUB_EVENT_PATH"))
    if body_file is not None:
        post_prepared(body_file, event, number, token_env, expect_head, as_json)
        return
    pr = pull_request(event)
    base = base or (pr.get("base") or {}).get("sha")
    head = (pr.get("head") or {}).get("sha") if from_notes else None
    doc = build(from_notes, base, head, (pr.get("head") or {}).get("ref"), ref, budget)
    figures = key_figures(doc)
    if figures["missing_receipts"]:
        warn(
            f"{figures['missing_receipts']} of {figures['commits']} commits have no receipt "
            "(no tokentrail note): push notes with `tokentrail notes push`"
        )
    doc["baseline"] = baseline(doc, event, number, ref)
    full, body = comment_body(doc, SUMMARY_NOTE if os.environ.get("GITHUB_STEP_SUMMARY") else "")
    write_outputs(figures, full)
    result: dict[str, Any] = {
        **figures,
        "chars": len(body),
        "truncated": len(body) < len(full),
    }
    if dry_run:
        result.update(action="dry-run", body=body)
    else:
        result.update(send(client(token_env, event), pr_number(event, number), body))
    if as_json:
        echo(dump_json({"schema_version": 1, **result}), json=True)
    elif dry_run:
        echo(body, nl=False)
    elif result["action"] != "skipped":
        where = f": {result['url']}" if result.get("url") else ""
        echo(f"tokentrail: {result['action']} the PR comment{where}")
    failures = gate(doc, figures, fail_on_budget, allow_missing)
    for line in failures:
        echo(f"tokentrail: {line}", err=True)
    if failures:
        sys.exit(1)


def send(gh: GitHub, number: int, body: str) -> dict[str, Any]:
    """Post or update the comment; a fork PR's read-only token is a warning, not a failure
    (the job summary still has the report)."""
    try:
        done, posted = post(gh, number, body)
    except TokentrailError as exc:
        if exc.code != "github_fork_read_only":
            raise
        warn(
            "this pull request comes from a fork and its GITHUB_TOKEN is read-only, so no "
            "comment was posted; the report is in the job summary. To comment on fork PRs "
            "use the workflow_run pattern in docs/action.md#pull-requests-from-forks"
        )
        return {"action": "skipped", "reason": "fork_read_only"}
    return {
        "action": done.action,
        "comment_id": done.comment.get("id"),
        "url": done.comment.get("html_url"),
        "removed_duplicates": done.removed,
        "chars": len(posted),
    }


def gate(
    doc: Mapping[str, Any], figures: Mapping[str, Any], fail_on_budget: bool, allow_missing: bool
) -> list[str]:
    """Why --fail-on-budget fails the run: over budget, or receipts missing (fail closed)."""
    if not fail_on_budget:
        return []
    out = []
    if figures["over_budget"]:
        out += [*doc["budget"]["lines"], "over budget (--fail-on-budget)"]
    if figures["missing_receipts"] and not allow_missing:
        out.append(
            f"{figures['missing_receipts']} of {figures['commits']} commits have no receipt, "
            "so the budget cannot be checked: push notes with `tokentrail notes push`, or pass "
            "--allow-missing (Action input `allow-missing: true`) when commits without agent "
            "work are expected"
        )
    return out
