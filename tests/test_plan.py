"""`plan:` in .tokentrail.yml: under a subscription plan a receipt also says how much of the
agent's weekly rate limit its requests used, where the logs carry it (Codex `rate_limits`),
from logs and from notes alike; under the API plan (the default) it says nothing of it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.gitrepo import CodexLog, Env, GitRepo, at
from tokentrail.builtin.codex import CodexAdapter
from tokentrail.cli import cli
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.model import SessionRef
from tokentrail.notes import parse_note_text
from tokentrail.pipeline import build_receipt, note_commits

RESETS = at(0) + timedelta(days=5)


def _codex_branch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[GitRepo, CodexLog]:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    monkeypatch.setenv("CODEX_HOME", str(env.codex_home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env.claude_dir))
    monkeypatch.chdir(repo.path)
    log = CodexLog(env, repo.path, at(9), "feat")
    log.request(at(10), input=500, output=20, weekly=(10.0, RESETS))  # first report: unknown
    log.request(at(11), input=600, output=20, weekly=(12.5, RESETS))  # +2.5
    log.request(at(12), input=700, output=20, weekly=(13.0, RESETS))  # +0.5
    repo.commit("work", at(13))
    return repo, log


def test_each_request_gets_the_weekly_points_it_moved(tmp_path: Path) -> None:
    env = Env(tmp_path / "env")
    log = CodexLog(env, tmp_path, at(9), "feat")
    log.request(at(10), input=500, output=20, weekly=(10.0, RESETS))
    log.request(at(11), input=600, output=20, weekly=(12.5, RESETS))
    log.request(at(12), input=700, output=20, weekly=(12.0, RESETS))  # went down: 0, not -0.5
    log.request(at(13), input=800, output=20, weekly=(1.0, RESETS + timedelta(days=7)))  # new
    log.request(at(14), input=900, output=20)  # no report
    ref = SessionRef("codex", "s", log.path, size=log.path.stat().st_size)
    session = CodexAdapter().parse(ref)
    assert [r.limit_pct for r in session.requests] == [None, 2.5, 0.0, None, None]


def test_a_subscription_receipt_shows_its_share_from_logs_and_from_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = _codex_branch(tmp_path, monkeypatch)
    (repo.path / ".tokentrail.yml").write_text("plan: chatgpt-pro\n")
    doc = build_receipt(repo.path, "main")
    assert doc["plan"] == "chatgpt-pro"
    assert doc["totals"]["requests"] == 3 and doc["totals"]["limit_pct"] == 3.0
    note_commits(repo.path)
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "ci-has-no-logs"))
    from_notes = build_receipt(repo.path, "main", from_notes=True)
    assert from_notes["totals"]["limit_pct"] == 3.0
    text = CliRunner().invoke(cli, ["report", "--from-notes"], env={"COLUMNS": "200"}).stdout
    assert "plan chatgpt-pro: up to 3% of the weekly rate limit" in text
    markdown = CliRunner().invoke(cli, ["report", "--from-notes", "--markdown"]).stdout
    assert "Plan chatgpt-pro: up to 3% of the weekly rate limit" in markdown


def test_the_api_plan_says_nothing_of_rate_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = _codex_branch(tmp_path, monkeypatch)
    doc = build_receipt(repo.path, "main")
    assert doc["plan"] == "api" and doc["totals"]["limit_pct"] == 3.0  # kept in the JSON
    text = CliRunner().invoke(cli, ["report"], env={"COLUMNS": "200"}).stdout
    assert "rate limit" not in text


def test_a_plan_that_is_not_a_name_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / ".tokentrail.yml"
    config.write_text("plan: 5\n")
    with pytest.raises(TokentrailError) as err:
        load_config(config)
    assert err.value.code == "config_invalid" and "`plan`" in err.value.message
    config.write_text("plan: claude-max\n")
    assert load_config(config)["plan"] == "claude-max"


def test_a_note_line_with_absurd_limit_points_is_skipped() -> None:
    good = '{"v":2,"kind":"session","commit":"c","id":"s","agent":"codex","requests":1,'
    parsed = parse_note_text(good + '"limit_pct":2.5}\n' + good + '"limit_pct":-1}\n')
    assert [line["limit_pct"] for line in parsed.lines] == [2.5]
    assert parsed.skipped == {"negative_or_absurd_count": 1}
