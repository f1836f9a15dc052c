"""Price every request on its own: tiers apply per request, never to summed usage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import genai_prices

from tokentrail.model import Price, Session
from tokentrail.plugins import TokentrailPluginManager

PRICING_VERSION = f"genai-prices {genai_prices.__version__}"


def price_sessions(
    sessions: Iterable[Session], pm: TokentrailPluginManager, config: Mapping[str, Any]
) -> None:
    """Fill `cost_usd`/`price_source` on each request; unknown models stay None (unpriced)."""
    price_request = pm.first_result_caller("price_request", Price)
    for session in sessions:
        for request in session.requests:
            answer = price_request(request=request, config=config)
            price = answer[1] if answer else None
            request.cost_usd = price.cost_usd if price else None
            request.price_source = price.source if price else None
