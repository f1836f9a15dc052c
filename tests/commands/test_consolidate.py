"""`tokentrail consolidate` after merges done "by the server" (a bare remote standing in for
GitHub, merged in a clone of it): the receipts land on the new commits, on origin, and a
fresh clone's receipt counts exactly the requests the agent sessions made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.fake_github import REPO, REPO_ID
from tests.merges import PR, SERVER, Dev, Hosted, developer, host
from tokentrail.cli import cli
from tokentrail.notes import DEFAULT_REF, read_note

pytestmark = pytest.mark.early  # a slow file: started first (see tests/conftest.py)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Dev:
    return developer(tmp_path_factory.mktemp("consolidate"))


def consolidate(
    h: Hosted,
    clone: Path,
    event: Path,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    **env: str,
) -> Result:
    """`tokentrail consolidate --json` in-process in the CI clone."""
    monkeypatch.chdir(clone)
    environ = {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_REPOSITORY_ID": REPO_ID,
        "GIT_CONFIG_GLOBAL": str(h.home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        **SERVER,
        **env,
    }
    return CliRunner().invoke(cli, ["consolidate", "--json", *args], env=environ)


def doc_of(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stdout + result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_rebase_merge_carries_each_receipt_onto_its_rebased_commit(
    dev: Dev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = host(dev, tmp_path, how="rebase")
    assert len(h.landed) == 3 and h.merge == h.landed[-1]
    assert not set(h.landed) & set(dev.demo.commits)  # new commits, not the originals
    ci = h.clone("ci")
    doc = doc_of(consolidate(h, ci, h.pr_event(tmp_path / "event.json"), monkeypatch))
    (merge,) = doc["merges"]
    assert merge["kind"] == "rebase" and merge["landed"] == list(h.landed)
    pairs = [(c["onto"], c["from"]) for c in merge["carried"]]
    assert pairs == [(new, [old]) for new, old in zip(h.landed, dev.demo.commits)]
    # a re-run (or the push event after the PR event) must not count anything twice
    again = doc_of(consolidate(h, ci, h.pr_event(tmp_path / "event.json"), monkeypatch))
    assert again["merges"][0]["landed"] == list(h.landed)
    receipt = h.receipt("after")
    assert receipt["totals"]["requests"] == dev.requests == 40
    assert receipt["totals"]["cost_usd"] == pytest.approx(dev.cost_usd)
    per_commit = {c["sha"]: c["requests"] for c in receipt["commits"]}
    assert all(per_commit[sha] > 0 for sha in h.landed) and len(per_commit) == 3
    # the PR's number goes with its receipts, for when its commits are gone
    for sha in h.landed:
        assert {line.get("pr") for line in read_note(ci, DEFAULT_REF, sha)} == {PR}


def test_fork_pr_receipts_come_from_the_fork(
    dev: Dev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contributor pushed notes to their fork only; origin has the PR's commits at
    refs/pull/42/head (as GitHub keeps them) but none of its notes."""
    h = host(dev, tmp_path, notes="fork", how="squash")
    assert h.notes_on_origin() == set()
    ci = h.clone("ci")
    doc = doc_of(consolidate(h, ci, h.pr_event(tmp_path / "event.json"), monkeypatch))
    (merge,) = doc["merges"]
    assert merge["fork_notes"] == "imported" and merge["kind"] == "squash"
    assert {h.merge, *dev.demo.commits} == h.notes_on_origin()  # only the PR's, nothing else
    assert h.receipt("after")["totals"]["requests"] == dev.requests


def test_notes_never_pushed_are_said_and_nothing_is_pushed(
    dev: Dev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = host(dev, tmp_path, notes="none", how="squash")
    ci = h.clone("ci")
    result = consolidate(h, ci, h.pr_event(tmp_path / "event.json"), monkeypatch)
    doc = doc_of(result)
    (merge,) = doc["merges"]
    assert merge["commits_without_note"] == list(dev.demo.commits) and merge["carried"] == []
    assert doc["pushed"] is False and h.notes_on_origin() == set()
    assert "PR #42: 3 of 3 commits have no receipt" in result.stderr
    receipt = h.receipt("after")
    assert receipt["totals"]["requests"] == 0 and receipt["commits_without_note"] == 1


def test_merge_commit_needs_no_carry_and_a_closed_pr_nothing(
    dev: Dev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = host(dev, tmp_path, how="merge")
    ci = h.clone("ci")
    doc = doc_of(consolidate(h, ci, h.pr_event(tmp_path / "event.json"), monkeypatch))
    (merge,) = doc["merges"]
    assert merge["kind"] == "merge" and merge["carried"] == [] and doc["pushed"] is False
    assert h.receipt("after")["totals"]["requests"] == dev.requests  # the originals are there
    closed = doc_of(
        consolidate(h, ci, h.pr_event(tmp_path / "closed.json", merged=False), monkeypatch)
    )
    assert closed["status"] == "not_merged" and closed["merges"] == []


def test_not_a_merge_event_is_a_clear_error(
    dev: Dev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = host(dev, tmp_path, how="squash")
    ev = tmp_path / "event.json"
    ev.write_text(json.dumps({"workflow_run": {}}))
    result = consolidate(h, h.clone("ci"), ev, monkeypatch)
    assert result.exit_code == 1 and "error" in json.loads(result.stdout)
    assert json.loads(result.stdout)["error"]["code"] == "not_a_merge_event"
