"""The price stage: every dollar figure put on tokens goes through here.

Bills, carry costs, waste estimates and "what a smaller model would have cost" all ask the
same `price_request` hook chain (config overrides first, genai-prices last, plugins in
between), at the request's own date. Tiers apply per request, never to summed usage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import genai_prices

from tokentrail.model import Price, Request, Session, Usage
from tokentrail.plugins import TokentrailPluginManager

# What receipts name as their price data (per-request sources are on each request).
PRICING_VERSION = f"genai-prices {genai_prices.__version__}"


class Pricer:
    """Prices requests and hypothetical usages through the plugins, for one run's config."""

    def __init__(self, pm: TokentrailPluginManager, config: Mapping[str, Any]) -> None:
        self.config = config
        self._call: Callable[..., tuple[str, Price] | None] = pm.first_result_caller(
            "price_request", Price
        )
        self._costs: dict[tuple[str, int, int, int, int, int, int, datetime | None], float | None]
        self._costs = {}

    def price(self, request: Request) -> Price | None:
        """The first plugin's answer for this request; None when nobody prices its model."""
        answer = self._call(request=request, config=self.config)
        return answer[1] if answer else None

    def cost(self, model: str, usage: Usage, when: datetime | None) -> float | None:
        """USD of `usage` on `model` at `when`, as if it were a request of its own; None when
        the model is unpriced. Detectors use it for what-if figures (a cache read instead of
        a write, a smaller model)."""
        key = (
            model,
            usage.input,
            usage.cache_read,
            usage.cache_write_5m,
            usage.cache_write_1h,
            usage.output,
            usage.web_search_requests,
            when,
        )
        if key not in self._costs:
            price = self.price(Request(key=None, timestamp=when, model=model, usage=usage))
            self._costs[key] = price.cost_usd if price else None
        return self._costs[key]

    def price_sessions(self, sessions: Iterable[Session]) -> None:
        """Fill `cost_usd`/`price_source` on each request; unknown models stay None."""
        for session in sessions:
            for request in session.requests:
                price = self.price(request)
                request.cost_usd = price.cost_usd if price else None
                request.price_source = price.source if price else None
