"""Price every request on its own: tiers apply per request, never to summed usage."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from importlib.util import find_spec
from typing import Any

from tokentrail.model import Price, Session
from tokentrail.plugins import TokentrailPluginManager

_DIST_INFO = re.compile(r"^genai[_.-]prices-([^-]+)\.dist-info$", re.IGNORECASE)


def genai_prices_version() -> str:
    """genai-prices' installed version, read from its dist-info folder name beside the
    package: importing genai-prices (pydantic, an HTTP client) takes longer than a whole
    hook run that finds everything in the index."""
    spec = find_spec("genai_prices")
    if spec is not None and spec.origin:
        site = os.path.dirname(os.path.dirname(spec.origin))
        try:
            for name in os.listdir(site):
                match = _DIST_INFO.match(name)
                if match:
                    return match.group(1)
        except OSError:
            pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return "unknown"


PRICING_VERSION = f"genai-prices {genai_prices_version()}"


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
