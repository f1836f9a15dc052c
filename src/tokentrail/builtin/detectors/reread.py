"""Re-read: lines of a file read again while an unchanged copy of them is still in the
context (no write to the file, no compaction in between). Reads with offset/limit put only
their lines into the context, so two different windows of one file are not a re-read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
# A later read is a copy when at least this share of its lines is already in the context.
COVERED_SHARE = 0.9
OPEN_END = 10**9  # the last line of a read with an offset and no limit (toolcalls.read_range)


@dataclass
class _InContext:
    """What of one file the context holds since its last change: a whole copy (the call
    that read it) and/or ranges of lines."""

    whole: ToolCall | None = None
    ranges: list[tuple[int, int, ToolCall]] = field(default_factory=list)

    def covering(self, call: ToolCall, th: Any) -> ToolCall | None:
        """The earlier read this one repeats, or None when it brings new lines."""
        if call.read_range is None:
            whole = self.whole
            return whole if whole is not None and _same_size(whole, call, th) else None
        if self.whole is not None:
            return self.whole
        first, last = call.read_range
        if last >= OPEN_END:  # "from line N on": only an earlier open read from before N holds it
            return next((e for a, b, e in self.ranges if b >= OPEN_END and a <= first), None)
        want = last - first + 1
        seen = 0
        source = None
        for a, b, earlier in self.ranges:
            overlap = min(b, last) - max(a, first) + 1
            if overlap > 0:
                seen += overlap
                source = source or earlier
        return source if seen >= COVERED_SHARE * want else None

    def add(self, call: ToolCall) -> None:
        if call.read_range is None:
            self.whole, self.ranges = call, []
        else:
            self.ranges.append((*call.read_range, call))


class ReRead:
    name = "reread"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "reread_min_tokens": Threshold(
            500,
            "a duplicate smaller than a screenful costs cents; below this the finding is noise",
        ),
        "reread_same_size_ratio": Threshold(
            0.1,
            "two whole reads of one file count as the same copy only when their sizes differ by "
            "at most this share (something else changed the file otherwise)",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        cuts = sorted(c.request_index for c in session.compactions)
        for thread, calls in threads(session).items():
            held: dict[str, _InContext] = {}
            dupes: dict[str, list[ToolCall]] = {}  # per file: the repeats
            shown: dict[str, list[ToolCall]] = {}  # per file: originals and repeats, in order
            cut = 0
            for call in calls:
                if thread is None and cut < len(cuts) and cuts[cut] <= call.request_index:
                    while cut < len(cuts) and cuts[cut] <= call.request_index:
                        cut += 1
                    held.clear()  # summarised away: reading it again is not a duplicate
                if call.writes or call.is_error:
                    for f in call.files:
                        held.pop(f, None)
                    continue
                for f in read_targets(call):
                    state = held.setdefault(f, _InContext())
                    earlier = state.covering(call, th)
                    if earlier is not None:
                        dupes.setdefault(f, []).append(call)
                        calls_shown = shown.setdefault(f, [])
                        if earlier not in calls_shown:
                            calls_shown.append(earlier)
                        calls_shown.append(call)
                    state.add(call)
            for path, repeats in dupes.items():
                finding = self._finding(session, carry, th, path, repeats, shown[path])
                if finding is not None:
                    yield finding

    def _finding(
        self,
        session: Session,
        carry: Any,
        th: Any,
        path: str,
        repeats: list[ToolCall],
        copies: list[ToolCall],
    ) -> Finding | None:
        claims: dict[str, tuple[int, float]] = {}
        measured = True
        for c in repeats:
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
            title=f"{name} read again without a change in between ({len(claims)}×)",
            session=session.id,
            evidence=[_evidence(c) for c in copies[:6]],
            wasted_tokens=sum(t for t, _ in claims.values()),
            wasted_usd=sum(u for _, u in claims.values()),
            confidence=0.8 if measured else 0.6,
            measured=measured,
            lesson=LESSON,
            claims=claims,
        )


def _evidence(call: ToolCall) -> dict[str, Any]:
    out = evidence(call)
    if call.read_range is not None:
        first, last = call.read_range
        out["lines"] = f"{first}-{last}" if last < OPEN_END else f"{first}-"
    return out


def _same_size(a: ToolCall, b: ToolCall, th: Any) -> bool:
    """Two whole reads hold the same copy when their sizes agree (a formatter or a command
    may have changed the file without a write tool)."""
    big = max(a.result_chars, b.result_chars, 1)
    return bool(abs(a.result_chars - b.result_chars) <= th.reread_same_size_ratio * big)


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(ReRead())
