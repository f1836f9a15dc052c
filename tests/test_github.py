"""github.GitHub against a real local HTTP server standing in for the API."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request

from tests.fake_github import BOT, REPO, REPO_ID, TOKEN, FakeGitHub, Fault, marker_line
from tokentrail.errors import TokentrailError
from tokentrail.github import GitHub, Marker

NAME = "tokentrail:receipt"
MARK = Marker(NAME, REPO_ID)
COMMENTS = rf"/repos/{REPO}/issues/\d+/comments"


def client(fake: FakeGitHub, token: str = TOKEN, fork: bool = False, **kw: Any) -> GitHub:
    return GitHub(fake.url, token, timeout=5, fork=fork, backoff=0.05, **kw)


@pytest.fixture
def threaded() -> Iterator[HTTPServer]:
    """A server that answers requests at the same time (concurrent runs, slow answers)."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def test_create_then_update_the_same_comment(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    first = client(fake).upsert(REPO, 7, "<!-- tokentrail:receipt -->\none", MARK)
    assert first.action == "created" and first.removed == []
    second = client(fake).upsert(REPO, 7, "<!-- tokentrail:receipt -->\ntwo", MARK)
    assert second.action == "updated" and second.comment["id"] == first.comment["id"]
    assert [c["body"] for c in fake.comments[7]] == [f"{marker_line()}\ntwo"]


def test_a_persons_comment_or_another_repositorys_marker_is_left_alone(
    httpserver: HTTPServer,
) -> None:
    fake = FakeGitHub(httpserver, login=None)
    person = fake.add(7, f"{marker_line()}\nquoted by a person", "octocat")
    other_repo = fake.add(7, f"{marker_line('111')}\nanother repository's receipt", BOT)
    posted = client(fake).upsert(REPO, 7, "mine", MARK)
    assert posted.action == "created" and posted.comment["body"] == f"{marker_line()}\nmine"
    assert person["body"].endswith("quoted by a person")
    assert other_repo["body"].endswith("another repository's receipt")
    assert fake.count("PATCH") == 0 and fake.count("DELETE") == 0


def test_pages_through_more_than_100_comments(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    for i in range(230):
        fake.add(7, f"chatter {i}", "octocat" if i % 2 else "tokentrail-bot")
    ours = fake.add(7, f"{marker_line()}\nold", "tokentrail-bot")
    posted = client(fake).upsert(REPO, 7, "new", MARK)
    assert posted.action == "updated" and posted.comment["id"] == ours["id"]
    assert fake.count("GET", "/comments") == 3  # 100 + 100 + 31


def test_app_token_finds_its_own_comment_without_user_endpoint(httpserver: HTTPServer) -> None:
    """A GitHub App token: GET /user is 403 and the author is `<app>[bot]`, not the Actions
    bot. The second run updates the first run's comment instead of posting another; an older
    comment by another bot (GitHub refuses our edit) is tried and left as it is."""
    fake = FakeGitHub(httpserver, login=None, bot="tokentrail-app[bot]")
    older = fake.add(3, f"{marker_line()}\nby the Actions bot, before the app", BOT)
    first = client(fake).upsert(REPO, 3, "run 1", MARK)
    assert first.action == "created"
    second = client(fake).upsert(REPO, 3, "run 2", MARK)
    assert second.action == "updated" and second.comment["id"] == first.comment["id"]
    assert [c["body"].split("\n")[1] for c in fake.ours(3)] == ["run 2"]
    assert older["body"].endswith("before the app") and len(fake.comments[3]) == 2


def test_actions_token_updates_the_actions_bot_comment(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, login=None)
    fake.add(3, f"{marker_line()}\nby a person", "octocat")
    bot = fake.add(3, f"{marker_line()}\nby the bot", BOT)
    posted = client(fake).upsert(REPO, 3, "new", MARK)
    assert posted.action == "updated" and posted.comment["id"] == bot["id"]
    assert fake.count("POST") == 0


def test_two_concurrent_runs_leave_one_comment(threaded: HTTPServer) -> None:
    """Both runs list the comments before either posts (a barrier in the fake makes sure),
    so both post; each then lists again and they converge on the oldest comment."""
    barrier = threading.Barrier(2, timeout=10)
    lists = {"n": 0}
    lock = threading.Lock()

    def hold_first_lists(request: Request) -> None:
        if request.method == "GET" and request.path.endswith("/comments"):
            with lock:
                lists["n"] += 1
                mine = lists["n"]
            if mine <= 2:
                barrier.wait()

    fake = FakeGitHub(threaded, login=None, gate=hold_first_lists)
    results: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            results[name] = client(fake).upsert(REPO, 9, f"body from {name}", MARK)
        except Exception as exc:  # surfaced by the assertions below
            results[name] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert fake.count("POST") == 2  # the race really happened
    ours = fake.ours(9)
    assert len(ours) == 1 and len(fake.comments[9]) == 1
    assert ours[0]["id"] == 1001  # the oldest wins
    assert ours[0]["body"] in (f"{marker_line()}\nbody from a", f"{marker_line()}\nbody from b")
    assert all(not isinstance(r, Exception) for r in results.values()), results


def test_duplicates_from_earlier_runs_are_removed(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, login=None)
    first = fake.add(5, f"{marker_line()}\nrun 1", BOT)
    fake.add(5, "a review", "octocat")
    fake.add(5, f"{marker_line()}\nrun 2", BOT)
    fake.add(5, f"{marker_line()}\nrun 3", BOT)
    posted = client(fake).upsert(REPO, 5, "run 4", MARK)
    assert posted.action == "updated" and posted.comment["id"] == first["id"]
    assert len(posted.removed) == 2 and [c["id"] for c in fake.ours(5)] == [first["id"]]
    assert fake.ours(5)[0]["body"].endswith("run 4") and len(fake.comments[5]) == 2


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (403, {"Retry-After": "1"}, "You have exceeded a secondary rate limit."),
        (429, {"Retry-After": "1"}, "Too many requests"),
        (403, {}, "You have exceeded a secondary rate limit. Please wait."),
    ],
)
def test_rate_limits_wait_and_retry(
    httpserver: HTTPServer, status: int, headers: dict[str, str], message: str
) -> None:
    fake = FakeGitHub(httpserver)
    fake.faults.append(Fault("POST", COMMENTS, status, {"message": message}, headers))
    gh = client(fake, max_wait=70)
    waits: list[float] = []
    gh.sleep = waits.append  # a secondary limit without Retry-After means a minute
    posted = gh.upsert(REPO, 7, "body", MARK)
    assert posted.action == "created" and fake.count("POST") == 2
    assert waits == ([1.0] if headers else [60.0]) and gh.waited == waits


def test_rate_limit_reset_header_is_honoured_for_real(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    reset = str(int(time.time()) + 1)
    fake.faults.append(
        Fault(
            "GET",
            COMMENTS,
            403,
            {"message": "API rate limit exceeded for installation ID 1."},
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        )
    )
    started = time.monotonic()
    posted = client(fake).upsert(REPO, 7, "body", MARK)
    assert posted.action == "created" and time.monotonic() - started >= 1.0


def test_rate_limit_past_the_wait_cap_fails_at_once_without_permission_advice(
    httpserver: HTTPServer,
) -> None:
    fake = FakeGitHub(httpserver)
    reset = str(int(time.time()) + 3600)
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    said = {"message": "API rate limit exceeded"}
    fake.faults.append(Fault("POST", COMMENTS, 403, said, limited))
    gh = client(fake, max_wait=2)
    started = time.monotonic()
    with pytest.raises(TokentrailError) as err:
        gh.upsert(REPO, 7, "body", MARK)
    assert err.value.code == "github_rate_limited" and time.monotonic() - started < 2
    assert "permissions" not in err.value.message and "try again later" in err.value.message
    assert gh.waited == [] and fake.count("POST") == 1


def test_server_errors_are_retried_with_backoff(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    fake.faults += [Fault("PATCH", r".*", 502), Fault("PATCH", r".*", 503)]
    fake.add(7, f"{marker_line()}\nold", "tokentrail-bot")
    gh = client(fake)
    posted = gh.upsert(REPO, 7, "new", MARK)
    assert posted.action == "updated" and gh.waited == [0.05, 0.1]
    assert fake.count("PATCH") == 3


def test_a_server_error_that_persists_gives_up(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    fake.fail["POST"] = (500, {})
    gh = client(fake, max_attempts=3)
    with pytest.raises(TokentrailError) as err:
        gh.upsert(REPO, 7, "body", MARK)
    assert err.value.code == "github_server_error"
    assert "gave up after 3 attempts" in err.value.message
    assert fake.count("POST") == 3 and gh.waited == [0.05, 0.1]


def test_a_timeout_is_retried(threaded: HTTPServer) -> None:
    fake = FakeGitHub(threaded)
    fake.faults.append(Fault("GET", "/user", 200, {"login": "slow"}, delay=1.5))
    gh = GitHub(fake.url, TOKEN, timeout=0.5, backoff=0.05)
    assert gh.login() == "tokentrail-bot"  # the second, prompt answer
    assert gh.waited == [0.05] and gh.attempts == 2


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
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
    assert TOKEN not in err.value.message and fake.count("POST") == 1


def test_an_echoed_authorization_header_is_redacted(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver)
    echo = f"proxy error; request had Authorization: Bearer {TOKEN} and token={TOKEN[4:]}"
    fake.fail["POST"] = (400, {"message": echo})
    with pytest.raises(TokentrailError) as err:
        client(fake).upsert(REPO, 7, "body", MARK)
    assert TOKEN not in err.value.message and TOKEN[4:] not in err.value.message
    assert "proxy error" in err.value.message and "[REDACTED]" in err.value.message


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


def test_connection_refused_is_not_retried() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gh = GitHub(f"http://127.0.0.1:{port}", TOKEN, timeout=5)
    with pytest.raises(TokentrailError) as err:
        gh.upsert(REPO, 7, "b", MARK)
    assert err.value.code == "github_network" and "connection refused" in err.value.message
    assert gh.attempts == 1 and gh.waited == []


def test_next_page_on_another_host_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/user").respond_with_json({"login": "me"})
    httpserver.expect_request(f"/repos/{REPO}/issues/1/comments").respond_with_json(
        [], headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'}
    )
    with pytest.raises(TokentrailError) as err:
        GitHub(httpserver.url_for("/"), TOKEN).upsert(REPO, 1, "b", MARK)
    assert "another host (evil.example)" in err.value.message


def test_marker_stamps_and_recognises_only_its_repository() -> None:
    assert MARK.stamp("<!-- tokentrail:receipt -->\nx") == f"{marker_line()}\nx"
    assert MARK.stamp(f"{marker_line('5')}\nx") == f"{marker_line()}\nx"
    assert MARK.stamp("x") == f"{marker_line()}\nx"
    assert MARK.on(f"{marker_line()}\nbody") and not MARK.on(f"{marker_line('5')}\nbody")
    assert not MARK.on(f"hello\n{marker_line()}")
