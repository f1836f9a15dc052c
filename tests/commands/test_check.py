"""`tokentrail check` through the installed CLI, on real repos with matching logs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepo import Env, Feature, GitRepo, at, feature_branch
from tokentrail.budget import money
from tokentrail.demo import Bash, Filler, Read, Reply, UserPrompt, write_claude_session


def check(f: Feature, *args: str) -> tuple[int, Any]:
    proc = f.env.run(f.repo.path, "check", *args, "--json", check=False)
    return proc.returncode, json.loads(proc.stdout)


def text(f: Feature, *args: str) -> subprocess.CompletedProcess[str]:
    return f.env.run(f.repo.path, "check", *args, check=False)


@pytest.fixture
def feat(tmp_path: Path) -> Feature:
    f = feature_branch(tmp_path)
    f.env.extra["TOKENTRAIL_CACHE_DIR"] = str(tmp_path / "cache")
    return f


def costs(f: Feature) -> tuple[float, float]:
    doc = f.env.json(f.repo.path, "report")
    return doc["totals"]["cost_usd"], doc["pending"]["cost_usd"]


def test_no_budget_reports_the_figures_and_passes(feat: Feature) -> None:
    total, pending = costs(feat)
    code, doc = check(feat)
    assert code == 0 and doc["status"] == "ok" and doc["over"] == []
    assert doc["kind"] == "check" and doc["schema_version"] == 1
    assert doc["branch"] == "feat" and doc["sessions"] == 4
    assert doc["branch_total"] == {
        "cost_usd": total,
        "budget_usd": None,
        "over": False,
        "requests": 9,
        "unpriced_requests": 0,
    }
    assert doc["pending"]["cost_usd"] == pending and doc["pending"]["requests"] == 2
    proc = text(feat)
    # one `tokentrail:` line per verdict line; a long one continues indented (80 columns)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("tokentrail:")]
    assert all(len(line) <= 80 for line in proc.stdout.splitlines())
    assert 2 <= len(lines) <= 4, lines
    assert lines[0] == "tokentrail: branch feat: $0.02 API-equivalent (no budget set)"
    assert lines[1] == f"tokentrail: pending (next commit): {money(pending)} (no budget set)"
    assert lines[-1].startswith("tokentrail: top cause: ")


def test_branch_budget_under_and_over(feat: Feature) -> None:
    total, _ = costs(feat)
    code, doc = check(feat, "--budget", str(total * 2))
    assert code == 0 and doc["status"] == "ok" and doc["branch_total"]["over"] is False
    assert "(50%)" in doc["lines"][0]
    code, doc = check(feat, "--budget", str(total / 2))
    assert code == 0, "without --strict a breach only warns"
    assert doc["status"] == "over_budget" and doc["over"] == ["branch"]
    assert doc["blocked"] is False
    out = text(feat, "--budget", f"${total / 2:.4f}").stdout
    assert "branch budget: OVER by" in out
    assert "over budget (warning only; add --strict to enforce)" in out


def test_commit_budget_applies_to_pending_work(feat: Feature) -> None:
    total, pending = costs(feat)
    assert 0 < pending < total
    # a commit budget between the pending and the branch cost: only the branch is big
    code, doc = check(feat, "--commit-budget", str((pending + total) / 2))
    assert code == 0 and doc["over"] == []
    code, doc = check(feat, "--commit-budget", str(pending / 2), "--strict")
    assert code == 1 and doc["over"] == ["commit"] and doc["blocked"] is True
    assert "commit budget: OVER by" in doc["lines"][1]


def test_strict_exits_1_only_over_budget(feat: Feature) -> None:
    total, _ = costs(feat)
    assert check(feat, "--budget", str(total * 2), "--strict")[0] == 0
    proc = text(feat, "--budget", str(total / 2), "--strict")
    assert proc.returncode == 1
    assert "over budget: refused (--strict)" in proc.stdout


def test_budget_from_config_and_flags_override_it(feat: Feature) -> None:
    total, _ = costs(feat)
    (feat.repo.path / ".tokentrail.yml").write_text(f"budget:\n  branch_usd: {total / 2}\n")
    code, doc = check(feat, "--strict")
    assert code == 1 and doc["budget"]["branch_usd"] == pytest.approx(total / 2)
    code, doc = check(feat, "--strict", "--budget", str(total * 2))
    assert code == 0 and doc["budget"]["branch_usd"] == pytest.approx(total * 2)


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("branch_usd: lots", "budget.branch_usd must be a number"),
        ("commit_usd: -1", "budget.commit_usd must be >= 0"),
        ("max_waste_share: 20", "budget.max_waste_share is a fraction"),
        ("branch_dollars: 5", "budget has unknown keys ['branch_dollars']"),
        ("- 5", "`budget` must be a mapping"),
    ],
)
def test_bad_budget_config_is_a_clear_error_that_never_blocks(
    feat: Feature, budget: str, message: str
) -> None:
    (feat.repo.path / ".tokentrail.yml").write_text("budget:\n  " + budget.replace("\n", "\n  "))
    code, doc = check(feat, "--strict")
    assert code == 0
    assert doc["status"] == "skipped" and doc["error"]["code"] == "budget_invalid"
    assert message in doc["error"]["message"] and ".tokentrail.yml" in doc["error"]["message"]
    proc = text(feat, "--strict")
    assert proc.returncode == 0 and "warning: check skipped:" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    # the other commands refuse the same config with the same code
    report = feat.env.run(feat.repo.path, "report", "--json", check=False)
    assert report.returncode == 1 and json.loads(report.stdout)["error"]["code"] == "budget_invalid"


def test_bad_flag_values_are_warnings_too(feat: Feature) -> None:
    code, doc = check(feat, "--budget", "abc", "--strict")
    assert code == 0 and doc["error"]["code"] == "budget_invalid"
    code, doc = check(feat, "--max-waste-share", "150%")
    assert code == 0 and "--max-waste-share is a fraction" in doc["error"]["message"]
    code, doc = check(feat, "--max-waste-share", "20%")
    assert code == 0 and doc["budget"]["max_waste_share"] == pytest.approx(0.2)


def test_no_logs_says_so_and_passes(tmp_path: Path) -> None:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    proc = env.run(repo.path, "check", "--budget", "0", "--strict", check=False)
    assert proc.returncode == 0
    assert " ".join(proc.stdout.split()) == (  # wrapped at 80 columns
        "tokentrail: no agent sessions for branch feat in this repo on this machine; "
        "nothing to check"
    )
    doc = env.json(repo.path, "check")
    assert doc["status"] == "no_sessions" and doc["sessions"] == 0


def test_outside_a_repo_warns_and_passes(tmp_path: Path) -> None:
    env = Env(tmp_path / "env")
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = env.run(plain, "check", "--strict", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["status"] == "skipped"
    assert doc["error"]["code"] == "not_a_repo"
    proc = env.run(plain, "check", check=False)
    assert proc.returncode == 0
    assert "warning: check skipped:" in proc.stdout and "not inside a git repository" in proc.stdout


def _wasteful(tmp: Path) -> Feature:
    """A branch whose pending session reads a lockfile and prints a huge test log."""
    env = Env(tmp / "env")
    env.extra["TOKENTRAIL_CACHE_DIR"] = str(tmp / "cache")
    repo = GitRepo(tmp / "repo", env)
    base = repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    c1 = repo.commit("first", at(5))
    write_claude_session(
        env.claude_dir,
        repo.path,
        branch="feat",
        start=at(10),
        seed="check-waste",
        events=[
            UserPrompt("Fix the failing test."),
            Read(str(repo.path / "package-lock.json"), chars=120_000),
            Bash("npm test", output_chars=150_000),
            Filler(12),
            Reply(),
        ],
    )
    return Feature(env, repo, base, c1, c1, "", tmp)


def test_waste_share_against_its_maximum(tmp_path: Path) -> None:
    f = _wasteful(tmp_path)
    code, doc = check(f)
    waste = doc["waste"]
    assert waste["findings"] >= 1 and waste["wasted_usd"] > 0
    share = waste["share"]
    assert 0 < share < 1
    assert share == pytest.approx(waste["wasted_usd"] / doc["branch_total"]["cost_usd"], abs=1e-4)
    assert any(line.startswith("waste: ") for line in doc["lines"])
    code, doc = check(f, "--max-waste-share", str(share / 2), "--strict")
    assert code == 1 and doc["over"] == ["waste"] and doc["waste"]["over"] is True
    code, doc = check(f, "--max-waste-share", str(min(1.0, share * 2)), "--strict")
    assert code == 0 and doc["over"] == []
    assert doc["likely_cause"]


def test_a_corrupt_index_does_not_change_the_verdict(feat: Feature) -> None:
    total, _ = costs(feat)
    _, first = check(feat, "--budget", str(total / 2))
    index = Path(feat.env.extra["TOKENTRAIL_CACHE_DIR"]) / "index.sqlite3"
    good = index.read_bytes()
    assert good.count(b"feat") >= 4  # branch names in request rows and session rows
    for damaged in (
        good.replace(b"feat", b"main"),  # silently different data: checksums catch it
        good[: len(good) // 2],  # truncated: SQLite reports it
        b"garbage" * 1000,  # not a database at all
    ):
        index.write_bytes(damaged)
        _, again = check(feat, "--budget", str(total / 2))
        for key in ("status", "over", "branch_total", "pending", "waste", "lines", "totals"):
            assert again[key] == first[key], key
        # rebuilt whole: the next run reads good entries and still agrees
        _, third = check(feat, "--budget", str(total / 2))
        assert third["lines"] == first["lines"]
