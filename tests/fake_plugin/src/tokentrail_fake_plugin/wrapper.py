"""A pluggy hook wrapper on price_request. tokentrail calls hooks itself (to isolate
failures), so it cannot run wrappers; it must refuse the plugin, not misprice everything."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from tokentrail.hookspecs import hookimpl
from tokentrail.model import Price, Request


@hookimpl(wrapper=True)
def price_request(
    request: Request, config: Mapping[str, Any]
) -> Generator[None, Price | None, Price | None]:
    result = yield
    return result
