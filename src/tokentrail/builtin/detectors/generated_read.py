"""Lockfile / generated artifact read: lockfiles, minified bundles, build output, vendored
code, snapshots and fixtures read whole into the context.

Only what a grep or a `head` would not have needed is claimed (the carry beyond
`generated_keep_tokens`), and a file the session goes on to edit, or test data (fixtures,
snapshots) the session then tests against (it writes a test or runs the tests afterwards),
is work, not waste."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import ClassVar

from tokentrail.builtin.detectors import carry_of, command_head, evidence, read_targets
from tokentrail.detect import DetectContext
from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Finding, Session
from tokentrail.thresholds import Threshold

LOCKFILES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "bun.lock",
    "poetry.lock",
    "uv.lock",
    "pipfile.lock",
    "cargo.lock",
    "gemfile.lock",
    "composer.lock",
    "go.sum",
    "mix.lock",
    "flake.lock",
    "podfile.lock",
    "packages.lock.json",
}
KINDS = (
    ("test data", re.compile(r"(\.snap$|__snapshots__/|/fixtures?/|/testdata/)", re.I)),
    ("minified file", re.compile(r"(\.min\.(js|css)$|\.map$)", re.I)),
    ("generated file", re.compile(r"(/generated/|_pb2\.py$|\.pb\.go$|\.g\.dart$|\.lock$)", re.I)),
    ("build output", re.compile(r"(/dist/|/build/)", re.I)),
    ("vendored file", re.compile(r"(/vendor/|/node_modules/)", re.I)),
)
TEST_FILE = re.compile(
    r"((^|/)(tests?|spec|__tests__)/|_test\.\w+$|\.test\.\w+$|\.spec\.\w+$|(^|/)test_[^/]*$)"
)
TEST_COMMAND = re.compile(
    r"\b(test|tests|pytest|jest|vitest|mocha|rspec|phpunit|ctest|tox|nox)\b", re.I
)


def kind_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    if name in LOCKFILES:
        return "lockfile"
    probe = "/" + path.lstrip("/")
    for kind, pattern in KINDS:
        if pattern.search(probe):
            return kind
    return None


def _last_test(session: Session) -> int:
    """The last request that wrote a test or ran the tests (-1: none): test data read before
    it was what the work needed."""
    last = -1
    for call in session.tool_calls:
        wrote_test = (
            call.writes and not call.is_error and any(TEST_FILE.search(f) for f in call.files)
        )
        ran_tests = bool(call.command and TEST_COMMAND.search(command_head(call.command)))
        if wrote_test or ran_tests:
            last = max(last, call.request_index)
    return last


def _last_edits(session: Session) -> dict[str, int]:
    """Per file, the last request whose edit of it landed."""
    out: dict[str, int] = {}
    for call in session.tool_calls:
        if call.writes and not call.is_error:
            for f in call.files:
                out[f] = max(out.get(f, -1), call.request_index)
    return out


class GeneratedRead:
    name = "generated_read"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "generated_min_tokens": Threshold(
            300,
            "reading a few lines of a lockfile to check a version is fine; whole files are not",
        ),
        "generated_keep_tokens": Threshold(
            500,
            "what a grep for the entry or a `head -40` of the file would have put in the "
            "context; only the carry beyond it is claimed",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        last_test, last_edit = _last_test(session), _last_edits(session)
        for call in session.tool_calls:
            if call.read_range is not None:
                continue  # a window of the file is what a head would have given
            for path in read_targets(call):
                kind = kind_of(path)
                item = carry_of(carry, call)
                if kind is None or item is None or item.size_tokens < th.generated_min_tokens:
                    continue
                if last_edit.get(path, -1) >= call.request_index:
                    continue  # the work was on this file
                if kind == "test data" and last_test >= call.request_index:
                    continue  # the session tested against it
                tokens, usd = item.share(item.size_tokens - th.generated_keep_tokens)
                if tokens <= 0:
                    continue
                name = path.rsplit("/", 1)[-1]
                yield Finding(
                    detector=self.name,
                    title=f"{kind} {name} ({item.size_tokens:,} tokens) read whole",
                    session=session.id,
                    evidence=[evidence(call) | {"file": path[-200:]}],
                    wasted_tokens=tokens,
                    wasted_usd=usd,
                    confidence=0.8 if kind == "lockfile" else 0.5,
                    measured=item.measured,
                    lesson=(
                        f"Never read `{name}` whole; grep it for the entry you need."
                        if kind == "lockfile"
                        else "Don't read generated, minified, vendored or build-output files "
                        "whole; grep them or read the source they come from."
                    ),
                    claims={f"carry:{call.id}": (tokens, usd)},
                )
                break


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(GeneratedRead())
