"""Retry loop: the same call with identical arguments failing again, nothing new between.

A successful call in between (an edit that landed, a command that worked) means the agent
changed something before trying again, so it breaks the run; failed edits do not (they are
edit_cascade's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from tokentrail.builtin.detectors import carry_claims, command_head, evidence, threads
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Session, ToolCall
from tokentrail.thresholds import Threshold


def _key(call: ToolCall) -> tuple[str, str]:
    return call.name, call.command or call.summary


class RetryLoop:
    name = "retry_loop"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "retry_min_failures": Threshold(
            2,
            "the same call failing twice with nothing in between is already a loop: the second "
            "failure brought no new evidence",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        for calls in threads(session).values():
            run: list[ToolCall] = []
            for call in [*calls, None]:
                if call is not None and call.writes and call.is_error:
                    continue  # failed edits change nothing (and are edit_cascade's)
                if call is not None and call.is_error and run and _key(call) == _key(run[0]):
                    run.append(call)
                    continue
                if len(run) >= th.retry_min_failures and _key(run[0])[1]:
                    yield self._finding(session, carry, run)
                run = [call] if call is not None and call.is_error else []

    def _finding(self, session: Session, carry: Any, run: list[ToolCall]) -> Finding:
        first = run[0]
        repeats = run[1:]
        tokens, usd, claims = carry_claims(carry, repeats)
        measured = all((i := carry.item(c.id)) is not None and i.measured for c in repeats)
        what = command_head(first.command) if first.command else first.name
        return Finding(
            detector=self.name,
            title=f"{first.name} `{what}` failed {len(run)} times in a row unchanged",
            session=session.id,
            evidence=[evidence(c) | {"error": bool(c.is_error)} for c in run[:5]],
            wasted_tokens=tokens,
            wasted_usd=usd,
            confidence=0.9,
            measured=measured,
            lesson=(
                f"When `{what}` fails, read the error and change something before running "
                "it again; never re-run a failing call unchanged."
            ),
            claims=claims,
        )


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(RetryLoop())
