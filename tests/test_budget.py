"""Budget limits: validation, flags over config, and the verdict on a receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tokentrail.budget import Budget, evaluate, money, resolve_budget, validate_budget
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.receipt import waste_summary


def receipt(total: float | None, pending: float | None, *wasted: float, **extra: Any) -> dict:
    """A finished receipt's figures as `evaluate` reads them (receipt.finish makes these)."""
    findings = [
        {"detector": f"d{i}", "title": f"finding {i}", "wasted_usd": w, "wasted_tokens": 100}
        for i, w in enumerate(wasted)
    ]
    return {
        "branch": "feat",
        "totals": {"cost_usd": total, "requests": 10},
        "pending": {"cost_usd": pending, "requests": 3 if pending else 0},
        "findings": findings,
        "waste": waste_summary(findings, total),
        "likely_cause": "finding 0" if findings else "",
        **extra,
    }


def test_validate_accepts_numbers_and_null() -> None:
    got = validate_budget("x.yml", {"branch_usd": 5, "commit_usd": 0.5, "max_waste_share": None})
    assert got == {"branch_usd": 5.0, "commit_usd": 0.5}
    assert validate_budget("x.yml", None) == {}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ([5], "`budget` must be a mapping"),
        ({"branch": 5}, "unknown keys ['branch']"),
        ({"branch_usd": "5"}, "budget.branch_usd must be a number"),
        ({"branch_usd": True}, "budget.branch_usd must be a number"),
        ({"branch_usd": float("nan")}, "budget.branch_usd must be a number"),
        ({"commit_usd": -0.01}, "budget.commit_usd must be >= 0"),
        ({"max_waste_share": 1.5}, "between 0 and 1"),
    ],
)
def test_validate_rejects_with_a_stable_code(section: Any, message: str) -> None:
    with pytest.raises(TokentrailError) as err:
        validate_budget("repo/.tokentrail.yml", section)
    assert err.value.code == "budget_invalid"
    assert message in err.value.message and "repo/.tokentrail.yml" in err.value.message


def test_load_config_validates_the_budget_section(tmp_path: Path) -> None:
    path = tmp_path / ".tokentrail.yml"
    path.write_text("budget:\n  branch_usd: 12\n  max_waste_share: 0.25\n")
    assert load_config(path)["budget"] == {"branch_usd": 12.0, "max_waste_share": 0.25}
    path.write_text("budget:\n  branch_usd: twelve\n")
    with pytest.raises(TokentrailError) as err:
        load_config(path)
    assert err.value.code == "budget_invalid" and str(path) in err.value.message


def test_flags_override_config_even_when_looser() -> None:
    config = {"_path": "c.yml", "budget": {"branch_usd": 1.0, "commit_usd": 0.2}}
    budget = resolve_budget(config, branch_usd=10.0, commit_usd=None, max_waste_share=0.3)
    assert budget == Budget(branch_usd=10.0, commit_usd=0.2, max_waste_share=0.3)
    assert resolve_budget({}).any is False
    with pytest.raises(TokentrailError, match="--max-waste-share is a fraction"):
        resolve_budget({}, max_waste_share=2.0)


def test_verdict_within_every_limit() -> None:
    v = evaluate(receipt(4.0, 1.0, 0.2), Budget(10.0, 2.0, 0.1))
    assert v["status"] == "ok" and v["over"] == []
    assert v["waste"]["share"] == pytest.approx(0.05)
    assert v["lines"] == [
        "branch feat: $4.00 API-equivalent of $10.00 branch budget (40%)",
        "pending (next commit): $1.00 of $2.00 commit budget (50%)",
        "waste: 5% of the branch ($0.20), max 10%",
        "top cause: finding 0",
    ]


def test_verdict_names_each_breach() -> None:
    v = evaluate(
        receipt(12.5, 3.0, 1.0, 2.0, likely_cause="re-read files: $3 of $12.50 billed"),
        Budget(10.0, 2.0, 0.2),
    )
    assert v["over"] == ["branch", "commit", "waste"] and v["status"] == "over_budget"
    assert (
        v["lines"][0] == "branch feat: $12.50 API-equivalent of $10.00 branch budget: OVER by $2.50"
    )
    assert v["lines"][1] == "pending (next commit): $3.00 of $2.00 commit budget: OVER by $1.00"
    assert v["lines"][2] == "waste: 24% of the branch ($3.00), max 20%: OVER"
    assert v["lines"][3] == "top cause: re-read files: $3 of $12.50 billed"


def test_limits_at_exactly_the_budget_pass() -> None:
    assert evaluate(receipt(10.0, 2.0), Budget(10.0, 2.0))["over"] == []


def test_unpriced_work_is_never_compared_as_zero() -> None:
    v = evaluate(receipt(None, None), Budget(branch_usd=1.0))
    assert v["over"] == [] and v["branch_total"]["cost_usd"] is None
    assert v["lines"][0] == "branch feat: unpriced API-equivalent of $1.00 branch budget " + (
        "(unpriced, not compared)"
    )


def test_no_pending_work_and_no_waste_limit_gives_two_lines() -> None:
    v = evaluate(receipt(0.5, None), Budget(commit_usd=1.0))
    assert v["lines"] == [
        "branch feat: $0.50 API-equivalent (no budget set)",
        "pending (next commit): $0.00 of $1.00 commit budget (0%)",
    ]


def test_money_matches_the_report() -> None:
    assert [money(x) for x in (None, 0.0, 0.0042, 0.5, 1234.5)] == [
        "unpriced",
        "$0.00",
        "$0.0042",
        "$0.50",
        "$1,234.50",
    ]
