"""Budgets over work on a model nobody prices: `check` and `comment` say how many requests
are unpriced and that the budget compares the priced part only; `--unpriced fail` with
`--strict` refuses. Real repository and logs, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_inprocess import invoke
from tests.gitrepo import Env, GitRepo, at
from tokentrail.demo import OPUS, Filler, Reply, UserPrompt, write_claude_session

UNKNOWN_MODEL = "acme-coder-internal-1"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """Branch `feat` with pending work: 4 requests on Opus, 8 on a model with no price."""
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    for seed, model, calls in (("priced", OPUS, 3), ("unpriced", UNKNOWN_MODEL, 7)):
        write_claude_session(
            env.claude_dir,
            repo.path,
            branch="feat",
            start=at(5 if seed == "priced" else 30),
            model=model,
            seed=seed,
            events=[UserPrompt("Add the feature."), Filler(calls), Reply()],
        )
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env.claude_dir))
    monkeypatch.setenv("CODEX_HOME", str(env.codex_home))
    monkeypatch.setenv("COLUMNS", "300")
    return repo


def check(*args: str) -> tuple[int, dict]:
    result = invoke("check", *args, "--json")
    return result.exit_code, json.loads(result.stdout)


def test_check_says_how_many_requests_are_unpriced(repo: GitRepo) -> None:
    code, doc = check("--budget", "100")
    assert code == 0 and doc["status"] == "ok"
    assert doc["unpriced"]["requests"] == 8 and doc["unpriced"]["of"] == 12
    text = invoke("check", "--budget", "100").stdout
    assert "+ 8 unpriced API-equivalent of $100.00 branch budget" in text
    assert (
        "unpriced: 8 of 12 requests used a model without a known price; budgets compare the "
        "priced part only"
    ) in text


def test_unpriced_fail_refuses_under_strict(repo: GitRepo) -> None:
    code, doc = check("--budget", "100", "--unpriced", "fail", "--strict")
    assert code == 1 and doc["over"] == ["unpriced"] and doc["blocked"] is True
    assert check("--budget", "100", "--unpriced", "fail")[0] == 0  # warns without --strict
    (repo.path / ".tokentrail.yml").write_text("budget:\n  branch_usd: 100\n  unpriced: fail\n")
    code, doc = check("--strict")
    assert code == 1 and doc["over"] == ["unpriced"]
    assert check("--strict", "--unpriced", "warn")[0] == 0  # the flag wins


def test_the_pr_comment_says_the_budget_compares_the_priced_part(repo: GitRepo) -> None:
    result = invoke("comment", "--dry-run", "--from-logs", "--base", "main", "--budget", "100")
    assert result.exit_code == 0, result.stderr
    assert "Within budget:" in result.stdout
    assert (
        "The budget compares the priced part only: 8 of 12 requests used a model without a "
        "known price."
    ) in result.stdout
    failing = invoke(
        "comment",
        "--dry-run",
        "--from-logs",
        "--base",
        "main",
        "--budget",
        "100",
        "--unpriced",
        "fail",
        "--fail-on-budget",
    )
    assert failing.exit_code == 1
    assert "**Over budget:** The budget compares the priced part only" in failing.stdout
