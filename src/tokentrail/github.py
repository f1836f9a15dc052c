"""The few GitHub REST calls a sticky PR comment needs, with errors a user can act on.

Ours is the comment that carries our hidden marker *and* was written by the token's own
user: a comment by someone else that quotes the marker is never touched. The token's user
comes from `GET /user`; the Actions `GITHUB_TOKEN` (an app installation token) cannot call
that endpoint, so a 403/404 there means "the Actions bot", `github-actions[bot]`.

The token goes into the Authorization header and nowhere else: messages name the method and
path, never the headers, and pagination only follows `Link` URLs on the API's own host.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from tokentrail import __version__
from tokentrail.errors import TokentrailError
from tokentrail.escape import cut, flat

ACTIONS_BOT = "github-actions[bot]"
FORK_DOCS = "docs/action.md#pull-requests-from-forks"
PER_PAGE = 100


@dataclass
class GitHub:
    api_url: str
    token: str
    timeout: float = 30.0
    fork: bool = False  # a fork PR: a 403 on write is the read-only token
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.api_url = self.api_url.rstrip("/")
        self.session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "User-Agent": f"tokentrail/{__version__}",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One call; network failures and 4xx/5xx become a TokentrailError."""
        full = url if url.startswith(("http://", "https://")) else self.api_url + url
        where = f"{method} {urlsplit(full).path}"
        try:
            resp = self.session.request(method, full, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise TokentrailError(
                "github_network", f"{where}: GitHub API did not answer within {self.timeout:g}s"
            ) from None
        except requests.RequestException as exc:
            raise TokentrailError(
                "github_network",
                f"{where}: cannot reach the GitHub API at {self.api_url} "
                f"({_reason(exc)}); check GITHUB_API_URL and the network",
            ) from None
        if resp.status_code >= 400:
            raise self._http_error(where, method, resp)
        return resp

    def _http_error(self, where: str, method: str, resp: requests.Response) -> TokentrailError:
        status = resp.status_code
        said = _message(resp)
        base = f"{where}: GitHub answered {status}" + (f" ({said})" if said else "")
        if status == 401:
            return TokentrailError(
                "github_unauthorized", f"{base}; the token is missing, expired or revoked"
            )
        if status in (403, 429) and resp.headers.get("x-ratelimit-remaining") == "0":
            return TokentrailError(
                "github_rate_limited", f"{base}; rate limit reached, retry later"
            )
        if status == 403 and method != "GET" and self.fork:
            return TokentrailError(
                "github_fork_read_only",
                f"{base}. This pull request comes from a fork: GitHub gives its workflows a "
                "read-only GITHUB_TOKEN, so they cannot comment. Use the two-workflow "
                f"`workflow_run` pattern in {FORK_DOCS} (build the report in the PR "
                "workflow, comment from a workflow_run workflow).",
            )
        if status == 403:
            return TokentrailError(
                "github_forbidden",
                f"{base}; the token may not write pull-request comments: give the job "
                "`permissions: pull-requests: write` (see docs/action.md)",
            )
        if status == 404:
            return TokentrailError(
                "github_not_found",
                f"{base}; check GITHUB_REPOSITORY and the pull request number, and that the "
                "token can see the repository",
            )
        kind = "github_server_error" if status >= 500 else "github_http_error"
        return TokentrailError(kind, base)

    def login(self) -> str:
        """The token's own user; the Actions bot when `GET /user` is not allowed."""
        try:
            return str(self.request("GET", "/user").json()["login"])
        except TokentrailError as exc:
            if exc.code in ("github_forbidden", "github_not_found"):
                return ACTIONS_BOT
            raise
        except (ValueError, KeyError, TypeError):
            raise TokentrailError(
                "github_bad_answer", "GET /user: no login in the answer"
            ) from None

    def comments(self, repo: str, number: int) -> Iterator[dict[str, Any]]:
        """Every comment of the PR, page by page (`Link: rel="next"`)."""
        url: str | None = f"/repos/{repo}/issues/{number}/comments?per_page={PER_PAGE}"
        host = urlsplit(self.api_url).netloc
        while url:
            resp = self.request("GET", url)
            page = _json(resp, "GET comments")
            if not isinstance(page, list):
                raise TokentrailError("github_bad_answer", "GET comments: expected a list")
            yield from (c for c in page if isinstance(c, dict))
            url = resp.links.get("next", {}).get("url")
            if url and urlsplit(url).netloc != host:
                raise TokentrailError(
                    "github_bad_answer",
                    f"the next page of comments points at another host ({urlsplit(url).netloc})",
                )

    def find_sticky(self, repo: str, number: int, marker: str, login: str) -> dict[str, Any] | None:
        for c in self.comments(repo, number):
            author = (c.get("user") or {}).get("login")
            if author == login and marker in str(c.get("body") or ""):
                return c
        return None

    def pull_head(self, repo: str, number: int) -> str:
        """The head sha of a pull request."""
        pr = _json(self.request("GET", f"/repos/{repo}/pulls/{number}"), "GET pull request")
        try:
            return str(pr["head"]["sha"])
        except (KeyError, TypeError):
            raise TokentrailError("github_bad_answer", "GET pull request: no head sha") from None

    def upsert(self, repo: str, number: int, body: str, marker: str) -> tuple[str, dict[str, Any]]:
        """PATCH our comment when there is one, else POST a new one."""
        login = self.login()
        found = self.find_sticky(repo, number, marker, login)
        if found is not None:
            resp = self.request(
                "PATCH", f"/repos/{repo}/issues/comments/{found['id']}", json={"body": body}
            )
            return "updated", _json(resp, "PATCH comment")
        resp = self.request("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body})
        return "created", _json(resp, "POST comment")


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if "resolve" in text.lower() or "name or service" in text.lower():
            return "host name not found"
        return "connection failed"
    return type(exc).__name__


def _message(resp: requests.Response) -> str:
    try:
        said = resp.json().get("message", "")
    except (ValueError, AttributeError):
        said = ""
    return cut(flat(said), 200)  # the server's words: redacted, one line, no controls


def _json(resp: requests.Response, what: str) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise TokentrailError("github_bad_answer", f"{what}: the answer was not JSON") from None
