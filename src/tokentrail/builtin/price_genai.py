"""Built-in pricing from genai-prices' bundled data (offline; no network at run time).

The model and its price for the request's date come from genai-prices. The arithmetic
for the common case (text tokens, optional long-context tiers) is done here from those
same prices, because `genai_prices.calc_price` costs ~90 µs a call and a machine holds
hundreds of thousands of requests; tests check the two agree to the last digit. Any price
shape this fast path does not know goes through `calc_price` itself.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import types as gp
from genai_prices.data_snapshot import get_snapshot

from tokentrail.hookspecs import hookimpl
from tokentrail.model import Price, Request, Usage

SOURCE = f"genai-prices {genai_prices.__version__}"
NOT_BILLED_MODELS = {"<synthetic>"}  # Claude Code's locally generated error messages

# Price keys whose usage we never report (audio, images, documents...): they add nothing.
_IGNORED = {
    "audio_hours",
    "cache_audio_read_mtok",
    "cache_image_read_mtok",
    "input_annotated_document_kpages",
    "input_audio_hours",
    "input_audio_mtok",
    "input_document_kpages",
    "input_image_mtok",
    "input_mchars",
    "input_text_messages_kcount",
    "input_video_mtok",
    "output_audio_mtok",
    "output_citation_mtok",
    "output_image_mtok",
    "output_video_mtok",
    "storage_searches_kcount",
}
_FAST = {
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "web_searches_kcount",
    "requests_kcount",
}

_models: dict[str, gp.ModelInfo | None] = {}
_rates: dict[int, dict[str, Any] | None] = {}


def _model_info(model: str) -> gp.ModelInfo | None:
    if model not in _models:
        try:
            _models[model] = get_snapshot().find_provider_model(model, None, None, None)[1]
        except LookupError:
            _models[model] = None
    return _models[model]


def _fast_rates(prices: gp.ModelPrice) -> dict[str, Any] | None:
    """The ModelPrice as a plain dict, or None when it has a key the fast path can't do."""
    key = id(prices)
    if key not in _rates:
        values = {
            k: v for k, v in prices.__dict__.items() if not k.startswith("_") and v is not None
        }
        _rates[key] = values if set(values) <= _FAST | _IGNORED else None
    return _rates[key]


def _rate(price: Decimal | gp.TieredPrices, prompt_tokens: int) -> Decimal:
    """genai-prices' cliff tiers: the highest tier the whole prompt exceeds applies to all."""
    if isinstance(price, gp.TieredPrices):
        for tier in reversed(price.tiers):
            if prompt_tokens > tier.start:
                return Decimal(tier.price)
        return Decimal(price.base)
    return Decimal(price)


def _fast_cost(rates: dict[str, Any], u: Usage) -> Decimal | None:
    needed = {
        "input_mtok": u.input,
        "output_mtok": u.output,
        "cache_read_mtok": u.cache_read,
        "cache_write_mtok": u.cache_write_5m,
        "cache_write_1h_mtok": u.cache_write_1h,
    }
    if any(count and key not in rates for key, count in needed.items()):
        return None  # a missing price: let genai-prices decide how it falls back
    if u.web_search_requests and "web_searches_kcount" not in rates:
        return None
    prompt = u.prompt_tokens
    total = (
        sum(
            (_rate(rates[key], prompt) * count for key, count in needed.items() if count),
            Decimal(0),
        )
        / 1_000_000
    )
    if u.web_search_requests:
        total += _rate(rates["web_searches_kcount"], prompt) * u.web_search_requests / 1000
    if "requests_kcount" in rates:
        total += _rate(rates["requests_kcount"], prompt) / 1000
    return total


def genai_usage(u: Usage) -> genai_prices.Usage:
    """Our split into genai-prices' terms: its input_tokens counts cached input too."""
    return genai_prices.Usage(
        input_tokens=u.prompt_tokens,
        cache_read_tokens=u.cache_read,
        cache_write_tokens=u.cache_write,
        cache_write_1h_tokens=u.cache_write_1h,
        output_tokens=u.output,
        web_searches=u.web_search_requests,
    )


def cost_of(model: str, usage: Usage, when: datetime | None) -> Decimal | None:
    """Price of one request in USD, or None when genai-prices does not know the model."""
    info = _model_info(model)
    if info is None:
        return None
    when = when or datetime.now(timezone.utc)
    rates = _fast_rates(info.get_prices(when))
    if rates is not None:
        fast = _fast_cost(rates, usage)
        if fast is not None:
            return fast
    priced = genai_prices.calc_price(genai_usage(usage), model, genai_request_timestamp=when)
    return Decimal(priced.total_price)


_KEYS = (
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "web_searches_kcount",
    "requests_kcount",
)
_PER = (1e6, 1e6, 1e6, 1e6, 1e6, 1e3, 1e3)


class _FloatRates:
    """One ModelPrice as float USD-per-unit rates for each band of prompt size between
    tier starts, so pricing a request is a bisect and seven multiplications."""

    def __init__(self, rates: dict[str, Any]) -> None:
        starts = sorted(
            {t.start for v in rates.values() if isinstance(v, gp.TieredPrices) for t in v.tiers}
        )
        self.starts = starts
        self.bands = [
            tuple(
                None if k not in rates else float(_rate(rates[k], level)) / per
                for k, per in zip(_KEYS, _PER)
            )
            for level in [0, *(start + 1 for start in starts)]
        ]

    def cost(self, u: Usage) -> float | None:
        rate = self.bands[bisect_left(self.starts, u.prompt_tokens)]
        total = 0.0
        for count, r in (
            (u.input, rate[0]),
            (u.output, rate[1]),
            (u.cache_read, rate[2]),
            (u.cache_write_5m, rate[3]),
            (u.cache_write_1h, rate[4]),
            (u.web_search_requests, rate[5]),
        ):
            if count:
                if r is None:
                    return None  # a missing price: genai-prices decides how it falls back
                total += count * r
        return total + (rate[6] or 0.0)


_float_rates: dict[int, _FloatRates | None] = {}


def fast_cost(model: str, usage: Usage, when: datetime) -> float | None:
    """The request's price as a float, or None when only calc_price can answer."""
    info = _model_info(model)
    if info is None:
        return None
    prices = info.get_prices(when)
    key = id(prices)
    if key not in _float_rates:
        rates = _fast_rates(prices)
        _float_rates[key] = None if rates is None else _FloatRates(rates)
    table = _float_rates[key]
    return None if table is None else table.cost(usage)


@hookimpl(trylast=True)
def price_request(request: Request, config: Mapping[str, Any]) -> Price | None:
    if request.model in NOT_BILLED_MODELS:
        return Price(0.0, "not billed")
    when = request.timestamp or datetime.now(timezone.utc)
    cost = fast_cost(request.model, request.usage, when)
    if cost is None:
        exact = cost_of(request.model, request.usage, when)
        if exact is None:
            return None
        cost = float(exact)
    return Price(cost, SOURCE)
