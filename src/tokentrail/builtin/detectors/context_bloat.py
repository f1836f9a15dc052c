"""Context bloat: a prompt that pasted a lot into the context (a whole file, a log), or a
first request that is already oversized (large instruction files, MCP tool schemas). The
excess is carried by every later request of the thread; that carry is the estimate.

Precision over recall: a jump in context is a finding only when the log shows what made it,
a user prompt of about that size. Agents also add context the log does not show (Codex
re-injects its instructions and reasoning at a new turn; attachments): an unexplained jump
is not called a pasted file.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import ClassVar

from tokentrail.carry import SessionCarry
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import CHARS_PER_TOKEN, PROMPT_USER, Finding, Session
from tokentrail.thresholds import Threshold

# A prompt explains a jump when it is at least this share of the jump's size.
EXPLAINED_SHARE = 0.5


def _carry(carry: SessionCarry, idx: list[int], pos: int, end: int, tokens: int) -> float:
    return sum(carry.read_rate[i] for i in idx[pos:end]) * tokens


def _prompt_tokens(
    times: list[datetime], sizes: list[int], after: datetime | None, upto: datetime | None
) -> int:
    """Tokens of the user prompts typed in (after, upto]."""
    if after is None or upto is None:
        return 0
    lo, hi = bisect_right(times, after), bisect_right(times, upto)
    return round(sum(sizes[lo:hi]) / CHARS_PER_TOKEN)


class ContextBloat:
    name = "context_bloat"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "bloat_jump_tokens": Threshold(
            20000,
            "a prompt that adds ~20k tokens (a pasted file or log) is carried by every later "
            "request; smaller pastes are ordinary context",
        ),
        "bloat_base_tokens": Threshold(
            45000,
            "Claude Code's own system prompt and tools are ~15-25k tokens; a first request above "
            "45k carries oversized instruction files or MCP tool schemas",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry: SessionCarry = context["carry"]
        th = context["thresholds"]
        reqs = session.requests
        cuts = sorted(c.request_index for c in session.compactions)
        typed = sorted(
            (p.timestamp, p.chars)
            for p in session.prompts
            if p.kind == PROMPT_USER and p.timestamp is not None
        )
        times, sizes = [t for t, _ in typed], [n for _, n in typed]
        entering: dict[int, int] = {}
        for item in carry.items:
            if item.enters_at is not None:
                entering[item.enters_at] = entering.get(item.enters_at, 0) + item.size_tokens
        threads: dict[str | None, list[int]] = {}
        for i, r in enumerate(reqs):
            threads.setdefault(r.subagent, []).append(i)
        for thread, idx in threads.items():
            if thread is not None and thread.startswith("acompact"):
                continue  # a compaction call re-reads the conversation by design
            # end[pos]: the thread position where the context of position pos is cut
            ends = [len(idx)] * len(idx)
            if thread is None and cuts:
                for pos, i in enumerate(idx):
                    nxt = bisect_right(cuts, i)
                    if nxt < len(cuts):
                        ends[pos] = bisect_left(idx, cuts[nxt])
            for pos, i in enumerate(idx):
                end = ends[pos]
                later = max(end - pos - 1, 0)
                prompt = reqs[i].usage.prompt_tokens
                if pos == 0:
                    excess = prompt - th.bloat_base_tokens
                    kind = "first request"
                    pasted = 0
                else:
                    p = idx[pos - 1]
                    if thread is None and bisect_left(cuts, p + 1) < bisect_right(cuts, i):
                        continue
                    if reqs[p].usage.output == 0 or reqs[p].output_lower_bound:
                        continue  # the previous reply's real size is unknown
                    excess = (
                        prompt
                        - reqs[p].usage.prompt_tokens
                        - reqs[p].usage.output
                        - entering.get(i, 0)
                    )
                    kind = "prompt"
                    if excess < th.bloat_jump_tokens or thread is not None:
                        continue
                    pasted = _prompt_tokens(times, sizes, reqs[p].timestamp, reqs[i].timestamp)
                    if pasted < EXPLAINED_SHARE * excess:
                        continue  # the log does not show what added it
                    excess = min(excess, pasted)
                if excess <= 0 or later == 0:
                    continue
                usd = _carry(carry, idx, pos + 1, end, excess)
                where = "main thread" if thread is None else f"subagent {thread}"
                title = (
                    f"first request of the {where} sent {prompt:,} tokens"
                    if kind == "first request"
                    else f"a prompt of ~{pasted:,} tokens at request {i} (pasted content)"
                )
                yield Finding(
                    detector=self.name,
                    title=title,
                    session=session.id,
                    evidence=[{"turn": i, "context_tokens": prompt, "excess_tokens": excess}],
                    wasted_tokens=excess * later,
                    wasted_usd=usd,
                    confidence=0.4,
                    measured=kind == "prompt",
                    lesson=(
                        "Trim instruction files (CLAUDE.md / AGENTS.md) and unused MCP servers: "
                        "every request re-sends them."
                        if kind == "first request"
                        else "Don't paste whole files or logs into the prompt; give the path and "
                        "let the agent read the lines it needs."
                    ),
                    claims={f"bloat:{i}": (excess * later, usd)},
                )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(ContextBloat())
