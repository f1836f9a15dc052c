"""Edit cascade: repeated failed edits on the same file without reading it in between
(editing blind). A successful read of the file starts the count again: after it the agent
was not blind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

from tokentrail.builtin.detectors import carry_claims, evidence, read_targets, threads
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Session, ToolCall
from tokentrail.thresholds import Threshold

LESSON = (
    "After an edit fails, re-read the lines you are changing before the next edit; "
    "never retry an edit blind."
)


class EditCascade:
    name = "edit_cascade"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "edit_cascade_min_failures": Threshold(
            3,
            "one failed edit (stale old_string) is normal; a third failure on one file means the "
            "agent is editing blind instead of re-reading the file once",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        for calls in threads(session).values():
            failed: dict[str, list[ToolCall]] = {}
            for call in calls:
                if not call.writes:
                    if not call.is_error:
                        for f in read_targets(call):
                            if len(failed.get(f, ())) < th.edit_cascade_min_failures:
                                failed.pop(f, None)  # re-read before the cascade built up
                    continue
                for f in call.files[:1]:
                    if call.is_error:
                        failed.setdefault(f, []).append(call)
                    elif len(failed.get(f, ())) < th.edit_cascade_min_failures:
                        failed.pop(f, None)  # an edit landed before the cascade built up
            for path, fails in failed.items():
                if len(fails) < th.edit_cascade_min_failures:
                    continue
                tokens, usd, claims = carry_claims(carry, fails[1:])
                yield Finding(
                    detector=self.name,
                    title=f"{len(fails)} failed edits on {path.rsplit('/', 1)[-1]}",
                    session=session.id,
                    evidence=[evidence(c) for c in fails[:6]],
                    wasted_tokens=tokens,
                    wasted_usd=usd,
                    confidence=0.7,
                    measured=False,  # the failed edits' own arguments are not in the log model
                    lesson=LESSON,
                    claims=claims,
                )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(EditCascade())
