"""`tokentrail check`: the budget gate the pre-commit hook runs before a commit or push.

It warns and never blocks, unless `--strict` asks for enforcement: then, and only then, a
*budget breach* exits 1. A tokentrail problem (no repo, bad config, unreadable logs, a bug)
is a warning and exit 0 even with `--strict`, so the tool can never be what stops a commit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from tokentrail.budget import ERROR_CODE, evaluate, resolve_budget
from tokentrail.commands.common import dump_json, echo
from tokentrail.commands.report import build_report
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.escape import plain
from tokentrail.figures import envelope

PREFIX = "tokentrail: "


def _amount(flag: str, value: str | None, *, share: bool = False) -> float | None:
    """`5`, `$5`, `2.50`; a share also as `20%`. Parsed here, not by click, so a bad value
    in a hook's `args:` is a warning like any other tokentrail problem, not exit 2."""
    if value is None:
        return None
    text = value.strip().lstrip("$").replace(",", "")
    scale = 1.0
    if share and text.endswith("%"):
        text, scale = text[:-1], 0.01
    try:
        return float(text) * scale
    except ValueError:
        raise TokentrailError(ERROR_CODE, f"{flag} {value!r} is not a number") from None


def run_check(
    path: Path | None,
    base: str | None,
    *,
    branch_usd: float | None = None,
    commit_usd: float | None = None,
    max_waste_share: float | None = None,
) -> dict[str, Any]:
    """The check document: the verdict plus the receipt's headline figures."""
    config = load_config()
    budget = resolve_budget(
        config, branch_usd=branch_usd, commit_usd=commit_usd, max_waste_share=max_waste_share
    )
    receipt = build_report(path, base, as_json=True)
    doc: dict[str, Any] = {
        "kind": "check",
        "repo": receipt.get("repo"),
        "branch": receipt.get("branch"),
        "base": receipt.get("base"),
        "head": receipt.get("head"),
        "sessions": len(receipt.get("sessions") or []),
        "totals": receipt.get("totals"),
        "warnings": list(receipt.get("warnings") or []),
    }
    if not doc["sessions"]:
        doc.update(status="no_sessions", over=[], budget=budget.to_dict())
        doc["lines"] = [
            f"no agent sessions for branch {doc['branch']} in this repo on this machine; "
            "nothing to check"
        ]
        return doc
    doc.update(evaluate(receipt, budget))
    return doc


def _skipped(code: str, message: str) -> dict[str, Any]:
    return {
        "kind": "check",
        "status": "skipped",
        "over": [],
        "error": {"code": code, "message": message},
        "lines": [f"warning: check skipped: {message}"],
    }


@click.command()
@click.option("--budget", "budget_", metavar="USD", help="Branch budget (budget.branch_usd).")
@click.option("--commit-budget", metavar="USD", help="Budget for pending work (budget.commit_usd).")
@click.option(
    "--max-waste-share",
    metavar="FRACTION",
    help="Most of the branch cost findings may call waste, 0-1 or 20% (budget.max_waste_share).",
)
@click.option("--strict", is_flag=True, help="Exit 1 when over budget (refuses the commit).")
@click.option("--base", help="Base revision (default: merge-base with the default branch).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema_version 1).")
def check(
    budget_: str | None,
    commit_budget: str | None,
    max_waste_share: str | None,
    strict: bool,
    base: str | None,
    as_json: bool,
) -> None:
    """Branch and pending spend against budgets; warns, and blocks only with --strict."""
    try:
        doc = run_check(
            None,
            base,
            branch_usd=_amount("--budget", budget_),
            commit_usd=_amount("--commit-budget", commit_budget),
            max_waste_share=_amount("--max-waste-share", max_waste_share, share=True),
        )
    except TokentrailError as exc:
        doc = _skipped(exc.code, exc.message)
    except Exception as exc:  # a bug in tokentrail must never stop a commit
        if os.environ.get("TOKENTRAIL_DEBUG"):
            raise
        doc = _skipped("internal_error", f"{type(exc).__name__}: {exc}")
    blocked = strict and doc["status"] == "over_budget"
    doc["strict"] = strict
    doc["blocked"] = blocked
    if as_json:
        echo(dump_json(envelope(**doc)), json=True)
    else:
        _print(doc, blocked)
    sys.exit(1 if blocked else 0)


def _print(doc: dict[str, Any], blocked: bool) -> None:
    lines = list(doc["lines"])
    if doc["status"] == "over_budget":
        if blocked:
            lines.append("over budget: refused (--strict); `git commit --no-verify` skips the hook")
        else:
            lines.append("over budget (warning only; add --strict to enforce)")
    for line in lines:  # each one line, whatever a branch name or a cause holds (CI logs)
        echo(PREFIX + plain(line))
    for warning in doc.get("warnings") or []:
        echo(f"{PREFIX}warning: {plain(warning)}", err=True)
