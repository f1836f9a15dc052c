"""A plugin that misbehaves on purpose, one way per name in $FAKE_MISBEHAVE
(comma-separated). With the variable unset it registers nothing and answers nothing.

- print: print() while registering, detecting and pricing (would corrupt `--json`)
- exit: sys.exit(3) inside a detector; exit-price: sys.exit(4) inside price_request
- nan: a detector yielding NaN dollars and infinite tokens (and one sound finding)
- huge: a detector claiming 10**30 tokens and $1e300 (finite, capped by the bill)
- hang: a detector that never returns; hang-price: a pricer that never returns
- swallow: a detector that never returns and catches every Exception it sees
- nan-price: a pricer answering NaN dollars
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tokentrail.hookspecs import Detector, hookimpl
from tokentrail.model import Price, Request, Session

DETECTOR_WAYS = ("print", "exit", "nan", "huge", "hang", "swallow")


def on(way: str) -> bool:
    return way in os.environ.get("FAKE_MISBEHAVE", "").split(",")


class Misbehaving:
    name = "misbehaving"

    def detect(self, session: Session, context: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        if on("print"):
            print(f"detecting {session.id}")
        if on("exit"):
            sys.exit(3)
        if on("hang"):
            while True:
                time.sleep(0.05)
        if on("swallow"):
            while True:
                with contextlib.suppress(Exception):  # catches everything it knows of
                    time.sleep(0.05)
        if on("nan"):
            yield {"title": "nan waste", "wasted_usd": float("nan"), "wasted_tokens": 5}
            yield {"title": "inf tokens", "wasted_tokens": float("inf"), "wasted_usd": 0.01}
            yield {"title": "sound finding", "wasted_tokens": 10, "wasted_usd": 0.000001}
        if on("huge"):
            yield {"title": "huge claim", "wasted_tokens": 10**30, "wasted_usd": 1e300}


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    if on("print"):
        print("registering the misbehaving detector")
    if any(on(way) for way in DETECTOR_WAYS):
        register(Misbehaving())


@hookimpl
def price_request(request: Request, config: Mapping[str, Any]) -> Price | None:
    if on("print"):
        print(f"pricing {request.model}")
    if on("exit-price"):
        sys.exit(4)
    if on("hang-price"):
        time.sleep(3600)
    if on("nan-price"):
        return Price(float("nan"), "misbehaving")
    return None
