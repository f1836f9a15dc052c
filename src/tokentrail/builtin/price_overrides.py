"""User price overrides from `.tokentrail.yml` (`prices:`), consulted before genai-prices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokentrail.hookspecs import hookimpl
from tokentrail.model import Price, Request


@hookimpl(tryfirst=True)
def price_request(request: Request, config: Mapping[str, Any]) -> Price | None:
    entry = config.get("prices", {}).get(request.model)
    if entry is None:
        return None
    u = request.usage
    cost = (
        u.input * entry["input"]
        + u.cache_read * entry["cache_read"]
        + u.cache_write_5m * entry["cache_write_5m"]
        + u.cache_write_1h * entry["cache_write_1h"]
        + u.output * entry["output"]
    ) / 1_000_000
    return Price(cost, "config")
