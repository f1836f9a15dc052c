"""Model right-sizing: the premium model on calls with little output and no tool use (e.g.
subagent lookups); the estimate is the price difference to a smaller model of the same
family on the same tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Request, Session
from tokentrail.pricing import Pricer
from tokentrail.thresholds import Threshold

# family marker -> the smaller model priced instead (genai-prices ids)
SMALLER = (
    ("claude-opus", "claude-sonnet-4-5"),
    ("claude-sonnet", "claude-haiku-4-5"),
    ("codex-mini", ""),
    ("-mini", ""),
    ("-nano", ""),
    ("codex", "gpt-5.1-codex-mini"),
    ("gpt-5", "gpt-5-mini"),
)


def smaller_model(model: str) -> str | None:
    for marker, smaller in SMALLER:
        if marker in model:
            return smaller or None
    return None


def saving(request: Request, smaller: str, pricer: Pricer) -> float:
    here = pricer.cost(request.model, request.usage, request.timestamp)
    there = pricer.cost(smaller, request.usage, request.timestamp)
    if here is None or there is None:
        return 0.0
    return max(float(here - there), 0.0)


class ModelRightsizing:
    name = "model_rightsizing"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "rightsize_max_output": Threshold(
            300,
            "a call that writes under ~300 tokens and uses no tools is a lookup or a yes/no "
            "answer a smaller model gives as well",
        ),
        "rightsize_min_requests": Threshold(
            3,
            "one short premium call is not a pattern; three in one thread are",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        th = context["thresholds"]
        with_tools = {c.request_index for c in session.tool_calls}
        groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(session.requests):
            thread = r.subagent
            if thread is None or thread.startswith("acompact"):
                continue  # main-thread replies and compaction need the session's own model
            smaller = smaller_model(r.model)
            if smaller is None or i in with_tools or r.output_lower_bound:
                continue
            if r.usage.output > th.rightsize_max_output:
                continue
            groups.setdefault((thread, r.model), []).append(i)
        for (thread, model), idx in groups.items():
            if len(idx) < th.rightsize_min_requests:
                continue
            smaller = smaller_model(model) or ""
            claims = {
                f"request:{i}": (
                    session.requests[i].usage.total,
                    saving(session.requests[i], smaller, context.pricer),
                )
                for i in idx
            }
            usd = sum(u for _, u in claims.values())
            if usd <= 0:
                continue
            yield Finding(
                detector=self.name,
                title=f"{len(idx)} short {model} calls without tools in subagent {thread}",
                session=session.id,
                evidence=[{"turn": i, "model": model, "subagent": thread} for i in idx[:5]],
                wasted_tokens=sum(t for t, _ in claims.values()),
                wasted_usd=usd,
                confidence=0.4,
                measured=False,
                lesson=(
                    f"Run lookup subagents that write little and use no tools on {smaller} "
                    f"instead of {model}."
                ),
                claims=claims,
            )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(ModelRightsizing())
