"""`tokentrail rollup` over three real repositories (tests/teamrepos.py): every breakdown
equals the sums of the per-repository `report --from-notes` receipts, and no logs are read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tests.teamrepos import Team, cli_run, git
from tests.teamrepos import clone as copy
from tokentrail.cli import cli
from tokentrail.rollup import week_of

FIGURES = ("requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


@pytest.fixture(scope="module")
def reports(team: Team) -> dict[str, list[dict[str, Any]]]:
    """Each repository's receipts from notes: main since its first commit, plus gamma's
    open branch."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, repo in team.repos.items():
        out[name] = [cli_run(repo, "report", "--from-notes", "--base", team.bases[name], "--json")]
    gamma = team.repos["gamma"]
    git(gamma, "checkout", "-q", "feat-open")
    try:
        out["gamma"].append(cli_run(gamma, "report", "--from-notes", "--json"))
    finally:
        git(gamma, "checkout", "-q", "main")
    return out


@pytest.fixture(scope="module")
def doc(team: Team) -> dict[str, Any]:
    result: dict[str, Any] = cli_run(team.root, "rollup", *map(str, team.repos.values()), "--json")
    return result


def figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (*(row[k] for k in FIGURES), round(row["cost_usd"] or 0.0, 4))


def expected(
    team: Team, reports: dict[str, list[dict[str, Any]]], key: Callable[..., str]
) -> dict[str, tuple[Any, ...]]:
    """Sums of the receipts' session rows, grouped by `key(repo, commit sha, row)`."""
    pr_of = {}
    for pr in team.prs:
        for sha in [*pr.commits, *([pr.merge] if pr.merge else [])]:
            pr_of[sha] = f"{pr.repo} #{pr.number}" if pr.number else f"{pr.repo} {pr.branch}"
    sums: dict[str, list[float]] = {}
    for name, docs in reports.items():
        for report in docs:
            for c in report["commits"]:
                for row in c["sessions"]:
                    label = key(name, c["sha"], row, pr_of)
                    acc = sums.setdefault(label, [0.0] * (len(FIGURES) + 1))
                    for i, k in enumerate(FIGURES):
                        acc[i] += row[k]
                    acc[-1] += row["cost_usd"] or 0.0
    return {k: (*(int(v) for v in acc[:-1]), round(acc[-1], 4)) for k, acc in sums.items()}


BREAKDOWN_KEYS: dict[str, tuple[Callable[..., str], Callable[[dict[str, Any]], str]]] = {
    "repo": (lambda repo, sha, row, prs: repo, lambda g: g["repo"]),
    "agent": (lambda repo, sha, row, prs: row["agent"], lambda g: g["agent"]),
    "model": (lambda repo, sha, row, prs: " + ".join(sorted(row["models"])), lambda g: g["model"]),
    "pr": (lambda repo, sha, row, prs: prs[sha], lambda g: f"{g['repo']} {g['label']}"),
    "week": (
        lambda repo, sha, row, prs: week_of(datetime.fromisoformat(row["last"]))[0],
        lambda g: g["week"],
    ),
}


@pytest.mark.parametrize("kind", [*BREAKDOWN_KEYS, "author"])
def test_every_breakdown_equals_the_receipts(
    kind: str, team: Team, reports: dict[str, list[dict[str, Any]]], doc: dict[str, Any]
) -> None:
    if kind == "author":
        names = {"ada": "Ada Lovelace", "bo": "Bo Chen"}
        want = expected(team, reports, lambda repo, sha, row, prs: names[team.author_of[sha]])
        got = {g["author"]: figures(g) for g in doc["by"]["author"]}
        assert {g["email"] for g in doc["by"]["author"]} == {"ada@example.com", "bo@example.com"}
    else:
        row_key, group_key = BREAKDOWN_KEYS[kind]
        want = expected(team, reports, row_key)
        got = {group_key(g): figures(g) for g in doc["by"][kind]}
    assert got == want
    assert len(got) > 1


def test_totals_and_shape(
    team: Team, reports: dict[str, list[dict[str, Any]]], doc: dict[str, Any]
) -> None:
    want = expected(team, reports, lambda *a: "all")["all"]
    assert figures(doc["totals"]) == want
    t = doc["totals"]
    assert (t["repos"], t["authors"], t["prs"]) == (3, 2, 12)
    assert t["sessions"] == sum(len(r["sessions"]) for docs in reports.values() for r in docs)
    assert doc["schema_version"] == 1 and doc["kind"] == "rollup"
    assert [w["week"] for w in doc["by"]["week"]] == sorted(w["week"] for w in doc["by"]["week"])
    assert len(doc["by"]["week"]) == 5
    # beta's PR branches still hold the notes that were carried onto the squash commits:
    # each is seen and counted once
    assert doc["skipped"]["duplicate_lines"] == sum(
        len(c["sessions"]) for c in reports["beta"][0]["commits"]
    )
    assert doc["skipped"]["overlapping_lines"] == 0 and doc["warnings"] == []
    beta = next(g for g in doc["by"]["pr"] if g["repo"] == "beta" and g["pr"] == 2)
    assert beta["commits"] == 2 and beta["branch"] in ("feat-2", "main")


def test_waste_lessons_and_their_effect(
    team: Team, reports: dict[str, list[dict[str, Any]]], doc: dict[str, Any]
) -> None:
    found = {
        (f["session"], f["id"]): f["wasted_usd"]
        for docs in reports.values()
        for r in docs
        for f in r["findings"]
    }
    assert len(found) == 2  # gamma's first two PRs read poetry.lock whole
    assert doc["waste"]["findings"] == 2
    assert doc["waste"]["by_cause"][0]["cause"] == "generated_read"
    assert doc["waste"]["wasted_usd"] == pytest.approx(sum(found.values()), abs=1e-6)
    assert doc["lessons"][0]["repos"] == ["gamma"] and doc["lessons"][0]["count"] == 2
    (effect,) = doc["lesson_effects"]
    assert effect["repo"] == "gamma" and effect["file"] == "AGENTS.md"
    assert effect["landed_commit"] == team.lessons_commit
    assert "poetry.lock" in effect["lesson"] and effect["detectors"] == ["generated_read"]
    assert effect["before"]["findings"] == 2 and effect["after"]["findings"] == 0
    assert effect["before"]["per_week"] > 0 and effect["after"]["per_week"] == 0
    assert sum(w["findings"] for w in effect["weekly"]) == 2
    # the gamma PR breakdown carries the waste of the PRs that had it
    wasted = {g["label"]: g["wasted_usd"] for g in doc["by"]["pr"] if g["repo"] == "gamma"}
    assert wasted["#1"] > 0 and wasted["#2"] > 0 and wasted["#3"] == 0


def test_since_until_keep_only_those_weeks(team: Team, doc: dict[str, Any]) -> None:
    weeks = doc["by"]["week"]
    since = weeks[2]["week_start"]
    part = cli_run(team.root, "rollup", *map(str, team.repos.values()), "--since", since, "--json")
    assert [w["week"] for w in part["by"]["week"]] == [w["week"] for w in weeks[2:]]
    assert part["totals"]["requests"] == sum(w["requests"] for w in weeks[2:])
    until = cli_run(
        team.root,
        "rollup",
        *map(str, team.repos.values()),
        "--until",
        weeks[0]["week_start"],
        "--json",
    )
    assert until["totals"]["requests"] == 0 or until["by"]["week"][0]["week"] == weeks[0]["week"]


def test_text_markdown_and_repo_list(team: Team, doc: dict[str, Any], tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    lines = [f"{p}  # a team repo" for p in team.repos.values()]
    listing.write_text("# our repositories\n" + "\n".join(lines) + "\n\n")
    text = cli_run(team.root, "rollup", str(listing), "--by", "author")
    assert "Team roll-up: 3 repositories, 2 author(s), 12 PR(s)" in text
    assert "By author:" in text and "Ada Lovelace" in text and "By repository:" not in text
    assert "Lessons in AGENTS.md/CLAUDE.md" in text
    md = cli_run(team.root, "rollup", str(listing), "--markdown")
    assert md.startswith("### Agent work") and "| Repository |" in md
    for name in ("alpha", "beta", "gamma"):
        assert f"| {name} |" in md
    assert "poetry.lock" in md and "before" in md


def test_baseline_median_pr(team: Team, doc: dict[str, Any]) -> None:
    from tokentrail.rollup import collect, median_pr_cost

    data = collect([team.repos["alpha"]], "refs/notes/tokentrail")
    base = median_pr_cost(data.rows, exclude=4)
    costs = sorted(g["cost_usd"] for g in doc["by"]["pr"] if g["repo"] == "alpha" and g["pr"] != 4)
    assert base["prs"] == 3 and base["median_pr_cost_usd"] == pytest.approx(costs[1], abs=1e-6)


def test_outliers_flag_an_expensive_pr(team: Team, tmp_path: Path) -> None:
    """A copy of alpha with one PR whose note says it cost 50x: flagged, with its ratio."""
    clone = copy(team.repos["alpha"], tmp_path / "alpha-copy")
    git(clone, "fetch", "-q", "origin", "refs/notes/*:refs/notes/*")
    pr3 = next(p for p in team.prs if p.repo == "alpha" and p.number == 3)
    raw = git(clone, "notes", "--ref=tokentrail", "show", pr3.commits[0])
    line = orjson.loads(raw.splitlines()[0])
    line["cost_usd"] = line["cost_usd"] * 50
    git(
        clone,
        "notes",
        "--ref=tokentrail",
        "add",
        "-f",
        "-m",
        orjson.dumps(line, option=orjson.OPT_SORT_KEYS).decode(),
        pr3.commits[0],
    )
    out = cli_run(tmp_path, "rollup", str(clone), "--json")
    (flagged,) = out["outliers"]
    assert flagged["pr"] == 3 and flagged["ratio"] >= 3
    assert "#3" in cli_run(tmp_path, "rollup", str(clone))


def test_fetch_reads_a_fresh_clone_with_no_logs(team: Team, tmp_path: Path) -> None:
    bare = copy(team.repos["alpha"], tmp_path / "alpha.git", bare=True)
    git(team.repos["alpha"], "push", "-q", str(bare), "refs/notes/tokentrail")
    clone = copy(bare, tmp_path / "alpha")
    empty = cli_run(tmp_path, "rollup", str(clone), "--json")
    assert empty["totals"]["requests"] == 0
    fetched = cli_run(tmp_path, "rollup", str(clone), "--fetch", "--json")
    local = cli_run(tmp_path, "rollup", str(team.repos["alpha"]), "--json")
    assert figures(fetched["totals"]) == figures(local["totals"]) and local["totals"]["requests"]
    assert fetched["repos"][0]["fetch"] == "origin: notes created"
    assert [g["label"] for g in fetched["by"]["pr"]] == [g["label"] for g in local["by"]["pr"]]


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["rollup", str(tmp_path / "nope"), "--json"])
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["error"]["code"] == "not_a_repo"
    result = CliRunner().invoke(cli, ["rollup", str(tmp_path), "--json", "--markdown"])
    assert result.exit_code == 1 and "bad_usage" in result.stdout
    result = CliRunner().invoke(cli, ["rollup", "--by", "colour"])
    assert result.exit_code == 2


def test_pr_comment_gains_a_baseline_line(
    team: Team, doc: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pr4 = next(p for p in team.prs if p.repo == "alpha" and p.number == 4)
    repo = team.repos["alpha"]
    base = git(repo, "rev-parse", f"{pr4.merge}^1")
    event = tmp_path / "event.json"
    event.write_bytes(
        orjson.dumps(
            {
                "number": 4,
                "pull_request": {
                    "number": 4,
                    "base": {"sha": base},
                    "head": {"sha": pr4.commits[-1], "ref": "feat-4"},
                },
            }
        )
    )
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    out = cli_run(repo, "comment", "--dry-run", "--json")
    costs = sorted(g["cost_usd"] for g in doc["by"]["pr"] if g["repo"] == "alpha" and g["pr"] != 4)
    this = next(g for g in doc["by"]["pr"] if g["repo"] == "alpha" and g["pr"] == 4)
    line = (
        f"This PR: ${this['cost_usd']:,.2f}; this repository's median PR: ${costs[1]:,.2f} "
        "(over 3 PRs, API-equivalent)."
    )
    assert line in out["body"]
