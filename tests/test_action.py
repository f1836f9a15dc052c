"""action.yml's steps run as a script, end to end: a real repo with notes pushed to a real
bare remote, a fresh clone (as CI has, without notes), a fake event file, the GITHUB_*
environment and a local HTTP server standing in for the GitHub API. The merged mode runs
after squash and rebase merges done "by the server" (tests/merges.py).

The commands come from action.yml itself (its `${{ }}` expressions evaluated here), so the
test and the Action cannot drift. Only two steps are not run: `actions/setup-python` and the
pip install of the action's own path (it would replace the editable install the suite runs).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from tests.cli_run import isolated_env, tokentrail
from tests.commands.test_comment import PR, event
from tests.fake_github import REPO, REPO_ID, TOKEN, FakeGitHub, marker_line
from tests.gitrepo import git_env
from tests.merges import Dev, developer, host
from tokentrail.demo.repo import Demo

pytestmark = pytest.mark.early  # a slow file: started first (see tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPR = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def git(cwd: Path, *args: str, home: Path) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(home), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


@dataclass
class Ci:
    demo: Demo
    clone: Path
    home: Path
    remote: Path


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Dev:
    return developer(tmp_path_factory.mktemp("action"))


@pytest.fixture(scope="module")
def ci(dev: Dev, tmp_path_factory: pytest.TempPathFactory) -> Ci:
    """The developer's repo writes notes and pushes them; CI gets a fresh clone checked out
    at the merge commit GitHub makes for a pull request."""
    tmp = tmp_path_factory.mktemp("ci")
    demo, home = dev.demo, dev.home
    remote = tmp / "remote.git"
    git(tmp, "init", "-q", "--bare", str(remote), home=home)
    git(demo.repo, "remote", "add", "origin", str(remote), home=home)
    git(demo.repo, "push", "-q", "origin", demo.base, demo.branch, home=home)
    tokentrail("notes", "push", "origin", env=dev.env, cwd=demo.repo)
    clone = tmp / "clone"
    git(tmp, "clone", "-q", str(remote), str(clone), home=home)
    git(clone, "checkout", "-q", "--detach", f"origin/{demo.base}", home=home)
    git(
        clone,
        "-c",
        "user.name=GitHub",
        "-c",
        "user.email=gh@example.com",
        "merge",
        "-q",
        "--no-ff",
        "--no-edit",
        f"origin/{demo.branch}",
        home=home,
    )
    return Ci(demo, clone, home, remote)


@dataclass
class Run:
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # step id -> outputs
    procs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)


def evaluate(expr: str, inputs: dict[str, str], run: Run, event: dict[str, Any]) -> str:
    """The few expressions action.yml may use; anything else fails the test."""
    if expr.startswith("inputs."):
        return inputs[expr.removeprefix("inputs.")]
    if expr == "github.action_path":
        return str(ROOT)
    if expr == "github.token":
        return TOKEN
    if expr == "github.event.action":
        return str(event.get("action") or "")
    m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
    if m:
        return run.outputs.get(m[1], {}).get(m[2], "")
    raise AssertionError(f"action.yml uses an expression this test does not know: {expr}")


def condition(expr: str, inputs: dict[str, str], run: Run, event: dict[str, Any]) -> bool:
    """A step's `if:`, of the one shape action.yml uses: `<expression> == 'value'`."""
    m = re.fullmatch(r"(\S+) == '([^']*)'", expr.strip())
    if not m:
        raise AssertionError(f"action.yml uses an `if:` this test does not know: {expr}")
    return evaluate(m[1], inputs, run, event) == m[2]


def substitute(value: Any, inputs: dict[str, str], run: Run, event: dict[str, Any]) -> str:
    return EXPR.sub(lambda m: evaluate(m[1], inputs, run, event), str(value))


def run_action(
    ci: Ci,
    tmp: Path,
    api: str,
    with_: dict[str, str],
    event_path: Path,
    event_name: str = "pull_request",
) -> tuple[Run, dict[str, str]]:
    """Run action.yml's steps in the clone like the runner does (bash -eo pipefail)."""
    given = {k: v["default"] for k, v in ACTION["inputs"].items()}
    given["token"] = TOKEN  # the `${{ github.token }}` default, evaluated
    given.update(with_)
    event = json.loads(event_path.read_text())
    summary = tmp / "summary.md"
    summary.touch()
    base_env = isolated_env(
        ci.home,
        GITHUB_API_URL=api,
        GITHUB_REPOSITORY=REPO,
        GITHUB_REPOSITORY_ID=REPO_ID,
        GITHUB_EVENT_PATH=event_path,
        GITHUB_EVENT_NAME=event_name,
        GITHUB_STEP_SUMMARY=summary,
        GITHUB_ACTIONS="true",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    base_env.update({k: v for k, v in git_env(ci.home).items() if k.startswith("GIT_")})
    run = Run()
    for step in ACTION["runs"]["steps"]:
        name = step.get("id") or step["name"]
        if "uses" in step or step.get("id") == "install":
            run.skipped.append(name)
            continue
        if "if" in step and not condition(step["if"], given, run, event):
            run.skipped.append(name)
            continue
        out = tmp / f"output-{name}"
        out.touch()
        env = dict(base_env, GITHUB_OUTPUT=str(out))
        env.update(
            {k: substitute(v, given, run, event) for k, v in (step.get("env") or {}).items()}
        )
        assert step["shell"] == "bash"
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=ci.clone,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        run.procs.append(proc)
        run.ran.append(name)
        run.outputs[name] = dict(
            line.split("=", 1) for line in out.read_text().splitlines() if "=" in line
        )
        if proc.returncode != 0:
            break
    outputs = {k: substitute(v["value"], given, run, event) for k, v in ACTION["outputs"].items()}
    return run, outputs


def test_action_declares_its_interface() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {
        "mode",
        "budget",
        "fail-on-budget",
        "allow-missing",
        "comment",
        "notes-ref",
        "base",
        "token",
    }
    assert set(ACTION["outputs"]) == {"cost-usd", "tokens", "over-budget", "missing-receipts"}
    steps = {s.get("id"): s for s in ACTION["runs"]["steps"]}
    assert "${{ github.action_path }}" in str(steps["install"]["env"])
    assert "pip install" in steps["install"]["run"]
    # inputs reach the shell through env only, never pasted into the script
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", "")


def test_action_comments_from_notes_in_a_fresh_clone(
    ci: Ci, tmp_path: Path, httpserver: HTTPServer
) -> None:
    assert git(ci.clone, "notes", "--ref", "tokentrail", "list", home=ci.home) == ""
    fake = FakeGitHub(httpserver, login=None)  # the Actions token cannot call GET /user
    ev = event(tmp_path, ci.demo.base_sha, ci.demo.commits[-1], ci.demo.branch)
    run, outputs = run_action(ci, tmp_path, fake.url, {}, ev)
    assert run.skipped == ["Set up Python", "install", "merged"]
    assert run.ran == ["mode", "notes", "report"] and run.outputs["mode"] == {"mode": "comment"}
    assert [p.returncode for p in run.procs] == [0, 0, 0], [p.stderr for p in run.procs]
    assert "created the PR comment" in run.procs[-1].stdout
    (body,) = [c["body"] for c in fake.ours(PR)]
    for sha in ci.demo.commits:
        assert f"`{sha[:7]}`" in body
    assert "feature/retry-logic" in body and "Source: git notes" in body
    assert "without a note" not in body  # the notes came through the fetch step
    assert "reread" in body and "Lessons for the next run" in body
    assert float(outputs["cost-usd"]) > 0 and int(outputs["tokens"]) > 0
    assert outputs["over-budget"] == "false"
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("<!-- tokentrail:receipt -->")
    assert body.startswith(marker_line() + "\n") and body.split("\n", 1)[1].strip() in summary
    for proc in run.procs:
        assert TOKEN not in proc.stdout + proc.stderr
    # a second push to the PR updates the same comment
    run, _ = run_action(ci, tmp_path, fake.url, {}, ev)
    assert "updated the PR comment" in run.procs[-1].stdout and len(fake.comments[PR]) == 1


def test_action_budget_without_comment(ci: Ci, tmp_path: Path, httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    ev = event(tmp_path, ci.demo.base_sha, ci.demo.commits[-1], ci.demo.branch)
    with_ = {"comment": "false", "budget": "0.25", "fail-on-budget": "true"}
    run, outputs = run_action(ci, tmp_path, fake.url, with_, ev)
    assert run.procs[-1].returncode == 1 and "over budget" in run.procs[-1].stderr
    assert outputs["over-budget"] == "true" and fake.calls == []
    assert "**Over budget:**" in (tmp_path / "summary.md").read_text()


def test_action_with_notes_never_pushed_says_so_and_fails_the_budget_gate(
    dev: Dev, tmp_path: Path, httpserver: HTTPServer
) -> None:
    """The developer noted the commits but never pushed the notes: CI's receipt holds none
    of the 40 requests the sessions made; the comment says so instead of "$0.00, within
    budget", and fail-on-budget fails unless allow-missing."""
    demo, home = dev.demo, dev.home
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote), home=home)
    git(demo.repo, "push", "-q", str(remote), demo.base, demo.branch, home=home)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", demo.branch, str(remote), str(clone), home=home)
    fake = FakeGitHub(httpserver)
    ev = event(tmp_path, demo.base_sha, demo.commits[-1], demo.branch)
    gate = {"budget": "100", "fail-on-budget": "true"}
    run, outputs = run_action(Ci(demo, clone, home, remote), tmp_path, fake.url, gate, ev)
    assert "::warning title=tokentrail::no refs/notes/tokentrail on origin" in run.procs[1].stdout
    failed = run.procs[-1]
    assert failed.returncode == 1 and "3 of 3 commits have no receipt" in failed.stderr
    assert "allow-missing" in failed.stderr and "over budget" not in failed.stderr
    body = fake.ours(PR)[0]["body"]  # posted before failing
    assert "**Receipts missing:** 3 of 3 commits have no receipt" in body
    assert "**Budget not verified:**" in body and "Within budget" not in body
    assert dev.requests == 40 and outputs["tokens"] == "0" and outputs["missing-receipts"] == "3"
    run, _ = run_action(
        Ci(demo, clone, home, remote), tmp_path, fake.url, {**gate, "allow-missing": "true"}, ev
    )
    assert run.procs[-1].returncode == 0 and len(fake.comments[PR]) == 1


def test_action_after_a_squash_merge_carries_the_receipts_onto_it(
    dev: Dev, tmp_path: Path, httpserver: HTTPServer
) -> None:
    """`pull_request` closed and merged: the PR's receipts go onto GitHub's squash commit
    and origin gets the notes; CI's receipt of main counts every request the sessions made
    in the PR's commits. A re-run counts nothing twice."""
    h = host(dev, tmp_path, how="squash")
    fake = FakeGitHub(httpserver)
    ev = h.pr_event(tmp_path / "event.json")
    ci = Ci(dev.demo, h.clone("ci"), dev.home, h.origin)
    for attempt in ("first", "re-run"):
        run, _ = run_action(ci, tmp_path, fake.url, {}, ev)
        assert run.ran == ["mode", "notes", "merged"], [p.stderr for p in run.procs]
        assert run.outputs["mode"] == {"mode": "merged"}
        assert [p.returncode for p in run.procs] == [0, 0, 0], run.procs[-1].stderr
        assert f"PR #42 (squash merge onto {h.merge[:7]})" in run.procs[-1].stdout
        assert "receipts of 3 of 3 commit(s)" in run.procs[-1].stdout
        assert h.merge in h.notes_on_origin()
        receipt = h.receipt(f"after-{attempt}")
        assert receipt["totals"]["requests"] == dev.requests == 40
        assert receipt["commits"][0]["sha"] == h.merge
    assert fake.calls == []  # the event says everything; no API call


def test_action_on_push_after_a_rebase_merge_of_a_fork_pr(
    dev: Dev, tmp_path: Path, httpserver: HTTPServer
) -> None:
    """The `push` trigger: a write token even for fork PRs. The API names the PR of the
    pushed commits (one call for a whole rebase); the receipts come from the fork's notes,
    each onto its rebased commit, matched by patch-id."""
    h = host(dev, tmp_path, notes="fork", how="rebase")
    fake = FakeGitHub(httpserver, login=None)
    fake.pulls[PR] = h.api_pull()
    fake.commit_pulls = {sha: [PR] for sha in h.landed}
    ci = Ci(dev.demo, h.clone("ci"), dev.home, h.origin)
    ev = h.push_event(tmp_path / "push.json")
    run, _ = run_action(ci, tmp_path, fake.url, {}, ev, event_name="push")
    assert run.ran == ["mode", "notes", "merged"], [p.stderr for p in run.procs]
    assert [p.returncode for p in run.procs] == [0, 0, 0], run.procs[-1].stderr
    landed = ", ".join(sha[:7] for sha in h.landed)
    assert f"PR #42 (rebase merge onto {landed})" in run.procs[-1].stdout
    assert fake.calls == [("GET", f"/repos/{REPO}/commits/{h.merge}/pulls")]
    assert set(h.landed) <= h.notes_on_origin()
    receipt = h.receipt("after")
    assert receipt["totals"]["requests"] == dev.requests
    assert [c["sha"] for c in receipt["commits"]] == list(h.landed)
    assert all(c["requests"] > 0 for c in receipt["commits"])


def test_docs_workflows_parse_and_the_example_comment_is_sound() -> None:
    from tests.hostile import check_markdown

    page = (ROOT / "docs" / "action.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, re.S)
    workflows = [yaml.safe_load(b) for b in blocks]
    assert len(workflows) == 4
    first, merged = workflows[0], workflows[3]
    assert first["permissions"]["pull-requests"] == "write"
    assert first["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in first["concurrency"]["group"]
    assert any("workflow_run" in (w.get("on") or w.get(True) or {}) for w in workflows)
    assert "push" in (merged.get("on") or merged.get(True)) and "tokentrail" in str(merged)
    assert merged["permissions"] == {"contents": "write", "pull-requests": "read"}
    assert merged["concurrency"]["cancel-in-progress"] is False
    assert "tokentrail notes carry --onto" in page
    example = page.split("<!-- generated:comment -->\n\n", 1)[1]
    example = example.split("<!-- /generated:comment -->", 1)[0]
    assert example.startswith("<!-- tokentrail:receipt -->")
    assert check_markdown(example)["tables"] == 3


def test_every_error_code_is_documented() -> None:
    """Codes raised by the GitHub client, `comment` and `consolidate` are in both pages."""
    sources = [
        "github.py",
        "actions.py",
        "consolidate.py",
        "commands/comment.py",
        "commands/consolidate.py",
    ]
    raised: set[str] = set()
    for name in sources:
        text = (ROOT / "src" / "tokentrail" / name).read_text()
        raised |= set(re.findall(r'TokentrailError\(\s*"(\w+)"', text))
        raised |= set(re.findall(r'"(github_\w+)"', text))
    assert {"github_rate_limited", "no_event", "pr_head_missing", "body_not_ours"} <= raised
    for page in ("action.md", "cli.md"):
        text = (ROOT / "docs" / page).read_text()
        missing = sorted(code for code in raised if f"`{code}`" not in text)
        assert not missing, f"docs/{page} lacks {missing}"
