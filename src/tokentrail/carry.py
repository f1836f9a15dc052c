"""The carry-cost model: what each item that entered the context cost by being re-sent.

Agents re-send their whole context on every request, so a tool result that enters early is
paid for again on each later request of the same thread (main thread or one subagent) until
the next compaction. Its carry is size × those requests, priced at each request's own
cache-read price, plus the premium the request that first sent it paid to write it to the
cache (or, where the agent logs no cache writes, to send it uncached). Sizes come from the
jump in context between the request that asked for the result and the next request of the
thread (measured); when the log does not allow that, from `estimate_result_tokens`
(estimated).

Conservation: per request, the items carried never add up to more than the tokens that
request actually sent, so the item carries plus the remainder ("conversation and work")
equal the session's billed tokens exactly.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tokentrail.model import Request, Session, ToolCall, Usage
from tokentrail.pricing import Pricer

# A measured jump bigger than this many times the estimate holds more than the results (a
# user prompt, an attachment): the measurement is capped there and marked estimated.
MEASURE_CAP = 2.0


@dataclass(slots=True)
class CarryItem:
    """One tool result in the context, and what carrying it cost."""

    call: ToolCall
    thread: str | None  # None: main thread
    enters_at: int | None  # first request that sent it; None when no later request did
    size_tokens: int
    measured: bool
    carried_requests: int = 0
    carry_tokens: int = 0
    carry_usd: float = 0.0

    def share(self, tokens: int) -> tuple[int, float]:
        """The carry of `tokens` of this item (e.g. the part beyond a truncated size)."""
        if self.size_tokens <= 0 or tokens <= 0:
            return 0, 0.0
        part = min(tokens, self.size_tokens) / self.size_tokens
        return round(self.carry_tokens * part), self.carry_usd * part


@dataclass(slots=True)
class SessionCarry:
    session_id: str
    items: list[CarryItem] = field(default_factory=list)
    billed_tokens: int = 0
    billed_usd: float = 0.0
    input_side_tokens: int = 0
    remainder_tokens: int = 0
    remainder_usd: float = 0.0
    read_rate: list[float] = field(default_factory=list)  # USD per cache-read token, by request
    # USD per uncached prompt token, by request; priced only where an item enters (else the
    # read rate)
    entry_rate: list[float] = field(default_factory=list)
    by_call: dict[str, CarryItem] = field(default_factory=dict)

    def item(self, call_id: str) -> CarryItem | None:
        return self.by_call.get(call_id)

    @property
    def carried_tokens(self) -> int:
        return sum(i.carry_tokens for i in self.items)

    @property
    def carried_usd(self) -> float:
        return sum(i.carry_usd for i in self.items)


def read_rate(request: Request, pricer: Pricer) -> float:
    """USD per token of a cache read for this request's model, at its prompt's price tier
    (priced like the request itself, so overrides and price plugins apply); never more than
    the request actually cost per prompt token."""
    if request.cost_usd is None:
        return 0.0
    prompt = max(request.usage.prompt_tokens, 1)
    cost = pricer.cost(request.model, Usage(cache_read=prompt), request.timestamp)
    if cost is None:
        return 0.0
    return min(cost / prompt, request.cost_usd / prompt)


def entry_rate(request: Request, pricer: Pricer, read: float) -> float:
    """USD per uncached prompt token (cache writes and plain input) of this request, at its
    own prices: what a token cost the request that first sent it. Never more than the
    request cost beyond its cache reads."""
    u = request.usage
    uncached = u.input + u.cache_write
    if request.cost_usd is None or uncached <= 0:
        return read
    part = Usage(input=u.input, cache_write_5m=u.cache_write_5m, cache_write_1h=u.cache_write_1h)
    cost = pricer.cost(request.model, part, request.timestamp)
    if cost is None:
        return read
    room = max(request.cost_usd - u.cache_read * read, 0.0) / uncached
    return max(min(cost / uncached, room), read)


def compute(session: Session, pricer: Pricer) -> SessionCarry:
    """The carry of every tool result in `session` (see the module docstring)."""
    requests = session.requests
    out = SessionCarry(session.id)
    out.billed_tokens = sum(r.usage.total for r in requests)
    out.billed_usd = sum(r.cost_usd or 0.0 for r in requests)
    out.input_side_tokens = sum(r.usage.prompt_tokens for r in requests)
    out.read_rate = [read_rate(r, pricer) for r in requests]
    out.entry_rate = list(out.read_rate)
    cuts = sorted({c.request_index for c in session.compactions})

    threads: dict[str | None, list[int]] = {}
    for i, r in enumerate(requests):
        threads.setdefault(r.subagent, []).append(i)
    calls_by_request: dict[int, list[ToolCall]] = {}
    for call in session.tool_calls:
        if 0 <= call.request_index < len(requests):
            calls_by_request.setdefault(call.request_index, []).append(call)

    for thread, idx in threads.items():
        prefix = [0.0]
        for i in idx:
            prefix.append(prefix[-1] + out.read_rate[i])
        # window of an item: thread positions [p0, p1)
        windows: list[tuple[int, int, CarryItem]] = []
        for pos, k in enumerate(idx):
            calls = calls_by_request.get(k)
            if not calls:
                continue
            nxt = idx[pos + 1] if pos + 1 < len(idx) else None
            end = len(idx)
            if thread is None:
                cut = bisect_right(cuts, k)
                if cut < len(cuts):
                    end = bisect_left(idx, cuts[cut])
            sizes, measured = _sizes(requests, k, nxt, calls)
            for call, size in zip(calls, sizes):
                item = CarryItem(call, thread, None, size, measured)
                out.items.append(item)
                out.by_call[call.id] = item
                if nxt is not None and pos + 1 < end:
                    item.enters_at = nxt
                    windows.append((pos + 1, end, item))
        _sweep(requests, idx, prefix, windows, out.read_rate)
        _entry_premium(requests, idx, windows, out, pricer)

    out.remainder_tokens = out.billed_tokens - out.carried_tokens
    out.remainder_usd = out.billed_usd - out.carried_usd
    return out


def _sizes(
    requests: list[Request], k: int, nxt: int | None, calls: list[ToolCall]
) -> tuple[list[int], bool]:
    """Sizes of the results asked for by request k, split from the measured context jump
    in proportion to their estimates."""
    estimates = [max(c.result_tokens, 1) for c in calls]
    total = sum(estimates)
    if nxt is None or requests[k].output_lower_bound:
        # an unrecorded output would be counted as the results' size
        return estimates, False
    jump = (
        requests[nxt].usage.prompt_tokens
        - requests[k].usage.prompt_tokens
        - requests[k].usage.output
    )
    if jump <= 0:
        return estimates, False
    measured = jump <= total * MEASURE_CAP
    budget = min(jump, round(total * MEASURE_CAP))
    return [round(budget * e / total) for e in estimates], measured


def _sweep(
    requests: list[Request],
    idx: list[int],
    prefix: list[float],
    windows: list[tuple[int, int, CarryItem]],
    rates: list[float],
) -> None:
    """Full carry for every item, then take back what a request could not have sent
    (items older in the context keep their tokens first)."""
    starts: dict[int, list[CarryItem]] = {}
    ends: dict[int, list[CarryItem]] = {}
    for p0, p1, item in windows:
        item.carried_requests = p1 - p0
        item.carry_tokens = item.size_tokens * (p1 - p0)
        item.carry_usd = item.size_tokens * (prefix[p1] - prefix[p0])
        starts.setdefault(p0, []).append(item)
        ends.setdefault(p1, []).append(item)
    active: dict[int, CarryItem] = {}
    running = 0
    for pos, k in enumerate(idx):
        for item in ends.pop(pos, []):
            del active[id(item)]
            running -= item.size_tokens
        for item in starts.pop(pos, []):
            active[id(item)] = item
            running += item.size_tokens
        cap = requests[k].usage.prompt_tokens
        if running <= cap:
            continue
        room = cap
        for item in active.values():
            kept = min(item.size_tokens, room)
            room -= kept
            short = item.size_tokens - kept
            if short:
                item.carry_tokens -= short
                item.carry_usd -= short * rates[k]
    for _, _, item in windows:
        item.carry_usd = max(item.carry_usd, 0.0)


def _entry_premium(
    requests: list[Request],
    idx: list[int],
    windows: list[tuple[int, int, CarryItem]],
    carry: SessionCarry,
    pricer: Pricer,
) -> None:
    """What the request that first sent each item paid above a cache read for it; items
    entering together share that request's uncached tokens."""
    entering: dict[int, list[CarryItem]] = {}
    for p0, _, item in windows:
        entering.setdefault(p0, []).append(item)
    for p0, items in entering.items():
        k = idx[p0]
        carry.entry_rate[k] = entry_rate(requests[k], pricer, carry.read_rate[k])
        extra = carry.entry_rate[k] - carry.read_rate[k]
        if extra <= 0:
            continue
        usage = requests[k].usage
        total = sum(i.size_tokens for i in items)
        factor = min(1.0, (usage.input + usage.cache_write) / total) if total else 0.0
        for item in items:
            item.carry_usd += item.size_tokens * factor * extra


TOP_ITEMS = 5


def group_key(call: ToolCall) -> tuple[str, str]:
    """What an item is "of": a file (reads, writes and edits of one file together), a
    command (the same command run again), or the call alone."""
    if call.files:
        return "file", call.files[0]
    if call.command:
        return "command", call.command
    return "call", call.id


def groups(carry: SessionCarry, top: int | None = None) -> list[dict[str, Any]]:
    """Items grouped by what they hold (one file, one command), with what carrying them
    cost, most expensive first (the `top` of them): which files and commands burned the
    context."""
    by_key: dict[tuple[str, str], list[CarryItem]] = {}
    for item in carry.items:
        if item.carry_tokens > 0:
            by_key.setdefault(group_key(item.call), []).append(item)
    ranked = sorted(
        (
            (round(sum(i.carry_usd for i in items), 6), sum(i.carry_tokens for i in items), key)
            for key, items in by_key.items()
        ),
        key=lambda g: (-g[0], -g[1]),
    )
    out: list[dict[str, Any]] = []
    for carry_usd, carry_tokens, (kind, key) in ranked[:top]:
        items = by_key[(kind, key)]
        first = items[0].call
        tools: dict[str, int] = {}
        for i in items:
            tools[i.call.name] = tools.get(i.call.name, 0) + 1
        out.append(
            {
                "session": carry.session_id,
                "kind": kind,
                "what": key if kind != "call" else (first.summary or first.name),
                "tools": dict(sorted(tools.items(), key=lambda kv: (-kv[1], kv[0]))),
                "turn": first.request_index,
                "largest_tokens": max(i.size_tokens for i in items),
                "carried_requests": max(i.carried_requests for i in items),
                "carry_tokens": carry_tokens,
                "carry_usd": carry_usd,
            }
        )
    return out


def summary(carry: SessionCarry, top: int = TOP_ITEMS) -> dict[str, Any]:
    """One session's carry as a receipt carries it (and a note, after `privacy.portable`):
    the totals, the items that burned the most context, and the files and commands they
    came from (`top_groups`, which the likely cause and the postmortem name)."""
    items = sorted(carry.items, key=lambda i: (-i.carry_usd, -i.carry_tokens))
    return {
        "session": carry.session_id,
        "billed_tokens": carry.billed_tokens,
        "billed_usd": round(carry.billed_usd, 6),
        "input_side_tokens": carry.input_side_tokens,
        "carried_tokens": carry.carried_tokens,
        "carried_usd": round(carry.carried_usd, 6),
        "top_items": [
            {
                "session": carry.session_id,
                "tool": i.call.name,
                "what": i.call.command or ", ".join(i.call.files) or i.call.summary,
                "turn": i.call.request_index,
                "size_tokens": i.size_tokens,
                "measured": i.measured,
                "carried_requests": i.carried_requests,
                "carry_tokens": i.carry_tokens,
                "carry_usd": round(i.carry_usd, 6),
            }
            for i in items[:top]
            if i.carry_tokens > 0
        ],
        "top_groups": groups(carry, top),
    }


def combine(summaries: Iterable[Mapping[str, Any]], top: int = TOP_ITEMS) -> dict[str, Any]:
    """Several sessions' carry summaries as one (a branch's): sums, and the top items over
    all of them. The same function serves receipts from logs and from notes."""
    rows = list(summaries)
    billed = sum(int(r.get("billed_tokens") or 0) for r in rows)
    carried = sum(int(r.get("carried_tokens") or 0) for r in rows)
    billed_usd = sum(float(r.get("billed_usd") or 0.0) for r in rows)
    carried_usd = sum(float(r.get("carried_usd") or 0.0) for r in rows)
    items = _top(i for r in rows for i in r.get("top_items") or [])
    grouped = _top(g for r in rows for g in r.get("top_groups") or [])
    return {
        "billed_tokens": billed,
        "billed_usd": round(billed_usd, 6),
        "input_side_tokens": sum(int(r.get("input_side_tokens") or 0) for r in rows),
        "carried_tokens": carried,
        "carried_usd": round(carried_usd, 6),
        "carried_share": round(carried / billed, 4) if billed else 0.0,
        "remainder_tokens": billed - carried,
        "remainder_usd": round(billed_usd - carried_usd, 6),
        "top_items": items[:top],
        "top_groups": grouped[:top],
    }


def _top(entries: Iterable[Any]) -> list[dict[str, Any]]:
    return sorted(
        (dict(e) for e in entries if isinstance(e, Mapping)),
        key=lambda e: (-float(e.get("carry_usd") or 0.0), -int(e.get("carry_tokens") or 0)),
    )
