"""A plugin with a misspelt hook name: it would never be called, so say so."""

from __future__ import annotations

from collections.abc import Callable

from tokentrail.hookspecs import Adapter, hookimpl


@hookimpl
def register_adapter(register: Callable[[Adapter], None]) -> None:
    """Should be `register_adapters`."""
