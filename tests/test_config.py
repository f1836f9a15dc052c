"""`.tokentrail.yml` problems a newcomer makes, and misconfigured log folders: each is said,
naming the key (with the closest known one) or the variable, never silently ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_inprocess import invoke
from tests.gitrepo import Env, GitRepo, at
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".tokentrail.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_top_level_key_names_the_file_and_the_closest_key(tmp_path: Path) -> None:
    path = write(tmp_path, "budgets:\n  branch_usd: 5\n")
    problems = load_config(path)["_warnings"]
    assert problems == [f"{path}: unknown key `budgets` (ignored); did you mean `budget`?"]


def test_an_unknown_notes_key_and_a_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "notes:\n  psuh: true\n  ref: 7\n")
    problems = load_config(path)["_warnings"]
    assert f"{path}: unknown key `notes.psuh` (ignored); did you mean `notes.push`?" in problems
    assert f"{path}: notes.ref must be a string, not 7 (ignored)" in problems
    path = write(tmp_path, "notes:\n  push: 'please'\n")
    assert load_config(path)["_warnings"] == [
        f"{path}: notes.push must be true or false, not 'please' (ignored)"
    ]


def test_a_key_far_from_every_known_one_lists_them(tmp_path: Path) -> None:
    path = write(tmp_path, "colour: blue\n")
    (problem,) = load_config(path)["_warnings"]
    assert "unknown key `colour`" in problem and "known: prices, budget, notes, thresholds" in (
        problem
    )


def test_a_valid_config_has_no_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "budget:\n  branch_usd: 5\n  unpriced: fail\nnotes:\n  push: true\n")
    config = load_config(path)
    assert config["_warnings"] == [] and config["budget"]["unpriced"] == "fail"


def test_strict_makes_unknown_keys_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "budgets: {}\n")
    with pytest.raises(TokentrailError) as err:
        load_config(path, strict=True)
    assert err.value.code == "config_invalid" and "did you mean `budget`" in err.value.message


def test_a_budget_typo_suggests_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "budget:\n  branch_usdd: 5\n")
    with pytest.raises(TokentrailError) as err:
        load_config(path)
    assert err.value.code == "budget_invalid"
    assert "did you mean `branch_usd`?" in err.value.message


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env.claude_dir))
    monkeypatch.setenv("CODEX_HOME", str(env.codex_home))
    return repo


def test_commands_show_config_warnings_on_stderr_and_in_json(repo: GitRepo) -> None:
    write(repo.path, "budgets:\n  branch_usd: 5\n")
    result = invoke("report", env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert "tokentrail: warning:" in result.stderr and "did you mean `budget`?" in result.stderr
    doc = json.loads(invoke("report", "--json").stdout)
    assert any("unknown key `budgets`" in w for w in doc["warnings"])


def test_check_strict_skips_on_a_config_typo_and_says_why(repo: GitRepo) -> None:
    write(repo.path, "notes: {psuh: true}\n")
    result = invoke("check", "--strict", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 0  # a tokentrail problem never blocks a commit
    assert doc["status"] == "skipped" and doc["error"]["code"] == "config_invalid"
    assert "did you mean `notes.push`?" in doc["error"]["message"]
    relaxed = json.loads(invoke("check", "--json").stdout)
    assert relaxed["status"] == "no_sessions"
    assert any("notes.psuh" in w for w in relaxed["warnings"])


def test_a_missing_log_folder_named_by_its_variable_is_said(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-claude-dir"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(missing))
    expected = f"CLAUDE_CONFIG_DIR names {missing}, which does not exist"
    for args in (("report",), ("check",), ("sessions",)):
        result = invoke(*args, env={"COLUMNS": "300"})
        assert result.exit_code == 0, args
        assert expected in result.stderr, args
    doc = json.loads(invoke("sessions", "--json").stdout)
    assert any(expected in w for w in doc["warnings"])


def test_an_existing_folder_gives_no_such_warning(repo: GitRepo) -> None:
    assert "does not exist" not in invoke("report").stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--repo", "/nonexistent/folder"), "--repo /nonexistent/folder: no such folder"),
        (("--since", "2030-01-01"), "--since 2030-01-01: no session was active in that window"),
        (("--agent", "pi"), "--agent pi: this machine has no session of that agent"),
    ],
)
def test_an_empty_listing_names_the_filter_that_emptied_it(
    repo: GitRepo, args: tuple[str, ...], reason: str
) -> None:
    from tokentrail.demo import Reply, write_claude_session

    write_claude_session(
        repo.env.claude_dir, repo.path, branch="feat", start=at(1), events=[Reply()]
    )
    result = invoke("sessions", *args, env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert f"No agent sessions match {' '.join(args)}." in result.stdout
    assert reason in result.stdout
    assert "this machine has 1 session file(s)" in result.stdout
    assert "set CLAUDE_CONFIG_DIR" not in result.stdout
    doc = json.loads(invoke("sessions", *args, "--json").stdout)
    assert doc["filters"]["reason"] == reason and doc["sessions"] == []
