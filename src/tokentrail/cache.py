"""Where tokentrail keeps what it can compute again: the user cache dir.

Everything here is derived from the agents' logs and git, so deleting it only costs time
(`tokentrail cache clear`), with one exception the index documents: request rows of
sessions whose logs the agent has since deleted (see index.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

INDEX_NAME = "index.sqlite3"
LEGACY_FOLDER = "sessions"  # the pickled-session cache of tokentrail 0.1 (removed by clear)


def cache_root() -> Path | None:
    """`$TOKENTRAIL_CACHE_DIR`, else the platform's user cache dir; None when disabled
    (`TOKENTRAIL_NO_CACHE=1`: every run starts from an empty, temporary index)."""
    if os.environ.get("TOKENTRAIL_NO_CACHE"):
        return None
    explicit = os.environ.get("TOKENTRAIL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tokentrail"


def index_path() -> Path | None:
    root = cache_root()
    return None if root is None else root / INDEX_NAME
