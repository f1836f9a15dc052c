"""Progress of long work, without the library knowing who watches.

The command layer installs a reporter (a callable taking `done, total`) for the length of
a command; the pipeline hands `current()` to the parse loop. Library code never prints:
with no reporter installed, nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Reporter = Callable[[int, int], None]

_current: ContextVar[Reporter | None] = ContextVar("tokentrail_progress", default=None)


def current() -> Reporter | None:
    """The reporter installed by the running command, if any."""
    return _current.get()


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Install `reporter` for the duration of the block (None: report nothing)."""
    token = _current.set(reporter)
    try:
        yield
    finally:
        _current.reset(token)
