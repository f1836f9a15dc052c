"""Error churn: the same class of error on consecutive calls (different arguments, same
wall), i.e. varying the attempt instead of changing the approach. A run of one call repeated
unchanged is retry_loop's, failed edits of one file are edit_cascade's: neither is counted
twice."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from tokentrail.builtin.detectors import carry_claims, evidence, redact, threads
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Session, ToolCall
from tokentrail.thresholds import Threshold

LESSON = (
    "When the same error comes back three times, stop and change the approach (read the "
    "code or docs behind it) instead of trying variations."
)
_VARIABLE = re.compile(r"(['\"`]).*?\1|/\S+|\b\d+\b|0x[0-9a-f]+", re.IGNORECASE)


# Errors that are a consequence of another call failing, not an error of their own.
_KNOCK_ON = ("sibling tool call errored", "user doesn't want to proceed", "interrupted")


def error_class(call: ToolCall) -> str:
    """The error without its specifics (paths, quoted names, numbers); "" when the error
    only echoes another call's failure."""
    if any(k in (call.error_head or "").lower() for k in _KNOCK_ON):
        return ""
    head = _VARIABLE.sub("…", call.error_head or "")
    return " ".join(head.split())[:80].lower()


def _varied(run: list[ToolCall]) -> bool:
    """The attempts differ: not one call repeated (retry_loop) and not failed edits of one
    file (edit_cascade)."""
    if len({(c.name, c.command or c.summary) for c in run}) == 1:
        return False
    return not (all(c.writes for c in run) and len({c.files[:1] for c in run}) == 1)


class ErrorChurn:
    name = "error_churn"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "error_churn_min_run": Threshold(
            3,
            "three consecutive calls failing with the same error class means the approach, not "
            "the arguments, is wrong",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        for calls in threads(session).values():
            run: list[ToolCall] = []
            for call in [*calls, None]:
                if (
                    call is not None
                    and call.is_error
                    and run
                    and error_class(call) == error_class(run[0])
                ):
                    run.append(call)
                    continue
                if len(run) >= th.error_churn_min_run and error_class(run[0]) and _varied(run):
                    yield self._finding(session, carry, run)
                run = [call] if call is not None and call.is_error else []

    def _finding(self, session: Session, carry: Any, run: list[ToolCall]) -> Finding:
        tokens, usd, claims = carry_claims(carry, run[1:])
        return Finding(
            detector=self.name,
            title=f"{len(run)} consecutive calls failed with: {redact(error_class(run[0]), 60)}",
            session=session.id,
            evidence=[evidence(c) for c in run[:6]],
            wasted_tokens=tokens,
            wasted_usd=usd,
            confidence=0.6,
            measured=False,
            lesson=LESSON,
            claims=claims,
        )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(ErrorChurn())
