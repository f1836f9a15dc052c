"""A plugin pluggy rejects half-way: `price_request` registers, then `register_adapters`
fails validation (an argument the hook does not have). None of it may stay loaded."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.model import Price, Request

HALF_LOADED_PRICE = 999.0  # would show in every cost if the half-loaded pricer stayed


@hookimpl
def price_request(request: Request, config: Mapping[str, Any]) -> Price | None:
    return Price(HALF_LOADED_PRICE, "half-loaded")


@hookimpl
def register_adapters(register: Callable[[Adapter], None], colour: str) -> None:
    """`colour` is not an argument of the hook, so pluggy refuses this one."""
