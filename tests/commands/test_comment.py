"""`tokentrail comment` as a subprocess against a local HTTP server standing in for GitHub."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

from tests.cli_run import isolated_env, tokentrail
from tests.fake_github import REPO, REPO_ID, TOKEN, FakeGitHub, Fault, marker_line
from tests.gitrepo import git_env
from tokentrail.cli import cli
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
        GITHUB_REPOSITORY_ID=REPO_ID,
        GITHUB_OUTPUT=tmp / "out",
        GITHUB_STEP_SUMMARY=tmp / "summary",
        TOKENTRAIL_GITHUB_MAX_WAIT="0",  # no retry waits unless a test asks for them
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
    assert body.startswith(marker_line() + "\n")
    assert "feature/retry-logic" in body and "API-equivalent" in body
    for sha in demo.commits:
        assert f"`{sha[:7]}`" in body
    assert "Source: git notes" in body and "reread" in body
    assert f"Bearer {TOKEN}" in fake.auth  # the token went to the API, and only there
    out = dict(line.split("=", 1) for line in (tmp_path / "out").read_text().splitlines())
    assert set(out) == {"cost-usd", "tokens", "over-budget", "missing-receipts"}
    assert out["missing-receipts"] == "0" and "Receipts missing" not in body
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
    mine = fake.add(PR, f"{marker_line()}\nstale", "tokentrail-bot")
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


def test_fork_pr_403_warns_and_exits_0(tmp_path: Path, demo: Demo, httpserver: HTTPServer) -> None:
    """The single-workflow setup on a fork PR: the token is read-only, so the comment cannot
    be posted; that is a warning pointing at the workflow_run pattern, not a failed job."""
    fake = FakeGitHub(httpserver, login=None)
    fake.fail["POST"] = (403, {"message": "Resource not accessible by integration"})
    env = setup(tmp_path, demo, fake, fork=True)
    env["GITHUB_ACTIONS"] = "true"
    proc = run(demo, env)
    assert proc.returncode == 0 and "::warning title=tokentrail::" in proc.stderr
    assert "fork" in proc.stderr and "read-only" in proc.stderr
    assert "workflow_run" in proc.stderr and "docs/action.md" in proc.stderr
    assert "<!-- tokentrail:receipt -->" in (tmp_path / "summary").read_text()
    doc = json.loads(run(demo, env, "--json").stdout)
    assert doc["action"] == "skipped" and doc["reason"] == "fork_read_only"
    over = run(demo, env, "--budget", "0.01", "--fail-on-budget", check=False)
    assert over.returncode == 1 and "over budget" in over.stderr  # the gate still holds


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
    fake.set_head(PR, demo.commits[-1])
    args = ("--body-file", str(body), "--pr", str(PR))
    wrong = run(demo, env, *args, "--expect-head", "0" * 40, check=False)
    assert wrong.returncode == 1 and "refusing to post" in wrong.stderr and not fake.ours(PR)
    posted = run(demo, env, *args, "--expect-head", demo.commits[-1])
    assert "created the PR comment" in posted.stdout
    assert fake.ours(PR)[0]["body"] == body.read_text().replace(
        "<!-- tokentrail:receipt -->", marker_line(), 1
    )
    stranger = tmp_path / "stranger.md"
    stranger.write_text("hello @everyone")
    proc = run(demo, env, "--body-file", str(stranger), "--pr", str(PR), check=False)
    assert proc.returncode == 1 and "does not start with the tokentrail marker" in proc.stderr


def invoke(repo: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """`tokentrail comment` in-process (click's runner) in `repo`."""
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["comment", *args], env=env, catch_exceptions=False)
    assert TOKEN not in result.stdout + result.stderr
    return result


def partial_notes(demo: Demo, ref: str, keep: list[int]) -> None:
    """A second notes ref holding the notes of only some of the demo's commits."""
    env = git_env(demo.root / "home")
    for i in keep:
        sha = demo.commits[i]
        blob = subprocess.run(
            ["git", "notes", "--ref", "tokentrail", "list", sha],
            cwd=demo.repo,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        subprocess.run(
            ["git", "notes", "--ref", ref, "add", "-f", "-C", blob, sha],
            cwd=demo.repo,
            env=env,
            capture_output=True,
            check=True,
        )


def merge_of_main(demo: Demo) -> str:
    """A merge commit of main into the feature head (made without touching any checkout)."""
    env = {
        **git_env(demo.root / "home"),
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    head = demo.commits[-1]
    proc = subprocess.run(
        [
            "git",
            "commit-tree",
            f"{head}^{{tree}}",
            "-p",
            head,
            "-p",
            demo.base_sha,
            "-m",
            "Merge main",
        ],
        cwd=demo.repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def test_missing_receipts_are_named_and_fail_the_budget_gate(
    tmp_path: Path, demo: Demo, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notes for 2 of the 3 feature commits (and a merge of main, which never needs one):
    the comment names the one without, never calls the total complete, and the budget gate
    fails closed unless --allow-missing."""
    partial_notes(demo, "partial", [0, 2])
    merge = merge_of_main(demo)
    fake = FakeGitHub(httpserver)
    ev = event(tmp_path, demo.base_sha, merge, demo.branch)
    env = actions_env(tmp_path, fake.url, ev)
    args = ("--ref", "partial", "--budget", "100", "--fail-on-budget")
    failed = invoke(demo.repo, env, monkeypatch, *args, "--json")
    assert failed.exit_code == 1
    doc = json.loads(failed.stdout)
    assert doc["missing_receipts"] == 1 and doc["commits_without_receipt"] == [demo.commits[1]]
    assert doc["over_budget"] is False and doc["commits"] == 4
    assert "1 of 4 commits have no receipt" in failed.stderr and "--allow-missing" in failed.stderr
    body = fake.ours(PR)[0]["body"]
    short = demo.commits[1][:7]
    assert f"**Receipts missing:** 1 of 4 commits have no receipt (`{short}`)" in body
    assert "push notes with `tokentrail notes push`" in body
    assert "**Budget not verified:**" in body and "Within budget" not in body
    assert "**at least $" in body
    assert "missing-receipts=1" in (tmp_path / "out").read_text()
    allowed = invoke(demo.repo, env, monkeypatch, *args, "--allow-missing")
    assert allowed.exit_code == 0 and "updated the PR comment" in allowed.stdout
    assert "1 of 4 commits have no receipt" in allowed.stderr  # still said, as a warning
    complete = invoke(demo.repo, env, monkeypatch, "--budget", "100", "--fail-on-budget")
    assert complete.exit_code == 0 and "Within budget" in fake.ours(PR)[0]["body"]
    assert "Receipts missing" not in fake.ours(PR)[0]["body"]


def test_repository_id_from_the_api_and_a_rate_limit_retried(
    tmp_path: Path, demo: Demo, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeGitHub(httpserver, login=None)
    limited = {"message": "You have exceeded a secondary rate limit."}
    fake.faults.append(Fault("POST", r".*/comments", 403, limited, {"Retry-After": "1"}))
    env = setup(tmp_path, demo, fake)
    del env["GITHUB_REPOSITORY_ID"]  # outside Actions: asked of the API
    env["TOKENTRAIL_GITHUB_MAX_WAIT"] = "5"
    result = invoke(demo.repo, env, monkeypatch, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["action"] == "created" and fake.count("POST") == 2
    assert ("GET", f"/repos/{REPO}") in fake.calls
    assert fake.ours(PR)[0]["body"].startswith(marker_line() + "\n")
    fake.faults.append(Fault("PATCH", r".*", 429, {"message": "slow down"}, {"Retry-After": "9"}))
    limited_out = invoke(demo.repo, env, monkeypatch, "--json")
    error = json.loads(limited_out.stdout)["error"]
    assert limited_out.exit_code == 1 and error["code"] == "github_rate_limited"
    assert "wait 9s" in error["message"] and "permissions" not in error["message"]
