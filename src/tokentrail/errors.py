"""One exception type that carries a stable code for `--json` errors."""

from __future__ import annotations


class TokentrailError(Exception):
    """A problem the user can act on. `code` is stable and documented in docs/cli.md."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
