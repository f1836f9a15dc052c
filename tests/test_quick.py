"""The hook's fast path: a check whose inputs did not change answers from its last
answer, through the installed entry point (the process a git hook starts); any change to
what it depends on runs the full check again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepo import ClaudeLog, Feature, at, feature_branch
from tokentrail import quick
from tokentrail.cache import cache_root


@pytest.fixture
def feat(tmp_path: Path) -> Feature:
    f = feature_branch(tmp_path)
    f.env.extra["TOKENTRAIL_CACHE_DIR"] = str(tmp_path / "cache")
    return f


def index_file(f: Feature) -> Path:
    return Path(f.env.extra["TOKENTRAIL_CACHE_DIR"]) / "index.sqlite3"


def check(f: Feature, *args: str) -> tuple[int, Any, str]:
    proc = f.env.run(f.repo.path, "check", *args, "--json", check=False, process=True)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def answered_from_memory(f: Feature, *args: str) -> bool:
    """Without the index, only a remembered answer can come back without re-creating it."""
    index_file(f).unlink(missing_ok=True)
    check(f, *args)
    return not index_file(f).exists()


def test_an_unchanged_branch_is_answered_from_the_last_answer(feat: Feature) -> None:
    code, first, _ = check(feat, "--budget", "0.01", "--strict")
    assert code == 1 and first["status"] == "over_budget"
    assert answered_from_memory(feat, "--budget", "0.01", "--strict")
    code, again, _ = check(feat, "--budget", "0.01", "--strict")
    assert code == 1 and again == first
    # other options are another question
    assert not answered_from_memory(feat, "--budget", "100")
    text = feat.env.run(feat.repo.path, "check", "--budget", "100", process=True).stdout
    assert text == feat.env.run(feat.repo.path, "check", "--budget", "100", process=True).stdout


def test_a_grown_log_a_new_commit_or_a_config_runs_the_check_again(feat: Feature) -> None:
    _, first, _ = check(feat)
    log = ClaudeLog(feat.env, feat.repo.path, session_id=feat.main_session)
    log.count = 50  # new message ids
    log.request(at(18), "feat", input=100_000, output=10)  # the live session grew
    _, grown, _ = check(feat)
    assert grown["pending"]["requests"] == first["pending"]["requests"] + 1
    assert answered_from_memory(feat)
    feat.repo.commit("third change", at(19))  # HEAD moved
    _, moved, _ = check(feat)
    assert moved["head"] != first["head"]
    assert moved["pending"]["requests"] < grown["pending"]["requests"]
    assert answered_from_memory(feat)
    (feat.repo.path / ".tokentrail.yml").write_text("budget:\n  branch_usd: 0.001\n")
    _, budgeted, _ = check(feat)
    assert budgeted["status"] == "over_budget"
    new_session = ClaudeLog(feat.env, feat.repo.path)  # a new session file in the folder
    new_session.request(at(18.5), "feat", input=50, output=5)
    _, more, _ = check(feat)
    assert more["sessions"] == budgeted["sessions"] + 1


def test_no_memory_without_a_cache_or_with_options_it_does_not_know(
    feat: Feature, tmp_path: Path
) -> None:
    check(feat, "--base", "main")
    assert not answered_from_memory(feat, "--base", "main")
    assert not list((tmp_path / "cache").glob("check/*"))
    feat.env.extra["TOKENTRAIL_NO_CACHE"] = "1"
    check(feat)
    check(feat)
    assert not list((tmp_path / "cache").glob("check/*"))


def test_cache_root_is_the_same_rule_as_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    assert quick.cache_root() == str(cache_root())
    monkeypatch.delenv("TOKENTRAIL_CACHE_DIR")
    assert quick.cache_root() == str(cache_root())
    monkeypatch.setenv("TOKENTRAIL_NO_CACHE", "1")
    assert quick.cache_root() is None and cache_root() is None


def test_options_are_read_as_click_reads_them() -> None:
    assert quick.options(["--budget", "5", "--budget=7", "--json"]) == {"budget": "7", "json": True}
    assert quick.options(["--max-waste-share", "20%", "--strict"]) == {"waste": "20%",
                                                                        "strict": True}
    for unknown in (["--base", "main"], ["--help"], ["-h"], ["--budget"], ["x"]):
        assert quick.options(unknown) is None


def test_version_without_click_says_what_click_says(tmp_path: Path) -> None:
    from tests.cli_run import isolated_env, tokentrail

    env = isolated_env(tmp_path)
    fast = tokentrail("--version", env=env, process=True).stdout
    assert fast == tokentrail("--version", env=env).stdout  # in-process: click's own
    assert fast.startswith("tokentrail, version ")
