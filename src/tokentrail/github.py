"""The few GitHub REST calls a sticky PR comment and a merge consolidation need, with
retries where GitHub asks for them and errors a user can act on.

Which comment is ours: its first line is our marker *with this repository's id*
(`<!-- tokentrail:receipt repo=123 -->`) and its author is a bot or the token's own user.
`GET /user` gives the token's user for a personal token; app installation tokens (the
Actions `GITHUB_TOKEN` and GitHub Apps) get 403 there, so for them every bot comment with
our repository's marker is a candidate, tried oldest first (a PATCH GitHub refuses means it
was another bot's). A person's comment quoting the marker, or a marker with another
repository's id, is never touched. After writing, our own duplicates (two runs that posted
at once, or an older version that posted every time) are removed: the oldest comment wins
and carries the newest body, so concurrent runs converge on one comment.

Retries: 429 and rate-limit 403s wait as GitHub says (Retry-After, else x-ratelimit-reset,
else a minute), 5xx, timeouts and dropped connections back off exponentially; all waiting
together is capped (`max_wait`, default 60 s) and a wait that would pass the cap is not
started. The token goes into the Authorization header and nowhere else: messages name the
method and path, API messages are redacted (a proxy echoing headers cannot print the
token), and pagination only follows `Link` URLs on the API's own host.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from tokentrail import __version__
from tokentrail.errors import TokentrailError
from tokentrail.escape import cut, flat
from tokentrail.redact import MARK, redact

FORK_DOCS = "docs/action.md#pull-requests-from-forks"
PER_PAGE = 100
DEFAULT_MAX_WAIT = 60.0  # seconds of waiting (all retries together) before giving up
SECONDARY_WAIT = 60.0  # GitHub: without Retry-After, wait at least a minute
SERVER_RETRY = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class Marker:
    """Our hidden first line, tied to one repository (its numeric id, stable across
    renames) so a comment carrying another repository's receipt is never taken for ours."""

    name: str
    repo_id: str

    @property
    def line(self) -> str:
        return f"<!-- {self.name} repo={self.repo_id} -->"

    def stamp(self, body: str) -> str:
        """`body` starting with this marker line (replacing a bare `<!-- name -->` line)."""
        first, _, rest = body.partition("\n")
        if re.fullmatch(rf"\s*<!--\s*{re.escape(self.name)}(\s+repo=\S*)?\s*-->\s*", first):
            return f"{self.line}\n{rest}"
        return f"{self.line}\n{body}"

    def on(self, body: object) -> bool:
        return str(body or "").partition("\n")[0].strip() == self.line


@dataclass
class Posted:
    """What an upsert did: `created` or `updated`, the comment now holding the body, and
    the ids of our duplicate comments it removed."""

    action: str
    comment: dict[str, Any]
    removed: list[int] = field(default_factory=list)


@dataclass
class GitHub:
    api_url: str
    token: str
    timeout: float = 30.0
    fork: bool = False  # a fork PR: a 403 on write is the read-only token
    max_wait: float = DEFAULT_MAX_WAIT
    backoff: float = 1.0  # first wait after a 5xx or timeout; doubled each time
    max_attempts: int = 5
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    waited: list[float] = field(default_factory=list)  # every wait, in order
    attempts: int = 0  # HTTP requests sent, retries included

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

    # -- one call, with retries ------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One call; retried where that can help; failures become a TokentrailError."""
        full = url if url.startswith(("http://", "https://")) else self.api_url + url
        where = f"{method} {urlsplit(full).path}"
        tries = 0
        while True:
            tries += 1
            self.attempts += 1
            delay: float | None
            try:
                resp = self.session.request(method, full, timeout=self.timeout, **kwargs)
            except requests.Timeout:
                failure = TokentrailError(
                    "github_network",
                    f"{where}: GitHub API did not answer within {self.timeout:g}s",
                )
                delay = float(self.backoff * 2 ** (tries - 1))
            except requests.ConnectionError as exc:
                reason = _reason(exc)
                failure = TokentrailError(
                    "github_network",
                    f"{where}: cannot reach the GitHub API at {self.api_url} "
                    f"({reason}); check GITHUB_API_URL and the network",
                )
                # a wrong URL will not fix itself; a dropped connection may
                delay = None if reason in _PERMANENT else float(self.backoff * 2 ** (tries - 1))
            except requests.RequestException as exc:
                raise TokentrailError(
                    "github_network", f"{where}: request failed ({type(exc).__name__})"
                ) from None
            else:
                if resp.status_code < 400:
                    return resp
                failure = self._http_error(where, method, resp)
                delay = self._retry_delay(failure.code, resp, tries)
            if delay is None:
                raise failure
            spent = sum(self.waited)
            if tries >= self.max_attempts or spent + delay > self.max_wait:
                raise TokentrailError(
                    failure.code,
                    failure.message
                    + _gave_up(tries, spent, delay, self.max_wait, self.max_attempts),
                )
            self.sleep(delay)
            self.waited.append(delay)

    def _retry_delay(self, code: str, resp: requests.Response, tries: int) -> float | None:
        if code == "github_rate_limited":
            return _rate_limit_wait(resp.headers)
        if resp.status_code in SERVER_RETRY:
            return float(self.backoff * 2 ** (tries - 1))
        return None

    def _http_error(self, where: str, method: str, resp: requests.Response) -> TokentrailError:
        status = resp.status_code
        said = self._message(resp)
        base = f"{where}: GitHub answered {status}" + (f" ({said})" if said else "")
        if status == 401:
            return TokentrailError(
                "github_unauthorized", f"{base}; the token is missing, expired or revoked"
            )
        if _is_rate_limit(status, resp.headers, said):
            return TokentrailError("github_rate_limited", f"{base}; rate limited by GitHub")
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
                f"{base}; the token may not do this: for comments give the job "
                "`permissions: pull-requests: write`, for notes `contents: write` "
                "(see docs/action.md)",
            )
        if status == 404:
            return TokentrailError(
                "github_not_found",
                f"{base}; check GITHUB_REPOSITORY and the pull request number, and that the "
                "token can see the repository",
            )
        kind = "github_server_error" if status >= 500 else "github_http_error"
        return TokentrailError(kind, base)

    def _message(self, resp: requests.Response) -> str:
        """GitHub's `message`, one line, short, with secrets (and our token) redacted."""
        try:
            data = resp.json()
            said = data.get("message", "") if isinstance(data, dict) else ""
        except ValueError:
            said = ""
        return cut(self.scrub(flat(said)), 200)  # one line, no controls or bidi

    def scrub(self, text: str) -> str:
        """`text` without our token (even one a proxy echoed) or anything else secret."""
        if self.token:
            text = text.replace(self.token, MARK)
        return redact(text)

    # -- reads -----------------------------------------------------------------------------

    def login(self) -> str | None:
        """The token's own user, or None for an app installation token (the Actions token
        and GitHub Apps), which `GET /user` refuses."""
        try:
            return str(self.request("GET", "/user").json()["login"])
        except TokentrailError as exc:
            if exc.code in ("github_forbidden", "github_not_found"):
                return None
            raise
        except (ValueError, KeyError, TypeError):
            raise TokentrailError(
                "github_bad_answer", "GET /user: no login in the answer"
            ) from None

    def repo_id(self, repo: str) -> str:
        """The repository's numeric id (the Actions runner has it as GITHUB_REPOSITORY_ID)."""
        data = _json(self.request("GET", f"/repos/{repo}"), "GET repository")
        if not isinstance(data, dict) or data.get("id") is None:
            raise TokentrailError("github_bad_answer", "GET repository: no id in the answer")
        return str(data["id"])

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

    def pull(self, repo: str, number: int) -> dict[str, Any]:
        pr = _json(self.request("GET", f"/repos/{repo}/pulls/{number}"), "GET pull request")
        if not isinstance(pr, dict):
            raise TokentrailError("github_bad_answer", "GET pull request: not an object")
        return pr

    def pull_head(self, repo: str, number: int) -> str:
        """The head sha of a pull request."""
        try:
            return str(self.pull(repo, number)["head"]["sha"])
        except (KeyError, TypeError):
            raise TokentrailError("github_bad_answer", "GET pull request: no head sha") from None

    def commit_pulls(self, repo: str, sha: str) -> list[dict[str, Any]]:
        """The pull requests GitHub associates with a commit (for a commit on the default
        branch: the merged PR it came from)."""
        data = _json(self.request("GET", f"/repos/{repo}/commits/{sha}/pulls"), "GET pulls")
        if not isinstance(data, list):
            raise TokentrailError("github_bad_answer", "GET commit pulls: expected a list")
        return [p for p in data if isinstance(p, dict)]

    # -- the sticky comment ----------------------------------------------------------------

    def ours(
        self, comments: list[dict[str, Any]], marker: Marker, login: str | None
    ) -> list[dict[str, Any]]:
        """Comments that may be ours, oldest first: our repository's marker on the first
        line, written by a bot or by the token's own user."""
        found = [
            c
            for c in comments
            if marker.on(c.get("body")) and (_is_bot(c) or (login and _author(c) == login))
        ]
        return sorted(found, key=_order)

    def upsert(self, repo: str, number: int, body: str, marker: Marker) -> Posted:
        """PATCH our comment when there is one, else POST; then remove our duplicates."""
        body = marker.stamp(body)
        login = self.login()
        seen = list(self.comments(repo, number))
        written: dict[str, Any] | None = None
        for candidate in self.ours(seen, marker, login):
            try:
                written = self._patch(repo, candidate["id"], body)
                break
            except TokentrailError as exc:
                # another bot's comment (GitHub refuses the edit) or one deleted meanwhile
                if exc.code not in ("github_forbidden", "github_not_found"):
                    raise
        action = "updated"
        if written is None:
            resp = self.request(
                "POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body}
            )
            written, action = _json(resp, "POST comment"), "created"
            seen = list(self.comments(repo, number))  # a concurrent run may have posted too
        me = _author(written)
        mine = [c for c in self.ours(seen, marker, login) if _author(c) == me]
        if not any(c.get("id") == written.get("id") for c in mine):
            mine = sorted([*mine, written], key=_order)
        keeper = mine[0]
        if keeper.get("id") != written.get("id"):
            written, action = self._patch(repo, keeper["id"], body), "updated"
        removed = []
        for dup in mine[1:]:
            try:
                self.request("DELETE", f"/repos/{repo}/issues/comments/{dup['id']}")
            except TokentrailError as exc:
                if exc.code != "github_not_found":  # a concurrent run removed it first
                    raise
            removed.append(int(dup["id"]))
        return Posted(action, written, removed)

    def _patch(self, repo: str, comment_id: object, body: str) -> dict[str, Any]:
        resp = self.request(
            "PATCH", f"/repos/{repo}/issues/comments/{comment_id}", json={"body": body}
        )
        data = _json(resp, "PATCH comment")
        if not isinstance(data, dict):
            raise TokentrailError("github_bad_answer", "PATCH comment: not an object")
        return data


_PERMANENT = ("connection refused", "host name not found")


def _author(comment: Mapping[str, Any]) -> str:
    return str((comment.get("user") or {}).get("login") or "")


def _is_bot(comment: Mapping[str, Any]) -> bool:
    user = comment.get("user") or {}
    return user.get("type") == "Bot" or _author(comment).endswith("[bot]")


def _order(comment: Mapping[str, Any]) -> tuple[int, str]:
    cid = comment.get("id")
    return (cid if isinstance(cid, int) else 0, str(comment.get("created_at") or ""))


def _is_rate_limit(status: int, headers: Mapping[str, str], said: str) -> bool:
    if status == 429:
        return True
    if status != 403:
        return False
    return (
        headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in {k.lower() for k in headers}
        or "rate limit" in said.lower()
    )


def _rate_limit_wait(headers: Mapping[str, str], now: float | None = None) -> float:
    """Seconds to wait as GitHub documents it: Retry-After, else until x-ratelimit-reset
    when the limit is used up, else a minute (a secondary limit)."""
    now = time.time() if now is None else now
    after = headers.get("retry-after")
    if after:
        if after.strip().isdigit():
            return float(after.strip())
        try:
            when = email.utils.parsedate_to_datetime(after)
            return max(when.timestamp() - now, 0.0)
        except (TypeError, ValueError):
            pass
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset and reset.strip().isdigit():
        return max(float(reset) - now, 0.0) + 1.0
    return SECONDARY_WAIT


def _gave_up(tries: int, spent: float, delay: float, cap: float, most: int) -> str:
    if tries >= most:
        return f"; gave up after {tries} attempts ({spent:.0f}s of waiting)"
    return (
        f"; the next try would have to wait {delay:.0f}s, past the {cap:g}s this run may wait "
        f"({tries} attempt(s), {spent:.0f}s waited); try again later"
    )


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectionError):
        text = str(exc).lower()
        if "refused" in text:
            return "connection refused"
        if "resolve" in text or "name or service" in text or "nodename" in text:
            return "host name not found"
        return "connection failed"
    return type(exc).__name__


def _json(resp: requests.Response, what: str) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise TokentrailError("github_bad_answer", f"{what}: the answer was not JSON") from None
