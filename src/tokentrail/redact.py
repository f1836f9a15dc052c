"""Secrets out of every string taken from a log before it can leave the machine.

Commands and paths in evidence, notes and PR comments pass through `redact`. It is a
best-effort filter for the common shapes (provider keys, tokens, passwords in URLs and on
command lines); what it cannot recognise it leaves, so evidence stays short by design.
"""

from __future__ import annotations

import re

MARK = "[REDACTED]"

_KEYS = re.compile(
    r"\b(?:sk-ant-[A-Za-z0-9_-]{8,}|sk-(?:proj-)?[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{16,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"
    r"|xox[abposr]-[A-Za-z0-9-]{8,}|AIza[0-9A-Za-z_-]{30,}|hf_[A-Za-z0-9]{20,}"
    r"|npm_[A-Za-z0-9]{20,}|pypi-[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{16,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]+):([^/\s@]+)@")
_ASSIGNMENT = re.compile(
    r"(?i)((?:--?)?[\w.-]*(?:api[_-]?key|token|secret|passw(?:or)?d|passwd|pwd|auth|credential)"
    r"[\w.-]*\s*[=:]\s*)(?!\[REDACTED\])(\"[^\"]*\"|'[^']*'|[^\s@]+)"
)
_HEADER = re.compile(r"(?i)\b(authorization:\s*(?:bearer|basic|token)\s+|bearer\s+)([^\s'\"]+)")
_FLAG_VALUE = re.compile(
    r"(?i)((?:^|\s)(?:--password|--token|--api-key)\s*)(?!=|\[REDACTED\])(\S+)"
)


def redact(text: str) -> str:
    """`text` with recognisable secrets replaced by [REDACTED]."""
    text = _KEYS.sub(MARK, text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m[1]}{m[2]}:{MARK}@", text)
    text = _HEADER.sub(lambda m: m[1] + MARK, text)
    text = _ASSIGNMENT.sub(lambda m: m[1] + MARK, text)
    return _FLAG_VALUE.sub(lambda m: m[1] + MARK, text)


def short(text: str, limit: int) -> str:
    """One line, redacted, at most `limit` characters."""
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"
