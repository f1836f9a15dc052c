"""Cache re-write: a request that pays full price again for context the previous request of
its thread had cached. The cached prefix was lost: Claude Code writes it to the cache again
(at the write price), Codex sends it uncached (OpenAI caches implicitly and logs no writes,
so the loss shows only as cached input collapsing while input stays high). The premium over
a cache read is the waste.

What was lost is measured, not assumed: the tokens the previous request had in its prompt
(all cached once it ran) beyond what this request read from the cache. A re-write keeps the
system prefix cached more often than not (a ~21k-token prefix after a background task
notification), so the rule compares the write with that loss, not with the whole context.

Each re-write is explained where the log shows why: an idle gap past the cache lifetime
(5 min, or 1 h for 1-hour cache writes; OpenAI keeps its cache 5-10 min), a background task
notification that arrived after the turn, a model switch; otherwise it is "unexplained". An
explicit cache (Claude) keeps a prefix for its lifetime, so an unexplained re-write means
something in the prompt changed; an implicit one (Codex) also misses on the provider's side
(routing, eviction), so there only the explained losses are findings. A compaction replaces
the context on purpose: what follows it is new, not a loss.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import ClassVar

from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import PROMPT_TASK_NOTIFICATION, Finding, Request, Session, Usage
from tokentrail.pricing import Pricer
from tokentrail.thresholds import Threshold

TTL_5M = timedelta(minutes=5)
TTL_1H = timedelta(hours=1)
IDLE = "idle"
NOTIFICATION = "background task notification"
MODEL_SWITCH = "model switch"
UNEXPLAINED = "unexplained"
CONFIDENCE = {IDLE: 0.9, NOTIFICATION: 0.8, MODEL_SWITCH: 0.6, UNEXPLAINED: 0.5}
LESSONS = {
    IDLE: (
        "Resume a long session within the cache lifetime or /compact it before a break; after "
        "a longer pause the whole context is paid for again at full price."
    ),
    NOTIFICATION: (
        "Don't end a turn with background tasks still running: their late notification "
        "re-writes the whole context to the cache; wait for them or stop them first."
    ),
    MODEL_SWITCH: (
        "Switch models at a compaction or in a new session: a switch mid-session writes the "
        "whole context to the new model's cache."
    ),
    UNEXPLAINED: (
        "Keep one session per task and branch: each lost cache re-writes the whole context, "
        "and long sessions lose it more often."
    ),
}


def premium(request: Request, tokens: int, pricer: Pricer) -> float:
    """What paying `tokens` again at this request's uncached prices (its mix of 5-minute and
    1-hour cache writes and plain input) cost above reading them from the cache."""
    u = request.usage
    uncached = u.input + u.cache_write
    if tokens <= 0 or uncached <= 0:
        return 0.0
    w5 = round(tokens * u.cache_write_5m / uncached)
    w1 = round(tokens * u.cache_write_1h / uncached)
    plain = max(tokens - w5 - w1, 0)
    when = request.timestamp
    paid = pricer.cost(
        request.model, Usage(input=plain, cache_write_5m=w5, cache_write_1h=w1), when
    )
    read = pricer.cost(request.model, Usage(cache_read=tokens), when)
    if paid is None or read is None:
        return 0.0
    return max(float(paid - read), 0.0)


def _idle(prev: Request, cur: Request) -> timedelta | None:
    """How long the cache sat unused between two requests: from send to send (a reply that
    streams for minutes touched the cache when it was sent), or from first line to first
    line when that is longer (a log that wrote the record before the request was sent)."""
    gaps = [
        b - a
        for a, b in ((prev.sent, cur.sent), (prev.timestamp, cur.timestamp))
        if a is not None and b is not None
    ]
    return max(gaps) if gaps else None


def _ttl(prev: Request, cur: Request) -> timedelta:
    one_hour = prev.usage.cache_write_1h + cur.usage.cache_write_1h
    five_min = prev.usage.cache_write_5m + cur.usage.cache_write_5m
    return TTL_1H if one_hour > five_min else TTL_5M


def explain(
    prev: Request, cur: Request, notices: list[datetime], main_thread: bool
) -> tuple[str, str]:
    """(kind, why) for a re-write of `cur` after `prev`, from what the log shows."""
    if prev.model != cur.model:
        return MODEL_SWITCH, f"model changed from {prev.model} to {cur.model}"
    gap, ttl = _idle(prev, cur), _ttl(prev, cur)
    if gap is not None and gap > ttl:
        label = "1 h" if ttl == TTL_1H else "5 min"
        minutes = int(gap.total_seconds() // 60)
        return IDLE, f"idle {minutes} min, longer than the {label} cache lifetime"
    if main_thread and prev.timestamp and cur.timestamp:
        lo = bisect_right(notices, prev.timestamp)
        if lo < len(notices) and notices[lo] <= cur.timestamp:
            return NOTIFICATION, "a background task's notification arrived before it"
    return UNEXPLAINED, "no idle gap, notification or model switch in the log"


class CacheRewrite:
    name = "cache_rewrite"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "rewrite_min_tokens": Threshold(
            10000,
            "paying ~10k tokens again costs a few cents; every agent context is larger (the "
            "system prompt and tools alone are ~15-20k), so a real loss is always above it",
        ),
        "rewrite_ratio": Threshold(
            0.8,
            "the request paid full price for at least this share of what the previous request "
            "had cached and this one did not read: the cached prefix was lost, not extended",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        th = context["thresholds"]
        cuts = sorted(c.request_index for c in session.compactions)
        notices = sorted(
            p.timestamp
            for p in session.prompts
            if p.kind == PROMPT_TASK_NOTIFICATION and p.timestamp is not None
        )
        last: dict[str | None, int] = {}
        for i, cur in enumerate(session.requests):
            p = last.get(cur.subagent)
            last[cur.subagent] = i
            if p is None:
                continue
            if cur.subagent is None and bisect_left(cuts, p + 1) < bisect_right(cuts, i):
                continue  # a compaction in between: the new context is new, not lost
            prev = session.requests[p]
            lost = min(prev.usage.prompt_tokens, cur.usage.prompt_tokens) - cur.usage.cache_read
            uncached = cur.usage.input + cur.usage.cache_write
            if lost < th.rewrite_min_tokens or uncached < th.rewrite_ratio * lost:
                continue
            repaid = min(uncached, lost)
            usd = premium(cur, repaid, context.pricer)
            if cur.cost_usd is not None:
                usd = min(usd, cur.cost_usd)
            kind, why = explain(prev, cur, notices, cur.subagent is None)
            written = cur.usage.cache_write > 0
            if kind == UNEXPLAINED and not written:
                continue  # implicit caches (Codex) also miss on the provider's side: not shown
            what = (
                f"cache re-written at request {i} ({repaid:,} tokens)"
                if written
                else f"prompt cache lost at request {i} ({repaid:,} tokens re-sent uncached)"
            )
            yield Finding(
                detector=self.name,
                title=f"{what}: {kind}",
                session=session.id,
                evidence=[
                    {
                        "turn": i,
                        "previous_turn": p,
                        "kind": kind,
                        "cause": why,
                        "cached_before": prev.usage.prompt_tokens,
                        "read_now": cur.usage.cache_read,
                    }
                ],
                wasted_tokens=repaid,
                wasted_usd=usd,
                confidence=CONFIDENCE[kind],
                measured=True,
                lesson=LESSONS[kind],
                claims={f"request:{i}": (repaid, usd)},
            )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(CacheRewrite())
