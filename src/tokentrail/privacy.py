"""What may leave the machine: strings from logs made portable before they go into a note, a
receipt for CI or a PR comment.

Every string is redacted, flattened to one line without control, bidi or zero-width
characters and shortened (`escape.flat`), and paths are made repository-
relative: the repository root is cut off, any other absolute path is reduced to its file
name, so neither the developer's folder layout, user name nor home directory travels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokentrail.escape import cut, flat

LIMIT = 200
COMMAND_KEYS = ("command", "what")
# Quoted strings, `$(...)` substitutions and here-documents (to the end of the command).
_QUOTED = re.compile(
    r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|\$\((?:[^()]|\([^()]*\))*\)|<<-?\s*'?\w+'?.*", re.S
)
# An absolute POSIX or Windows path at the start of a shell word (after an optional
# `NAME=` or `--flag=` and opening quotes), up to the end of the word.
_ABSOLUTE = re.compile(
    r"(?P<lead>(?:^|(?<=\s))(?:[\w.-]+=)?[\"'(]*)"
    r"(?:[A-Za-z]:)?[\\/](?:[^\s\\/]+[\\/])*(?P<name>[^\s\\/]*)"
)


def relative_text(text: str, root: Path | None) -> str:
    """`text` with `root/` removed and other absolute paths reduced to their file name."""
    if root is not None:
        prefix = str(root).rstrip("/\\")
        text = text.replace(prefix + "/", "").replace(prefix + "\\", "")
        if text == prefix:
            return "."
    if "/" not in text and "\\" not in text:
        return text  # no path in it
    return _ABSOLUTE.sub(lambda m: m["lead"] + (m["name"] or "."), text)


def command_text(command: str) -> str:
    """A shell command with its quoted arguments elided: commit messages, patterns and
    inline scripts stay home, the program and its flags and paths travel."""
    return _QUOTED.sub("…", command)


@lru_cache(maxsize=4096)
def _portable_text(value: str, root: Path | None, limit: int, command: bool) -> str:
    """One string made portable (receipts repeat the same file names and commands across
    sessions: each is worked out once per run)."""
    text = command_text(value) if command else value
    # one line, redacted, without control, bidi or zero-width characters
    return cut(flat(relative_text(text, root)), limit)


def portable(value: Any, root: Path | None, limit: int = LIMIT, key: str = "") -> Any:
    """A JSON-able value with every string made portable, recursively; strings under a
    `command` or `what` key are treated as shell commands."""
    if isinstance(value, str):
        return _portable_text(value, root, limit, key in COMMAND_KEYS)
    if isinstance(value, Mapping):
        return {str(k): portable(v, root, limit, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v, root, limit, key) for v in value]
    return value
