"""Log-derived strings made safe for a PR comment: inert Markdown, no HTML, no pings.

Every string taken from a log (paths, commands, branch names, titles that embed them,
session ids) passes through `text` or `code` before it is rendered: both redact secrets
first, flatten to one line, then escape. `text` is for prose and table cells: HTML `<>&`
become entities, Markdown punctuation is backslash-escaped, and `@mentions`, `#123` /
`GH-123` issue links are broken with a zero-width space so GitHub neither notifies anyone
nor links an unrelated issue. `code` makes a code span whose fence is longer than any
backtick run inside it (mentions, links and HTML are inert inside code spans).

Table cells additionally need `|` escaped; `markdown.table` does that for every cell, so
these functions leave `|` alone (escaping it twice would break the cell).
"""

from __future__ import annotations

import re

from tokentrail.redact import redact

ZWSP = "&#8203;"  # a zero-width space, as an entity so the Markdown source stays ASCII

_MD_PUNCT = re.compile(r"([\\`*_\[\]~])")
_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")
_ISSUE = re.compile(r"(?i)(#|\bGH-)(?=\d)")
_RUN = re.compile(r"`+")


def flat(value: object) -> str:
    """One line, secrets redacted."""
    return redact(" ".join(str(value).split()))


def html(value: str) -> str:
    """HTML special characters as entities."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text(value: object, limit: int | None = None) -> str:
    """A log string as inert inline Markdown (redacted, one line, at most `limit` chars)."""
    plain = cut(flat(value), limit)
    out = _MD_PUNCT.sub(r"\\\1", html(plain))
    out = _ISSUE.sub(lambda m: m[1] + ZWSP, out)  # before the mention ZWSP adds a `#8203`
    out = _MENTION.sub("@" + ZWSP, out)
    # a leading `#`, `-`, `+` or `=` could make a heading or list of a paragraph of its own
    return re.sub(r"^([#+=-])", r"\\\1", out)


def code(value: object, limit: int | None = None) -> str:
    """A log string as a code span that no backtick inside can end early."""
    plain = cut(flat(value), limit)
    if not plain:
        return ""
    longest = max((len(m) for m in _RUN.findall(plain)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if plain.startswith("`") or plain.endswith("`") or longest else ""
    return f"{fence}{pad}{plain}{pad}{fence}"


def cut(value: str, limit: int | None) -> str:
    if limit is None or len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)] + "…"


def cell(value: str) -> str:
    """A Markdown fragment made fit for one GFM table cell: no line breaks, `|` escaped."""
    return " ".join(value.split()).replace("|", "\\|")
