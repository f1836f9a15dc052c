"""A plugin whose `register_adapters` raises: tokentrail must report it and carry on."""

from __future__ import annotations

from collections.abc import Callable

from tokentrail.hookspecs import Adapter, hookimpl


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    raise RuntimeError("fake plugin bug in register_adapters")
