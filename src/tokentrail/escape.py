"""Strings made safe for where they go: a PR comment, an HTML page, a terminal, JSON.

Every string taken from a log or from git is hostile: a PR author controls commit subjects
and branch names, and logs hold whatever the agent saw.

- Markdown (PR comment, step summary, HTML): `text` and `code` redact secrets, flatten to
  one line and drop control, bidi and zero-width characters, then escape. `text` is for
  prose and table cells: HTML `<>&` become entities, Markdown punctuation is
  backslash-escaped, and `@mentions`, `#123` / `GH-123` issue links, bare URLs and `www.`
  are broken with a zero-width space so GitHub neither notifies anyone nor links anything.
  `code` makes a code span whose fence is longer than any backtick run inside it
  (mentions, links and HTML are inert inside code spans).
- Terminal: `terminal` shows control characters escaped (`\\x1b`, `\\r`) and bidi and
  zero-width characters as `<U+202E>`, so nothing can retitle, clear or rewrite a
  terminal, or reorder what is shown; `plain` is a log value as one safe, redacted line.
- JSON: `json_text` escapes the same characters as `\\uXXXX` (the value is unchanged when
  parsed), and `json_ready` replaces lone surrogates that cannot be encoded at all.

Table cells additionally need `|` escaped; `markdown.table` does that for every cell, so
`text`/`code` leave `|` alone (escaping it twice would break the cell).
"""

from __future__ import annotations

import re
from typing import Any

from tokentrail.redact import redact

ZWSP = "&#8203;"  # a zero-width space, as an entity so the Markdown source stays ASCII

_MD_PUNCT = re.compile(r"([\\`*_\[\]~])")
_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")
_ISSUE = re.compile(r"(?i)(#|\bGH-)(?=\d)")
_URL_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}):(?=//)|\b(mailto|xmpp):")
_WWW = re.compile(r"(?i)\bwww\.")
_RUN = re.compile(r"`+")

# Bidi controls (they reorder what is shown: "Trojan Source") and invisible characters
# (zero-width spaces and joiners, word joiner, BOM, soft hyphen, tag characters...).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_INVISIBLE = (
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2064\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f"
)
_CONTROL = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but \t and \n, DEL, C1
_SEPARATORS = "\u2028\u2029"
_SURROGATE = "\ud800-\udfff"
_UNSAFE = re.compile(f"[{_CONTROL}{_BIDI}{_INVISIBLE}{_SEPARATORS}{_SURROGATE}]")
_UNSAFE_LINE = re.compile(f"[\t\n{_CONTROL}{_BIDI}{_INVISIBLE}{_SEPARATORS}{_SURROGATE}]")
_STRIP = re.compile(f"[{_CONTROL}{_BIDI}{_INVISIBLE}]")
_LONE = re.compile(f"[{_SURROGATE}]")
# What JSON output escapes on top of what orjson does (orjson escapes C0 already).
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI}{_INVISIBLE}{_SEPARATORS}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}


def _shown(match: re.Match[str]) -> str:
    char = match[0]
    named = _NAMED.get(char)
    if named:
        return named
    code_point = ord(char)
    if code_point < 0x100:
        return f"\\x{code_point:02x}"
    if 0xDC80 <= code_point <= 0xDCFF:  # an undecodable byte kept by surrogateescape
        return f"\\x{code_point - 0xDC00:02x}"
    return f"<U+{code_point:04X}>"


def terminal(value: str, one_line: bool = False) -> str:
    """`value` as it may reach a terminal: control characters escaped (`\\x1b`, `\\r`),
    bidi, zero-width and separator characters shown as `<U+202E>`; with `one_line`, tabs
    and newlines escaped too (a value that must not start a line of its own)."""
    pattern = _UNSAFE_LINE if one_line else _UNSAFE
    if pattern.search(value) is None:
        return value
    return pattern.sub(_shown, value)


def plain(value: object, limit: int | None = None) -> str:
    """A log or git value for terminal text: redacted, one line, safe, at most `limit`."""
    return terminal(cut(redact(str(value)), limit), one_line=True)


def json_text(value: str) -> str:
    """JSON text with characters a terminal would act on escaped as \\uXXXX (orjson leaves
    DEL, C1, bidi and separator characters raw); parsing gives the same value back."""
    if _JSON_UNSAFE.search(value) is None:
        return value
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", value)


class Ready(dict[str, Any]):
    """A mapping `json_ready` already made safe (its result, kept): passed through as is."""


def json_ready(value: Any) -> Any:
    """`value` with every string (and key) redacted and lone surrogates (undecodable file
    names, lenient log reads) replaced, ready for orjson."""
    memo: dict[str, str] = {}
    plain_types = (int, float, bool, type(None))

    def clean(text: str) -> str:
        done = memo.get(text)
        if done is None:
            done = redact(text if text.isascii() else _LONE.sub("\ufffd", text))
            memo[text] = done
        return done

    def walk(item: Any) -> Any:
        kind = type(item)
        if kind in plain_types or kind is Ready:  # numbers are most of a listing
            return item
        if isinstance(item, str):
            return clean(item)
        if isinstance(item, dict):
            get = memo.get  # keys repeat in every row: a lookup, not a call, once seen
            return {
                ((get(k) or clean(k)) if isinstance(k, str) else k): (
                    v if type(v) in plain_types else walk(v)
                )
                for k, v in item.items()
            }
        if isinstance(item, (list, tuple)):
            return [v if type(v) in plain_types else walk(v) for v in item]
        return item

    return walk(value)


def flat(value: object) -> str:
    """One line, secrets redacted, without control, bidi or zero-width characters."""
    one = " ".join(str(value).split())
    one = _STRIP.sub("", one) if _STRIP.search(one) else one
    one = _LONE.sub("\ufffd", one) if _LONE.search(one) else one
    return redact(one)


def html(value: str) -> str:
    """HTML special characters as entities."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text(value: object, limit: int | None = None) -> str:
    """A log string as inert inline Markdown (redacted, one line, at most `limit` chars)."""
    plain_text = cut(flat(value), limit)
    out = _MD_PUNCT.sub(r"\\\1", html(plain_text))
    out = _ISSUE.sub(lambda m: m[1] + ZWSP, out)  # before the mention ZWSP adds a `#8203`
    out = _MENTION.sub("@" + ZWSP, out)
    out = _URL_SCHEME.sub(lambda m: f"{m[1] or m[2]}{ZWSP}:", out)  # no live links
    out = _WWW.sub(lambda m: m[0][:3] + ZWSP + ".", out)
    # a leading `#`, `-`, `+` or `=` could make a heading or list of a paragraph of its own
    return re.sub(r"^([#+=-])", r"\\\1", out)


def code(value: object, limit: int | None = None) -> str:
    """A log string as a code span that no backtick inside can end early."""
    plain_text = cut(flat(value), limit)
    if not plain_text:
        return ""
    longest = max((len(m) for m in _RUN.findall(plain_text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if plain_text.startswith("`") or plain_text.endswith("`") or longest else ""
    return f"{fence}{pad}{plain_text}{pad}{fence}"


def cut(value: str, limit: int | None) -> str:
    if limit is None or len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)] + "…"


def cell(value: str) -> str:
    """A Markdown fragment made fit for one GFM table cell: no line breaks, `|` escaped."""
    return " ".join(value.split()).replace("|", "\\|")
