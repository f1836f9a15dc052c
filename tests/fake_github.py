"""A small stand-in for the GitHub REST API on a real local HTTP server (pytest-httpserver).

It keeps comments per PR, pages them like GitHub (`per_page`, `page`, `Link: rel="next"`),
answers `GET /user` with the token's login (or 403, like app installation tokens: the
Actions token and GitHub Apps), lets a token edit and delete only its own comments, knows
the repository's id, pull requests and which PR a commit came from, and can be scripted to
fail: `fail` answers every call of a method with a status; `faults` answer the next
matching calls once each (with headers, or after a delay for timeouts).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = "ghs_" + "FakeTokenValue0123456789abcdefABCDEF"
REPO = "octo/shop-api"
REPO_ID = "987654321"
BOT = "github-actions[bot]"


@dataclass
class Fault:
    """One scripted answer for the next call matching `method` and the `path` regex."""

    method: str
    path: str
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (longer than the client's timeout = a timeout)


@dataclass
class FakeGitHub:
    server: HTTPServer
    login: str | None = "tokentrail-bot"  # None: GET /user answers 403 (an app token)
    bot: str = BOT  # who an app token writes as
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # method -> answer
    faults: list[Fault] = field(default_factory=list)
    auth: set[str] = field(default_factory=set)
    next_id: int = 1000
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)  # PR number -> PR object
    commit_pulls: dict[str, list[int]] = field(default_factory=dict)  # sha -> PR numbers
    gate: Callable[[Request], None] | None = None  # runs before each answer (tests' barriers)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    @property
    def me(self) -> str:
        return self.login or self.bot

    def add(self, number: int, body: str, user: str) -> dict[str, Any]:
        with self.lock:
            self.next_id += 1
            c = {
                "id": self.next_id,
                "body": body,
                "user": {"login": user, "type": "Bot" if user.endswith("[bot]") else "User"},
                "created_at": f"2026-03-02T10:{self.next_id % 60:02d}:00Z",
                "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-{self.next_id}",
            }
            self.comments.setdefault(number, []).append(c)
            return c

    def set_head(self, number: int, sha: str) -> None:
        self.pulls.setdefault(number, {"number": number})["head"] = {"sha": sha}

    def _json(
        self, data: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        return Response(json.dumps(data), status, headers, content_type="application/json")

    def _fault(self, request: Request) -> Fault | None:
        with self.lock:
            for i, f in enumerate(self.faults):
                if f.method == request.method and re.fullmatch(f.path, request.path):
                    return self.faults.pop(i)
        return None

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.calls.append((request.method, request.path))
            self.auth.add(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json({"message": "Bad credentials"}, 401)
        if self.gate is not None:
            self.gate(request)
        fault = self._fault(request)
        if fault is not None:
            time.sleep(fault.delay)
            return self._json(fault.body, fault.status, fault.headers)
        if request.method in self.fail:
            status, body = self.fail[request.method]
            return self._json(body, status)
        return self._answer(request)

    def _answer(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/user":
            if self.login is None:
                return self._json({"message": "Resource not accessible by integration"}, 403)
            return self._json({"login": self.login, "type": "User"})
        if path == f"/repos/{REPO}" and method == "GET":
            return self._json({"id": int(REPO_ID), "full_name": REPO})
        m = re.fullmatch(rf"/repos/{REPO}/issues/(\d+)/comments", path)
        if m and method == "GET":
            with self.lock:
                items = list(self.comments.get(int(m[1]), []))
            per_page = int(request.args.get("per_page", 30))
            page = int(request.args.get("page", 1))
            chunk = items[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(items):
                query = urlencode({"per_page": per_page, "page": page + 1})
                headers["Link"] = f'<{self.url}{path}?{query}>; rel="next"'
            return self._json(chunk, 200, headers)
        if m and method == "POST":
            body = json.loads(request.get_data())["body"]
            return self._json(self.add(int(m[1]), body, self.me), 201)
        m = re.fullmatch(rf"/repos/{REPO}/pulls/(\d+)", path)
        if m and method == "GET" and int(m[1]) in self.pulls:
            return self._json(self.pulls[int(m[1])])
        m = re.fullmatch(rf"/repos/{REPO}/commits/([0-9a-f]+)/pulls", path)
        if m and method == "GET":
            return self._json([self.pulls[n] for n in self.commit_pulls.get(m[1], [])])
        m = re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", path)
        if m and method in ("PATCH", "DELETE"):
            return self._edit(int(m[1]), method, request)
        return self._json({"message": "Not Found"}, 404)

    def _edit(self, comment_id: int, method: str, request: Request) -> Response:
        """Only the author may edit or delete a comment (GitHub refuses an app's edit of
        another account's comment)."""
        with self.lock:
            for number, cs in self.comments.items():
                for c in cs:
                    if c["id"] != comment_id:
                        continue
                    if c["user"]["login"] != self.me:
                        refused = {"message": "Resource not accessible by integration"}
                        return self._json(refused, 403)
                    if method == "DELETE":
                        self.comments[number] = [x for x in cs if x["id"] != comment_id]
                        return Response(status=204)
                    c["body"] = json.loads(request.get_data())["body"]
                    return self._json(c)
        return self._json({"message": "Not Found"}, 404)

    def ours(self, number: int) -> list[dict[str, Any]]:
        return [
            c
            for c in self.comments.get(number, [])
            if c["user"]["login"] == self.me and "tokentrail:receipt" in c["body"]
        ]

    def count(self, method: str, suffix: str = "") -> int:
        return sum(1 for m, p in self.calls if m == method and p.endswith(suffix))


def marker_line(repo_id: str = REPO_ID) -> str:
    return f"<!-- tokentrail:receipt repo={repo_id} -->"
