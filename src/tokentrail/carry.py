"""The carry-cost model: what each item that entered the context cost by being re-sent.

Agents re-send their whole context on every request, so a tool result that enters early is
paid for again on each later request of the same thread (main thread or one subagent) until
the next compaction. Its carry is size × those requests, priced at each request's own
cache-read price. Sizes come from the jump in context between the request that asked for
the result and the next request of the thread (measured); when the log does not allow that,
from `estimate_result_tokens` (estimated).

Conservation: per request, the items carried never add up to more than the tokens that
request actually sent, so the item carries plus the remainder ("conversation and work")
equal the session's billed tokens exactly.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from tokentrail.builtin.price_genai import cost_of
from tokentrail.model import Request, Session, ToolCall, Usage

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
    by_call: dict[str, CarryItem] = field(default_factory=dict)
    # Set on a digest (a stored detector result keeps only the items a report can show):
    # the carried totals over every item, which `items` alone no longer add up to.
    carried: tuple[int, float] | None = None

    def item(self, call_id: str) -> CarryItem | None:
        return self.by_call.get(call_id)

    @property
    def carried_tokens(self) -> int:
        if self.carried is not None:
            return self.carried[0]
        return sum(i.carry_tokens for i in self.items)

    @property
    def carried_usd(self) -> float:
        if self.carried is not None:
            return self.carried[1]
        return sum(i.carry_usd for i in self.items)

    def digest(self, top: int = 5) -> SessionCarry:
        """What reports read of this carry (totals, the `top` items by carry cost and the
        largest by tokens, in their order), small enough to store with a session."""
        ranked = sorted(
            range(len(self.items)),
            key=lambda i: (-self.items[i].carry_usd, -self.items[i].carry_tokens),
        )
        keep = set(ranked[:top])
        if self.items:
            keep.add(max(range(len(self.items)), key=lambda i: self.items[i].carry_tokens))
        items = [self.items[i] for i in sorted(keep)]
        return SessionCarry(
            session_id=self.session_id,
            items=items,
            billed_tokens=self.billed_tokens,
            billed_usd=self.billed_usd,
            input_side_tokens=self.input_side_tokens,
            remainder_tokens=self.remainder_tokens,
            remainder_usd=self.remainder_usd,
            by_call={i.call.id: i for i in items},
            carried=(self.carried_tokens, self.carried_usd),
        )


def read_rate(request: Request) -> float:
    """USD per token of a cache read for this request's model, at its prompt's price tier;
    never more than the request actually cost per prompt token."""
    if request.cost_usd is None:
        return 0.0
    prompt = max(request.usage.prompt_tokens, 1)
    cost = cost_of(request.model, Usage(cache_read=prompt), request.timestamp)
    if cost is None:
        # unknown to genai-prices but priced by an override: a cache read is at most what
        # the request cost per prompt token
        return request.cost_usd / prompt / 10
    return min(cost / prompt, request.cost_usd / prompt)


def thread_of(session: Session, call: ToolCall) -> str | None:
    if 0 <= call.request_index < len(session.requests):
        return session.requests[call.request_index].subagent
    return call.subagent


def compute(session: Session) -> SessionCarry:
    """The carry of every tool result in `session` (see the module docstring)."""
    requests = session.requests
    out = SessionCarry(session.id)
    out.billed_tokens = sum(r.usage.total for r in requests)
    out.billed_usd = sum(r.cost_usd or 0.0 for r in requests)
    out.input_side_tokens = sum(r.usage.prompt_tokens for r in requests)
    out.read_rate = [read_rate(r) for r in requests]
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
