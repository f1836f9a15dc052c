"""Lockfile / generated artifact read: lockfiles, minified bundles, snapshots, fixtures and
generated code read whole into the context."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import ClassVar

from tokentrail.builtin.detectors import carry_of, evidence, read_targets
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
GENERATED = re.compile(
    r"(\.min\.(js|css)$|\.map$|\.snap$|__snapshots__/|/fixtures?/|/generated/|_pb2\.py$"
    r"|\.pb\.go$|\.g\.dart$|/dist/|/build/|/vendor/|/node_modules/|\.lock$)",
    re.IGNORECASE,
)


def kind_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    if name in LOCKFILES:
        return "lockfile"
    if GENERATED.search("/" + path.lstrip("/")):
        return "generated file"
    return None


class GeneratedRead:
    name = "generated_read"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "generated_min_tokens": Threshold(
            300,
            "reading a few lines of a lockfile to check a version is fine; whole files are not",
        ),
    }

    def detect(self, session: Session, context: DetectContext) -> Iterator[Finding]:
        carry, th = context["carry"], context["thresholds"]
        for call in session.tool_calls:
            for path in read_targets(call):
                kind = kind_of(path)
                item = carry_of(carry, call)
                if kind is None or item is None or item.size_tokens < th.generated_min_tokens:
                    continue
                name = path.rsplit("/", 1)[-1]
                yield Finding(
                    detector=self.name,
                    title=f"{kind} {name} ({item.size_tokens:,} tokens) read into the context",
                    session=session.id,
                    evidence=[evidence(call) | {"file": path[-200:]}],
                    wasted_tokens=item.carry_tokens,
                    wasted_usd=item.carry_usd,
                    confidence=0.8 if kind == "lockfile" else 0.4,
                    measured=item.measured,
                    lesson=(
                        f"Never read `{name}` whole; grep it for the entry you need."
                        if kind == "lockfile"
                        else "Don't read generated, minified, snapshot or fixture files "
                        "whole; grep them or read the source they come from."
                    ),
                    claims={f"carry:{call.id}": (item.carry_tokens, item.carry_usd)},
                )
                break


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(GeneratedRead())
