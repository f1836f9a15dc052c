"""A small stand-in for the GitHub REST API on a real local HTTP server (pytest-httpserver).

It keeps comments per PR, pages them like GitHub (`per_page`, `page`, `Link: rel="next"`),
answers `GET /user` with the token's login (or 403, like the Actions token), and can be told
to fail a method with a status.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = "ghs_" + "FakeTokenValue0123456789abcdefABCDEF"
REPO = "octo/shop-api"
BOT = "github-actions[bot]"


@dataclass
class FakeGitHub:
    server: HTTPServer
    login: str | None = "tokentrail-bot"  # None: GET /user answers 403 (Actions token)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # method -> answer
    auth: set[str] = field(default_factory=set)
    next_id: int = 1000
    heads: dict[int, str] = field(default_factory=dict)  # PR number -> head sha

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def add(self, number: int, body: str, user: str) -> dict[str, Any]:
        self.next_id += 1
        c = {
            "id": self.next_id,
            "body": body,
            "user": {"login": user},
            "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-{self.next_id}",
        }
        self.comments.setdefault(number, []).append(c)
        return c

    def _json(
        self, data: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        return Response(json.dumps(data), status, headers, content_type="application/json")

    def handle(self, request: Request) -> Response:
        self.calls.append((request.method, request.path))
        self.auth.add(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json({"message": "Bad credentials"}, 401)
        if request.method in self.fail:
            status, body = self.fail[request.method]
            return self._json(body, status)
        if request.path == "/user":
            if self.login is None:
                return self._json({"message": "Resource not accessible by integration"}, 403)
            return self._json({"login": self.login})
        m = re.fullmatch(rf"/repos/{REPO}/issues/(\d+)/comments", request.path)
        if m and request.method == "GET":
            items = self.comments.get(int(m[1]), [])
            per_page = int(request.args.get("per_page", 30))
            page = int(request.args.get("page", 1))
            chunk = items[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(items):
                query = urlencode({"per_page": per_page, "page": page + 1})
                headers["Link"] = f'<{self.url}{request.path}?{query}>; rel="next"'
            return self._json(chunk, 200, headers)
        if m and request.method == "POST":
            body = json.loads(request.get_data())["body"]
            return self._json(self.add(int(m[1]), body, self.login or BOT), 201)
        m = re.fullmatch(rf"/repos/{REPO}/pulls/(\d+)", request.path)
        if m and request.method == "GET" and int(m[1]) in self.heads:
            return self._json({"number": int(m[1]), "head": {"sha": self.heads[int(m[1])]}})
        m = re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", request.path)
        if m and request.method == "PATCH":
            for c in (c for cs in self.comments.values() for c in cs):
                if c["id"] == int(m[1]):
                    c["body"] = json.loads(request.get_data())["body"]
                    return self._json(c)
        return self._json({"message": "Not Found"}, 404)

    def ours(self, number: int) -> list[dict[str, Any]]:
        return [
            c
            for c in self.comments.get(number, [])
            if c["user"]["login"] == (self.login or BOT) and "tokentrail:receipt" in c["body"]
        ]
