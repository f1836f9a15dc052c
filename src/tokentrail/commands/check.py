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

from tokentrail.budget import parse_amount, resolve_budget
from tokentrail.commands.common import emit, format_name, output_options
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.pipeline import build_receipt


def run_check(
    path: Path | None,
    base: str | None,
    *,
    branch_usd: float | None = None,
    commit_usd: float | None = None,
    max_waste_share: float | None = None,
) -> dict[str, Any]:
    """The check document: the receipt's verdict plus its headline figures."""
    budget = resolve_budget(
        load_config(),
        branch_usd=branch_usd,
        commit_usd=commit_usd,
        max_waste_share=max_waste_share,
    )
    receipt = build_receipt(path, base, budget=budget)
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
    doc.update(receipt["budget"])
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
@output_options
def check(
    budget_: str | None,
    commit_budget: str | None,
    max_waste_share: str | None,
    strict: bool,
    base: str | None,
    as_json: bool,
    fmt: str | None,
) -> None:
    """Branch and pending spend against budgets; warns, and blocks only with --strict."""
    try:
        fmt = format_name(as_json, fmt)
        doc = run_check(
            None,
            base,
            branch_usd=parse_amount("--budget", budget_),
            commit_usd=parse_amount("--commit-budget", commit_budget),
            max_waste_share=parse_amount("--max-waste-share", max_waste_share, share=True),
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
    try:
        emit(doc, fmt=fmt or "text")
    except TokentrailError as exc:  # an unknown --format: still never stop the commit
        emit(_skipped(exc.code, exc.message))
    sys.exit(1 if blocked else 0)
