"""The `html` renderer: the Markdown receipt as a standalone page (markdown-it-py, GFM tables).

Raw HTML is allowed through the parser because our own Markdown uses `<details>` and
`<sub>`; every log-derived string was entity-escaped by `escape.text` before it got there,
so none of it can become a tag. No scripts, no external assets: one file to open or attach.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tokentrail.builtin.render_markdown import MarkdownRenderer
from tokentrail.escape import html
from tokentrail.hookspecs import Renderer, hookimpl

if TYPE_CHECKING:  # imported when a page is rendered, not by every command
    from markdown_it import MarkdownIt

CSS = """
body{font:14px/1.5 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#1f2328}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #d0d7de;padding:4px 8px}
th{background:#f6f8fa}td{vertical-align:top}code{background:#f6f8fa;padding:1px 4px;
border-radius:4px}pre{background:#f6f8fa;padding:8px;overflow:auto}
details{margin:1em 0}summary{cursor:pointer;font-weight:600}
""".strip()


def markdown_parser() -> MarkdownIt:
    """CommonMark plus GFM tables and strikethrough (what GitHub renders in a comment)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def page(markdown_text: str, title: str = "tokentrail report") -> str:
    body = markdown_parser().render(markdown_text)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}</body>\n</html>\n"
    )


class HtmlRenderer:
    name = "html"

    def render(self, doc: Mapping[str, Any]) -> str:
        return page(MarkdownRenderer().render(doc))


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(HtmlRenderer())
