"""Context bloat: a request whose context jumps far above the session's norm without a tool
result to explain it (pasted content, attachments, re-injected instruction files), or a
first request that is already oversized (large instruction files, MCP tool schemas). The
excess is carried by every later request of the thread; that carry is the estimate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

from tokentrail.carry import SessionCarry
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Session
from tokentrail.thresholds import Threshold


def _carry(carry: SessionCarry, idx: list[int], pos: int, end: int, tokens: int) -> float:
    return sum(carry.read_rate[i] for i in idx[pos:end]) * tokens


class ContextBloat:
    name = "context_bloat"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "bloat_jump_tokens": Threshold(
            20000,
            "a jump of ~20k tokens that no tool result explains is a pasted file, an attachment "
            "or a re-injected instruction file",
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
            for pos, i in enumerate(idx):
                end = len(idx)
                if thread is None:
                    nxt = [c for c in cuts if c > i]
                    end = next((p for p, j in enumerate(idx) if nxt and j >= nxt[0]), len(idx))
                later = max(end - pos - 1, 0)
                prompt = reqs[i].usage.prompt_tokens
                if pos == 0:
                    excess = prompt - th.bloat_base_tokens
                    kind = "first request"
                else:
                    p = idx[pos - 1]
                    if thread is None and any(p < c <= i for c in cuts):
                        continue
                    if reqs[p].usage.output == 0 or reqs[p].output_lower_bound:
                        continue  # the previous reply's real size is unknown
                    excess = (
                        prompt
                        - reqs[p].usage.prompt_tokens
                        - reqs[p].usage.output
                        - entering.get(i, 0)
                    )
                    kind = "jump"
                    if excess < th.bloat_jump_tokens:
                        continue
                if excess <= 0 or later == 0:
                    continue
                usd = _carry(carry, idx, pos + 1, end, excess)
                where = "main thread" if thread is None else f"subagent {thread}"
                title = (
                    f"first request of the {where} sent {prompt:,} tokens"
                    if kind == "first request"
                    else f"context jumped by {excess:,} tokens at request {i} with no tool result"
                )
                yield Finding(
                    detector=self.name,
                    title=title,
                    session=session.id,
                    evidence=[{"turn": i, "context_tokens": prompt, "excess_tokens": excess}],
                    wasted_tokens=excess * later,
                    wasted_usd=usd,
                    confidence=0.4,
                    measured=kind == "jump",
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
