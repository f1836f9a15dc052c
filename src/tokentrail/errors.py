"""One exception type that carries a stable code for `--json` errors."""

from __future__ import annotations


class TokentrailError(Exception):
    """A problem the user can act on. `code` is stable and documented in docs/cli.md;
    `exit_code` is 1, or 2 when the command line itself was wrong."""

    def __init__(self, code: str, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code
