"""github.GitHub against a real local HTTP server standing in for the API."""

from __future__ import annotations

import socket

import pytest
from pytest_httpserver import HTTPServer

from tests.fake_github import BOT, REPO, TOKEN, FakeGitHub
from tokentrail.errors import TokentrailError
from tokentrail.github import GitHub

MARK = "tokentrail:receipt"


def client(fake: FakeGitHub, token: str = TOKEN, fork: bool = False) -> GitHub:
    return GitHub(fake.url, token, timeout=5, fork=fork)


def test_create_then_update_the_same_comment(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    action, first = client(fake).upsert(REPO, 7, f"<!-- {MARK} --> one", MARK)
    assert action == "created"
    action, second = client(fake).upsert(REPO, 7, f"<!-- {MARK} --> two", MARK)
    assert action == "updated" and second["id"] == first["id"]
    assert [c["body"] for c in fake.comments[7]] == [f"<!-- {MARK} --> two"]


def test_someone_elses_comment_quoting_the_marker_is_left_alone(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    theirs = fake.add(7, f"look: <!-- {MARK} -->", "octocat")
    action, ours = client(fake).upsert(REPO, 7, f"<!-- {MARK} --> mine", MARK)
    assert action == "created" and ours["id"] != theirs["id"]
    assert theirs["body"] == f"look: <!-- {MARK} -->"
    assert ("PATCH", f"/repos/{REPO}/issues/comments/{theirs['id']}") not in fake.calls


def test_pages_through_more_than_100_comments(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    for i in range(230):
        fake.add(7, f"chatter {i}", "octocat" if i % 2 else "tokentrail-bot")
    ours = fake.add(7, f"<!-- {MARK} --> old", "tokentrail-bot")
    action, posted = client(fake).upsert(REPO, 7, f"<!-- {MARK} --> new", MARK)
    assert action == "updated" and posted["id"] == ours["id"]
    gets = [p for m, p in fake.calls if m == "GET" and p.endswith("/comments")]
    assert len(gets) == 3  # 100 + 100 + 31


def test_actions_token_without_user_endpoint_falls_back_to_the_bot(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, login=None)
    fake.add(3, f"<!-- {MARK} --> by a person", "octocat")
    bot = fake.add(3, f"<!-- {MARK} --> by the bot", BOT)
    gh = client(fake)
    assert gh.login() == BOT
    action, posted = gh.upsert(REPO, 3, f"<!-- {MARK} --> new", MARK)
    assert action == "updated" and posted["id"] == bot["id"]


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (500, "github_server_error", "GitHub answered 500"),
        (422, "github_http_error", "GitHub answered 422 (Validation Failed)"),
        (403, "github_forbidden", "pull-requests: write"),
        (404, "github_not_found", "GITHUB_REPOSITORY"),
    ],
)
def test_http_errors_are_clear(httpserver: HTTPServer, status: int, code: str, words: str) -> None:
    fake = FakeGitHub(httpserver)
    fake.fail["POST"] = (status, {"message": "Validation Failed"} if status == 422 else {})
    with pytest.raises(TokentrailError) as err:
        client(fake).upsert(REPO, 7, "body", MARK)
    assert err.value.code == code and words in err.value.message
    assert "POST /repos/octo/shop-api/issues/7/comments" in err.value.message
    assert TOKEN not in err.value.message


def test_fork_403_explains_the_read_only_token(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    fake.fail["POST"] = (403, {"message": "Resource not accessible by integration"})
    with pytest.raises(TokentrailError) as err:
        client(fake, fork=True).upsert(REPO, 7, "body", MARK)
    assert err.value.code == "github_fork_read_only"
    assert "read-only GITHUB_TOKEN" in err.value.message and "workflow_run" in err.value.message


def test_bad_token_is_unauthorized_and_not_echoed(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    with pytest.raises(TokentrailError) as err:
        client(fake, token="ghp_wrongwrongwrongwrongwrong").upsert(REPO, 7, "b", MARK)
    assert err.value.code == "github_unauthorized" and "wrong" not in err.value.message


def test_connection_refused(tmp_path: object) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TokentrailError) as err:
        GitHub(f"http://127.0.0.1:{port}", TOKEN, timeout=5).upsert(REPO, 7, "b", MARK)
    assert err.value.code == "github_network" and "connection refused" in err.value.message


def test_next_page_on_another_host_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/user").respond_with_json({"login": "me"})
    httpserver.expect_request(f"/repos/{REPO}/issues/1/comments").respond_with_json(
        [], headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'}
    )
    with pytest.raises(TokentrailError) as err:
        GitHub(httpserver.url_for("/"), TOKEN).upsert(REPO, 1, "b", MARK)
    assert "another host (evil.example)" in err.value.message
