"""Built-in pricing from genai-prices' bundled data (offline; no network at run time).

The model and its price for the request's date come from genai-prices. The arithmetic
for the common case (text tokens, optional long-context tiers) is done here from those
same prices, because `genai_prices.calc_price` costs ~90 µs a call and a machine holds
hundreds of thousands of requests; tests check the two agree to 1e-12 (float). Any price
shape this fast path does not know goes through `calc_price` itself.
"""

from __future__ import annotations

import marshal
import os
import zlib
from bisect import bisect_left
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokentrail import __version__
from tokentrail.cache import cache_root
from tokentrail.hookspecs import hookimpl
from tokentrail.model import Price, Request, Usage
from tokentrail.pricing import PRICING_VERSION

if TYPE_CHECKING:  # genai-prices is imported when a price is needed, not at start-up
    from decimal import Decimal

    import genai_prices
    from genai_prices import types as gp

SOURCE = PRICING_VERSION
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
        from genai_prices.data_snapshot import get_snapshot

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
    from decimal import Decimal

    from genai_prices import types as gp

    if isinstance(price, gp.TieredPrices):
        for tier in reversed(price.tiers):
            if prompt_tokens > tier.start:
                return Decimal(tier.price)
        return Decimal(price.base)
    return Decimal(price)


def genai_usage(u: Usage) -> genai_prices.Usage:
    """Our split into genai-prices' terms: its input_tokens counts cached input too."""
    import genai_prices

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
        from genai_prices import types as gp

        starts = sorted(
            {t.start for v in rates.values() if isinstance(v, gp.TieredPrices) for t in v.tiers}
        )
        self.starts: list[int] = starts
        self.bands: list[tuple[float | None, ...]] = [
            tuple(
                None if k not in rates else float(_rate(rates[k], level)) / per
                for k, per in zip(_KEYS, _PER)
            )
            for level in [0, *(start + 1 for start in starts)]
        ]

    def cost(self, u: Usage) -> float | None:
        return _cost(self.starts, self.bands, u)


def _cost(starts: list[int], bands: list[tuple[float | None, ...]], u: Usage) -> float | None:
    """A request's price from compiled rates; None when a rate it needs is missing
    (then genai-prices decides how it falls back)."""
    rate = bands[bisect_left(starts, u.input + u.cache_read + u.cache_write_5m + u.cache_write_1h)]
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
                return None
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


# Compiled prices kept between runs, so a run that prices a few new requests (a hook after
# the live session grew) does not import genai-prices (pydantic, its data) to do it.
# "model\0provider" -> None (genai-prices does not know it), or its prices as a list of
# (first UTC day as an ordinal or None for "always", tier starts, bands), in
# genai-prices' order: the last entry whose day has come applies, else the first.
Compiled = list[tuple[int | None, list[int], list[tuple[float | None, ...]]]]
_compiled: dict[str, Compiled | None] | None = None
_UNKNOWN = object()


def _compiled_path() -> Path | None:
    root = cache_root()
    return None if root is None else root / f"prices2-{PRICING_VERSION.split()[-1]}-{__version__}"


def _load_compiled() -> dict[str, Compiled | None]:
    global _compiled
    if _compiled is None:
        _compiled = {}
        path = _compiled_path()
        try:
            blob = path.read_bytes() if path is not None else b""
            if blob[:8] == b"%08x" % zlib.crc32(blob[8:]):
                loaded = marshal.loads(blob[8:])
                if isinstance(loaded, dict):
                    _compiled = loaded
        except (OSError, ValueError, EOFError, TypeError):
            pass
    return _compiled


def _save_compiled(compiled: dict[str, Compiled | None]) -> None:
    path = _compiled_path()
    if path is None:
        return
    payload = marshal.dumps(compiled)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(b"%08x" % zlib.crc32(payload) + payload)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time


def _compile(info: gp.ModelInfo) -> Compiled | None:
    """A model's prices in the form above, or None when some of it needs genai-prices
    itself (a time-of-day price, a price key the fast path does not know)."""
    from genai_prices import types as gp

    prices = info.prices
    entries: list[tuple[int | None, gp.ModelPrice]] = []
    if isinstance(prices, gp.ModelPrice):
        entries.append((None, prices))
    else:
        for conditional in prices:
            constraint = conditional.constraint
            if constraint is None:
                entries.append((None, conditional.prices))
            elif isinstance(constraint, gp.StartDateConstraint):
                entries.append((constraint.start_date.toordinal(), conditional.prices))
            else:
                return None
    out: Compiled = []
    for start, model_price in entries:
        rates = _rates_for(model_price)
        if rates is None:
            return None
        out.append((start, rates.starts, rates.bands))
    return out


def _prices_for(model: str, provider: str | None) -> Compiled | object | None:
    """The compiled prices of the model (as the provider the log names prices it), None
    when it is unknown, _UNKNOWN when only genai-prices can price it."""
    compiled = _load_compiled()
    key = f"{model}\0{provider or ''}"
    if key in compiled:
        found = compiled[key]
        return _UNKNOWN if found == [] else found
    info = _model_info(model, provider)
    entry = None if info is None else _compile(info[0])
    compiled[key] = [] if info is not None and entry is None else entry
    _save_compiled(compiled)
    return _UNKNOWN if info is not None and entry is None else entry


def _on(compiled: Compiled, when: datetime) -> tuple[list[int], list[tuple[float | None, ...]]]:
    """genai-prices' rule: the last price whose start day has come, else the first."""
    if when.tzinfo is not None and when.tzinfo is not timezone.utc:
        when = when.astimezone(timezone.utc)
    day = when.toordinal()
    for start, starts, bands in reversed(compiled):
        if start is None or day >= start:
            return starts, bands
    return compiled[0][1], compiled[0][2]


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
    when = _utc(when)
    prices = _prices_for(model, provider)
    if prices is None:
        return None
    if isinstance(prices, list):
        fast = _cost(*_on(prices, when), usage)
        if fast is not None:
            return fast
    found = _model_info(model, provider)
    if found is None:
        return None
    import genai_prices

    priced = genai_prices.calc_price(
        genai_usage(usage), model, provider_id=found[1], genai_request_timestamp=when
    )
    return float(priced.total_price)


@hookimpl(trylast=True)
def price_request(request: Request, config: Mapping[str, Any]) -> Price | None:
    if request.model in NOT_BILLED_MODELS:
        return Price(0.0, "not billed")
    cost = cost_of(request.model, request.usage, request.timestamp, request.provider)
    return None if cost is None else Price(cost, SOURCE)
