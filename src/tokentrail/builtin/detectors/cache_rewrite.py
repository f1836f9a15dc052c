"""Cache re-write: a request whose cache write is close to the whole prior context. The
cached prefix was lost and paid for again at the write price; the premium over a cache
read is the waste. The cause is named where the log shows it: an idle gap longer than the
cache lifetime, a model switch; otherwise something else reset the cache (a background
notification, a changed system prompt or tool list)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import ClassVar

from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Request, Session, Usage
from tokentrail.pricing import Pricer
from tokentrail.thresholds import Threshold

TTL_5M = timedelta(minutes=5)
TTL_1H = timedelta(hours=1)
LESSONS = {
    "idle": (
        "Resume a long session within the cache lifetime or /compact it first; after a "
        "longer pause the whole context is written to the cache again."
    ),
    "model switch": (
        "Keep one model per session; switching models re-writes the whole context at the "
        "cache-write price."
    ),
    "unexplained": (
        "Keep one session per task and branch: each lost cache re-writes the whole context, "
        "and long sessions lose it more often."
    ),
}


def premium(request: Request, tokens: int, pricer: Pricer) -> float:
    """What writing `tokens` to the cache cost above reading them from it, at the
    request's own prices."""
    u = request.usage
    share_1h = u.cache_write_1h / u.cache_write if u.cache_write else 0.0
    w1h = round(tokens * share_1h)
    when = request.timestamp
    write = pricer.cost(request.model, Usage(cache_write_5m=tokens - w1h, cache_write_1h=w1h), when)
    read = pricer.cost(request.model, Usage(cache_read=tokens), when)
    if write is None or read is None:
        return 0.0
    return max(float(write - read), 0.0)


def cause(prev: Request, cur: Request) -> tuple[str, str]:
    if prev.model != cur.model:
        return "model switch", f"model changed from {prev.model} to {cur.model}"
    ttl = TTL_1H if cur.usage.cache_write_1h > cur.usage.cache_write_5m else TTL_5M
    if prev.timestamp and cur.timestamp and cur.timestamp - prev.timestamp > ttl:
        gap = cur.timestamp - prev.timestamp
        label = "1 h" if ttl == TTL_1H else "5 min"
        return "idle", f"idle {int(gap.total_seconds() // 60)} min, longer than the {label} cache"
    return "unexplained", "no idle gap or model switch in the log (background task, changed tools?)"


class CacheRewrite:
    name = "cache_rewrite"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "rewrite_min_tokens": Threshold(
            20000,
            "re-writing a small context costs little; below ~20k tokens it is not worth a finding",
        ),
        "rewrite_ratio": Threshold(
            0.8,
            "a cache write of at least 80% of the previous request's context means the cached "
            "prefix was lost and sent again at the write price",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        th = context["thresholds"]
        cuts = {c.request_index for c in session.compactions}
        last: dict[str | None, int] = {}
        for i, cur in enumerate(session.requests):
            p = last.get(cur.subagent)
            last[cur.subagent] = i
            if p is None or any(p < c <= i for c in cuts):
                continue
            prev = session.requests[p]
            prior = prev.usage.prompt_tokens
            written = min(cur.usage.cache_write, prior)
            if prior < th.rewrite_min_tokens or cur.usage.cache_write < th.rewrite_ratio * prior:
                continue
            if cur.usage.cache_read > (1 - th.rewrite_ratio) * prior:
                continue  # the prefix was read from the cache: this is new content, not a loss
            usd = premium(cur, written, context.pricer)
            if cur.cost_usd is not None:
                usd = min(usd, cur.cost_usd)
            kind, why = cause(prev, cur)
            yield Finding(
                detector=self.name,
                title=f"cache re-written at request {i} ({written:,} tokens): {kind}",
                session=session.id,
                evidence=[{"turn": i, "previous_turn": p, "cause": why}],
                wasted_tokens=written,
                wasted_usd=usd,
                confidence=0.9 if kind != "unexplained" else 0.6,
                measured=True,
                lesson=LESSONS[kind],
                claims={f"request:{i}": (written, usd)},
            )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(CacheRewrite())
