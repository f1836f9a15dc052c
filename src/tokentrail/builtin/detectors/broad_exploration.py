"""Broad exploration: many files read or searched in the main thread that the session
never edits. Reads beyond an ordinary orientation allowance are the estimate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

from tokentrail.builtin.detectors import carry_claims, evidence, read_targets, threads
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Session, ToolCall
from tokentrail.thresholds import Threshold

LESSON = (
    "Explore with a subagent or grep for the symbol instead of reading many files into the "
    "main context; only what you will change needs to be read whole."
)


class BroadExploration:
    name = "broad_exploration"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "broad_min_unused_files": Threshold(
            25,
            "reading up to ~25 files a session never edits is ordinary orientation",
        ),
        "broad_unused_share": Threshold(
            0.8,
            "only when at least this share of all files read is never edited is it exploration "
            "rather than work",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        written = {f for c in session.tool_calls if c.writes and not c.is_error for f in c.files}
        calls = threads(session).get(None, [])
        reads: dict[str, ToolCall] = {}
        for call in calls:
            for f in read_targets(call):
                reads.setdefault(f, call)
        unused = {f: c for f, c in reads.items() if f not in written}
        if len(unused) < th.broad_min_unused_files or not reads:
            return
        if len(unused) / len(reads) < th.broad_unused_share:
            return
        beyond = list(unused.values())[th.broad_min_unused_files :]
        tokens, usd, claims = carry_claims(carry, beyond)
        if not claims:
            return
        yield Finding(
            detector=self.name,
            title=f"{len(unused)} of {len(reads)} files read in the main thread were never edited",
            session=session.id,
            evidence=[evidence(c) for c in beyond[:5]],
            wasted_tokens=tokens,
            wasted_usd=usd,
            confidence=0.3,
            measured=False,
            lesson=LESSON,
            claims=claims,
        )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(BroadExploration())
