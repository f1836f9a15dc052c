"""`tokentrail comment` as a subprocess against a local HTTP server standing in for GitHub."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.cli_run import isolated_env, tokentrail
from tests.fake_github import REPO, TOKEN, FakeGitHub
from tests.gitrepo import git_env
from tokentrail.demo.repo import Demo, build_demo

PR = 42


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    built = build_demo(tmp_path_factory.mktemp("demo"))
    env = isolated_env(built.root / "home", **built.env())
    tokentrail(
        "note",
        "--range",
        f"{built.base}..{built.branch}",
        "--base",
        built.base,
        env=env,
        cwd=built.repo,
    )
    return built


def event(tmp: Path, base: str, head: str, branch: str, fork: bool = False) -> Path:
    path = tmp / "event.json"
    head_repo = "someone/shop-api" if fork else REPO
    path.write_text(
        json.dumps(
            {
                "action": "synchronize",
                "number": PR,
                "pull_request": {
                    "number": PR,
                    "base": {"sha": base, "ref": "main", "repo": {"full_name": REPO}},
                    "head": {"sha": head, "ref": branch, "repo": {"full_name": head_repo}},
                },
            }
        )
    )
    return path


def actions_env(tmp: Path, api: str, event_path: Path, **extra: str) -> dict[str, str]:
    (tmp / "out").touch()
    (tmp / "summary").touch()
    return isolated_env(
        tmp / "home",
        GITHUB_API_URL=api,
        GITHUB_REPOSITORY=REPO,
        GITHUB_EVENT_PATH=event_path,
        GITHUB_TOKEN=TOKEN,
        GITHUB_OUTPUT=tmp / "out",
        GITHUB_STEP_SUMMARY=tmp / "summary",
        **extra,
    )


def run(demo: Demo, env: dict[str, str], *args: str, check: bool = True) -> Any:
    proc = tokentrail("comment", *args, env=env, cwd=demo.repo, check=check)
    assert TOKEN not in proc.stdout + proc.stderr
    return proc


def setup(tmp: Path, demo: Demo, fake: FakeGitHub, fork: bool = False) -> dict[str, str]:
    ev = event(tmp, demo.base_sha, demo.commits[-1], demo.branch, fork)
    return actions_env(tmp, fake.url, ev)


def test_first_run_posts_second_run_updates(
    tmp_path: Path, demo: Demo, httpserver: HTTPServer
) -> None:
    fake = FakeGitHub(httpserver)
    env = setup(tmp_path, demo, fake)
    first = run(demo, env)
    assert "created the PR comment: https://github.com/octo/shop-api/pull/42#issuecomment-" in (
        first.stdout
    )
    second = json.loads(run(demo, env, "--json").stdout)
    assert second["action"] == "updated" and second["truncated"] is False
    ours = fake.ours(PR)
    assert len(ours) == 1 and len(fake.comments[PR]) == 1
    assert second["comment_id"] == ours[0]["id"]
    body = ours[0]["body"]
    assert body.startswith("<!-- tokentrail:receipt -->")
    assert "feature/retry-logic" in body and "API-equivalent" in body
    for sha in demo.commits:
        assert f"`{sha[:7]}`" in body
    assert "Source: git notes" in body and "reread" in body
    assert f"Bearer {TOKEN}" in fake.auth  # the token went to the API, and only there
    out = dict(line.split("=", 1) for line in (tmp_path / "out").read_text().splitlines())
    assert set(out) == {"cost-usd", "tokens", "over-budget"}
    assert float(out["cost-usd"]) == pytest.approx(second["cost_usd"], abs=1e-6)
    assert int(out["tokens"]) == second["tokens"] > 0 and out["over-budget"] == "false"
    assert (tmp_path / "summary").read_text().count("<!-- tokentrail:receipt -->") == 2


def test_other_users_marker_comment_is_left_alone_and_many_comments_page(
    tmp_path: Path, demo: Demo, httpserver: HTTPServer
) -> None:
    fake = FakeGitHub(httpserver)
    theirs = fake.add(PR, "quoting <!-- tokentrail:receipt --> here", "octocat")
    for i in range(150):
        fake.add(PR, f"review comment {i}", "octocat")
    mine = fake.add(PR, "<!-- tokentrail:receipt --> stale", "tokentrail-bot")
    env = setup(tmp_path, demo, fake)
    doc = json.loads(run(demo, env, "--json").stdout)
    assert doc["action"] == "updated" and doc["comment_id"] == mine["id"]
    assert theirs["body"] == "quoting <!-- tokentrail:receipt --> here"
    assert "stale" not in mine["body"] and "feature/retry-logic" in mine["body"]
    assert sum(1 for m, p in fake.calls if m == "GET" and p.endswith("/comments")) == 2


def test_budget_outputs_and_failure(tmp_path: Path, demo: Demo, httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    env = setup(tmp_path, demo, fake)
    proc = run(demo, env, "--budget", "0.5", "--fail-on-budget", check=False)
    assert proc.returncode == 1 and "over budget" in proc.stderr
    assert "**Over budget:**" in fake.ours(PR)[0]["body"]  # posted before failing
    assert "over-budget=true" in (tmp_path / "out").read_text()
    ok = run(demo, env, "--budget", "100")
    assert ok.returncode == 0 and "Within budget" in fake.ours(PR)[0]["body"]


@pytest.mark.parametrize(
    ("status", "words"),
    [(500, "GitHub answered 500"), (422, "GitHub answered 422"), (403, "pull-requests: write")],
)
def test_api_errors_exit_non_zero_with_a_clear_message(
    tmp_path: Path, demo: Demo, httpserver: HTTPServer, status: int, words: str
) -> None:
    fake = FakeGitHub(httpserver)
    fake.fail["POST"] = (status, {"message": "nope"})
    env = setup(tmp_path, demo, fake)
    proc = run(demo, env, check=False)
    assert proc.returncode == 1 and words in proc.stderr and "Traceback" not in proc.stderr
    doc = json.loads(run(demo, env, "--json", check=False).stdout)
    assert doc["error"]["code"].startswith("github_") and words in doc["error"]["message"]


def test_fork_pr_403_explains_workflow_run(
    tmp_path: Path, demo: Demo, httpserver: HTTPServer
) -> None:
    fake = FakeGitHub(httpserver, login=None)
    fake.fail["POST"] = (403, {"message": "Resource not accessible by integration"})
    env = setup(tmp_path, demo, fake, fork=True)
    proc = run(demo, env, check=False)
    assert proc.returncode == 1
    assert "fork" in proc.stderr and "read-only GITHUB_TOKEN" in proc.stderr
    assert "workflow_run" in proc.stderr and "docs/action.md" in proc.stderr


def test_connection_refused_and_missing_token(tmp_path: Path, demo: Demo) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ev = event(tmp_path, demo.base_sha, demo.commits[-1], demo.branch)
    env = actions_env(tmp_path, f"http://127.0.0.1:{port}", ev)
    proc = run(demo, env, check=False)
    assert proc.returncode == 1 and "connection refused" in proc.stderr
    env.pop("GITHUB_TOKEN")
    proc = run(demo, env, check=False)
    assert proc.returncode == 1 and "no token in $GITHUB_TOKEN" in proc.stderr
    env["MY_TOKEN"] = TOKEN
    proc = run(demo, env, "--token-env", "MY_TOKEN", check=False)
    assert "no token" not in proc.stderr and "connection refused" in proc.stderr


def test_bad_event_file_is_a_clear_error(tmp_path: Path, demo: Demo) -> None:
    bad = tmp_path / "event.json"
    bad.write_text("{not json")
    proc = run(demo, actions_env(tmp_path, "http://127.0.0.1:9", bad), check=False)
    assert proc.returncode == 1 and "is not JSON" in proc.stderr


def many_commits(tmp: Path, count: int) -> tuple[Path, str, str]:
    """A repo whose branch has `count` commits with long subjects (made by fast-import)."""
    repo = tmp / "big"
    env = git_env(tmp / "home")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    stream = []
    for i in range(count + 1):
        msg = f"change {i}: " + "a long subject that fills the table | with @someone #1 " * 2
        data = msg.encode()
        stream.append(
            f"commit refs/heads/{'main' if i == 0 else 'big'}\n"
            f"committer Dev <dev@example.com> {1767000000 + i} +0000\n"
            f"data {len(data)}\n{msg}\n"
            + ("from refs/heads/main\n" if i == 1 else "")
            + f"M 644 inline f.txt\ndata {len(str(i))}\n{i}\n"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        input="".join(stream).encode(),
        cwd=repo,
        check=True,
        env=env,
    )
    subprocess.run(["git", "checkout", "-q", "big"], cwd=repo, check=True, env=env)
    rev = lambda r: subprocess.run(  # noqa: E731
        ["git", "rev-parse", r], cwd=repo, capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    return repo, rev("main"), rev("big")


def test_over_long_report_is_truncated_under_the_limit(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    repo, base, head = many_commits(tmp_path, 700)
    fake = FakeGitHub(httpserver)
    env = actions_env(tmp_path, fake.url, event(tmp_path, base, head, "big"))
    doc = json.loads(tokentrail("comment", "--json", env=env, cwd=repo).stdout)
    body = fake.ours(PR)[0]["body"]
    assert doc["truncated"] is True and len(body) == doc["chars"] < 65_536
    assert "Shortened to fit GitHub's comment size limit" in body
    assert "The full report is in the workflow run's summary." in body
    assert "more row(s) left out" in body
    summary = (tmp_path / "summary").read_text()
    assert len(summary) > 65_536 and "change 700" in summary and "change 700" not in body


def test_workflow_run_posts_a_prepared_body_for_the_right_head(
    tmp_path: Path, demo: Demo, httpserver: HTTPServer
) -> None:
    """The fork pattern: the PR workflow saves `comment --dry-run`; the workflow_run
    workflow posts it, after checking the PR number belongs to the run's head commit."""
    fake = FakeGitHub(httpserver)
    env = setup(tmp_path, demo, fake)
    body = tmp_path / "comment.md"
    body.write_text(run(demo, env, "--dry-run").stdout)
    assert fake.calls == []  # a dry run never calls the API
    run_event = tmp_path / "run.json"
    run_event.write_text(
        json.dumps(
            {
                "workflow_run": {
                    "head_sha": demo.commits[-1],
                    "head_repository": {"full_name": "someone/shop-api"},
                    "pull_requests": [],  # empty for forks, hence --pr from the artifact
                },
                "repository": {"full_name": REPO},
            }
        )
    )
    env["GITHUB_EVENT_PATH"] = str(run_event)
    fake.heads[PR] = demo.commits[-1]
    args = ("--body-file", str(body), "--pr", str(PR))
    wrong = run(demo, env, *args, "--expect-head", "0" * 40, check=False)
    assert wrong.returncode == 1 and "refusing to post" in wrong.stderr and not fake.ours(PR)
    posted = run(demo, env, *args, "--expect-head", demo.commits[-1])
    assert "created the PR comment" in posted.stdout
    assert fake.ours(PR)[0]["body"] == body.read_text()
    stranger = tmp_path / "stranger.md"
    stranger.write_text("hello @everyone")
    proc = run(demo, env, "--body-file", str(stranger), "--pr", str(PR), check=False)
    assert proc.returncode == 1 and "does not start with the tokentrail marker" in proc.stderr
