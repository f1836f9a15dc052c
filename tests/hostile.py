"""Hostile strings and a checker that parses rendered Markdown back with markdown-it-py."""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
BRANCH = "feat/x|y<script>@octocat#12`tick`"
PATH = "src/a|b/<img src=x onerror=alert(1)>/@octocat/#12/`x`.py"
COMMAND = (
    f"curl -H 'Authorization: token {SECRET}' https://user:pw@host.example/x "
    "| grep '@octocat #12' `id`"
)
SUBJECT = f"subject with | pipe <b>bold</b> @octocat #12 `code` {SECRET}"
# our own raw HTML; anything else in the parsed output came from input
OURS = re.compile(
    r"^(<!-- tokentrail:receipt -->|<details( open)?>|</details>|<summary>|</summary>|<sub>"
    r"|</sub>)"
)
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9_-]")
ISSUE = re.compile(r"(?i)(?:^|[^\w&])(?:#|GH-)\d")


def parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for t in tokens:
        out.append(t)
        if t.children:
            out.extend(_walk(t.children))
    return out


def check_markdown(md: str, *secrets: str) -> dict[str, Any]:
    """Assert the Markdown is structurally sound and inert; return what was seen."""
    tokens = parser().parse(md)
    seen = {"tables": 0, "rows": 0}
    cols: list[int] = []
    for t in tokens:
        if t.type == "table_open":
            cols = []
            seen["tables"] += 1
        elif t.type == "tr_open":
            cols.append(0)
        elif t.type in ("th_open", "td_open"):
            cols[-1] += 1
        elif t.type == "table_close":
            assert len(set(cols)) == 1, f"table rows differ in columns: {cols}"
            seen["rows"] += len(cols)
    for t in _walk(tokens):
        if t.type in ("html_block", "html_inline"):
            for line in filter(None, (x.strip() for x in t.content.splitlines())):
                assert OURS.match(line), f"raw HTML from input: {line!r}"
        if t.type == "text":
            assert not MENTION.search(t.content), f"mention survives: {t.content!r}"
            assert not ISSUE.search(t.content), f"issue autolink survives: {t.content!r}"
        if t.type == "link_open" or t.type == "image":
            raise AssertionError(f"a link or image from input: {t}")
    html = parser().render(md)
    for bad in ("<script", "<img", "<b>"):
        assert bad not in html
    for secret in secrets:
        assert secret not in md and secret not in html
    return seen
