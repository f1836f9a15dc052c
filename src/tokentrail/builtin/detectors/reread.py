"""Re-read: the same file read again with no write to it in between."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from tokentrail.builtin.detectors import carry_of, evidence, read_targets, threads
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Session, ToolCall
from tokentrail.thresholds import Threshold

LESSON = (
    "Don't re-read a file you have not changed since the last read; use the copy already "
    "in context, or read only the lines you need."
)


class ReRead:
    name = "reread"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "reread_min_tokens": Threshold(
            500,
            "a duplicate smaller than a screenful costs cents; below this the finding is noise",
        ),
        "reread_same_size_ratio": Threshold(
            0.1,
            "two reads of one file count as the same copy only when their sizes differ by at most "
            "this share (Read with offset/limit reads different parts)",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        cuts = sorted(c.request_index for c in session.compactions)
        for thread, calls in threads(session).items():
            last_read: dict[str, ToolCall] = {}
            dupes: dict[str, list[ToolCall]] = {}
            for call in calls:
                if call.writes or call.is_error:
                    for f in call.files:
                        last_read.pop(f, None)
                    continue
                for f in read_targets(call):
                    prev = last_read.get(f)
                    compacted = thread is None and any(
                        prev is not None and prev.request_index < c <= call.request_index
                        for c in cuts
                    )
                    if prev is not None and not compacted and _same(prev, call, th):
                        dupes.setdefault(f, [prev]).append(call)
                    last_read[f] = call
            for path, copies in dupes.items():
                finding = self._finding(session, carry, th, path, copies)
                if finding is not None:
                    yield finding

    def _finding(
        self, session: Session, carry: Any, th: Any, path: str, copies: list[ToolCall]
    ) -> Finding | None:
        claims: dict[str, tuple[int, float]] = {}
        measured = True
        for c in copies[1:]:
            item = carry_of(carry, c)
            if item is None or item.size_tokens < th.reread_min_tokens:
                continue
            claims[f"carry:{c.id}"] = (item.carry_tokens, item.carry_usd)
            measured = measured and item.measured
        if not claims:
            return None
        name = path.rsplit("/", 1)[-1]
        return Finding(
            detector=self.name,
            title=f"{name} read {len(copies)} times without a change in between",
            session=session.id,
            evidence=[evidence(c) for c in copies[:6]],
            wasted_tokens=sum(t for t, _ in claims.values()),
            wasted_usd=sum(u for _, u in claims.values()),
            confidence=0.8 if measured else 0.6,
            measured=measured,
            lesson=LESSON,
            claims=claims,
        )


def _same(a: ToolCall, b: ToolCall, th: Any) -> bool:
    """Same part of the file: Read with offset/limit gives different sizes."""
    big = max(a.result_chars, b.result_chars, 1)
    return bool(abs(a.result_chars - b.result_chars) <= th.reread_same_size_ratio * big)


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(ReRead())
