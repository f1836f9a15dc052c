"""Noisy output: a command or search result far larger than anyone needs (test, build,
install and search logs); its carry beyond a truncated size is the waste."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import ClassVar

from tokentrail.builtin.detectors import (
    READ_TOOLS,
    carry_of,
    command_head,
    evidence,
    is_search,
    read_targets,
)
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Session
from tokentrail.thresholds import Threshold

TRUNCATED = re.compile(r"\|\s*(head|tail)\b|\|\s*(wc|grep -c)\b|--quiet\b|\s-q\b")


class NoisyOutput:
    name = "noisy_output"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "noisy_min_tokens": Threshold(
            8000,
            "a command or search result above ~8k tokens (~23k characters) is a full log, not an "
            "answer; real corpus results of useful commands stay well below it",
        ),
        "noisy_keep_tokens": Threshold(
            2000,
            "what a truncated result (`| tail -80`, `head -100`) would have kept; only the carry "
            "beyond it is counted",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        for call in session.tool_calls:
            if call.name in READ_TOOLS or read_targets(call) or call.writes:
                continue  # reading a file is not output noise (see generated_read, reread)
            if not (call.command or is_search(call)):
                continue
            if call.command and TRUNCATED.search(call.command):
                continue  # already trimmed: the lesson would not help
            item = carry_of(carry, call)
            if item is None or item.size_tokens < th.noisy_min_tokens:
                continue
            tokens, usd = item.share(item.size_tokens - th.noisy_keep_tokens)
            if call.command:
                head = command_head(call.command)
                lesson = f"Run `{head}` with its output trimmed, e.g. `{head} 2>&1 | tail -40`."
            else:
                head = call.name
                lesson = (
                    f"Narrow {call.name} searches (a path, a glob, a result limit) before "
                    "running them; every later request re-sends the whole result."
                )
            yield Finding(
                detector=self.name,
                title=(
                    f"`{head}` put {item.size_tokens:,} tokens into the context, re-sent "
                    f"{item.carried_requests} times"
                ),
                session=session.id,
                evidence=[evidence(call) | {"result_tokens": item.size_tokens}],
                wasted_tokens=tokens,
                wasted_usd=usd,
                confidence=0.7 if item.measured else 0.5,
                measured=item.measured,
                lesson=lesson,
                claims={f"carry:{call.id}": (tokens, usd)},
            )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(NoisyOutput())
