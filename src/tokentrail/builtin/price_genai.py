"""Built-in pricing from genai-prices' bundled data (offline; no network at run time).

The model and its price for the request's date come from genai-prices. The arithmetic
for the common case (text tokens, optional long-context tiers) is done here from those
same prices, because `genai_prices.calc_price` costs ~90 µs a call and a machine holds
hundreds of thousands of requests; tests check the two agree to 1e-12 (float). Any price
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
_models: dict[tuple[str, str | None], tuple[gp.ModelInfo, str | None] | None] = {}


def _model_info(model: str, provider: str | None = None) -> tuple[gp.ModelInfo, str | None] | None:
    """The model's price entry and the provider id it was found under. A provider the
    log names is tried first (the same model id can be priced differently elsewhere);
    one genai-prices does not know falls back to a lookup by model id alone."""
    key = (model, provider)
    if key not in _models:
        found = None
        for provider_id in dict.fromkeys((provider, None)):
            try:
                found = get_snapshot().find_provider_model(model, None, provider_id, None)[1]
            except LookupError:
                continue
            _models[key] = (found, provider_id)
            break
        if found is None:
            _models[key] = None
    return _models[key]


def _rate(price: Decimal | gp.TieredPrices, prompt_tokens: int) -> Decimal:
    """genai-prices' cliff tiers: the highest tier the whole prompt exceeds applies to all."""
    if isinstance(price, gp.TieredPrices):
        for tier in reversed(price.tiers):
            if prompt_tokens > tier.start:
                return Decimal(tier.price)
        return Decimal(price.base)
    return Decimal(price)


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

    def __init__(self, rates: dict[str, Decimal | gp.TieredPrices]) -> None:
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


def _rates_for(prices: gp.ModelPrice) -> _FloatRates | None:
    """The compiled rates of a ModelPrice, or None when it has a price key this fast path
    does not know (then genai-prices' calc_price answers)."""
    key = id(prices)
    if key not in _float_rates:
        values = {
            k: v for k, v in prices.__dict__.items() if not k.startswith("_") and v is not None
        }
        known = set(values) <= set(_KEYS) | _IGNORED
        _float_rates[key] = _FloatRates(values) if known else None
    return _float_rates[key]


def _utc(when: datetime | None) -> datetime:
    """The request's time in UTC; now when it has none or one that cannot be made UTC (a
    third-party adapter's time at the edge of the datetime range)."""
    if when is not None and when.tzinfo is timezone.utc:
        return when  # what the built-in adapters give: nothing to do on the hot path
    if when is not None:
        try:
            return (
                when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
            )
        except (OverflowError, ValueError):
            pass
    return datetime.now(timezone.utc)


def cost_of(
    model: str, usage: Usage, when: datetime | None, provider: str | None = None
) -> float | None:
    """Price of one request in USD, or None when genai-prices does not know the model."""
    found = _model_info(model, provider)
    if found is None:
        return None
    info, provider_id = found
    when = _utc(when)
    table = _rates_for(info.get_prices(when))
    fast = table.cost(usage) if table is not None else None
    if fast is not None:
        return fast
    priced = genai_prices.calc_price(
        genai_usage(usage), model, provider_id=provider_id, genai_request_timestamp=when
    )
    return float(priced.total_price)


@hookimpl(trylast=True)
def price_request(request: Request, config: Mapping[str, Any]) -> Price | None:
    if request.model in NOT_BILLED_MODELS:
        return Price(0.0, "not billed")
    cost = cost_of(request.model, request.usage, request.timestamp, request.provider)
    return None if cost is None else Price(cost, SOURCE)
