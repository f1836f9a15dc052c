"""A small but real third-party tokentrail plugin, implementing every hook.

- adapter `fake-agent`: one session per `*.fake.jsonl` file in `$FAKE_AGENT_DIR`, one JSON
  object per line: {"ts": ISO time, "model": str, "in": int, "out": int} (optional "cwd",
  "branch").
- pricer: `fake-model-1` at a flat PRICE_PER_TOKEN; also any model named in
  `$FAKE_PRICE_ALSO` (comma-separated), so tests can show it outranks genai-prices.
  Everything else gets None, so the next pricer (genai-prices) still tries.
- renderer `csv`: the `sessions` document as CSV.
- detector `fake-long-session`: a finding when a session has more than N requests.

It uses only tokentrail's public plugin surface: `tokentrail.hookspecs`, `tokentrail.model`
and `tokentrail.thresholds`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from tokentrail.hookspecs import Adapter, Detector, Renderer, hookimpl
from tokentrail.model import Price, Request, Session, SessionRef, Usage
from tokentrail.thresholds import Threshold

AGENT = "fake-agent"
SUFFIX = ".fake.jsonl"
PRICED_MODEL = "fake-model-1"
PRICE_PER_TOKEN = 0.000002  # $2 per million tokens, input and output alike
PRICE_SOURCE = "tokentrail-fake-plugin"
LONG_SESSION_REQUESTS = 3  # default N for fake-long-session; config can override it


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class FakeAdapter:
    """Reads `*.fake.jsonl` files from the folder named by $FAKE_AGENT_DIR."""

    name = AGENT

    def roots(self) -> list[Path]:
        folder = os.environ.get("FAKE_AGENT_DIR")
        return [Path(folder)] if folder else []

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        # No cwd is cheap to read here, so every file is a candidate; the core filters
        # parsed sessions by their cwds when --repo is given.
        for root in self.roots():
            if not root.is_dir():
                continue
            for path in sorted(root.glob(f"*{SUFFIX}")):
                st = path.stat()
                yield SessionRef(
                    agent=AGENT,
                    id=path.name.removesuffix(SUFFIX),
                    path=path,
                    size=st.st_size,
                    mtime=st.st_mtime,
                )

    def parse(self, ref: SessionRef) -> Session:
        session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
        with ref.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    session.issues.bad_lines += 1
                    continue
                if not isinstance(obj, dict) or not isinstance(obj.get("model"), str):
                    session.issues.bad_lines += 1
                    continue
                ts = _parse_ts(obj.get("ts"))
                cwd = obj.get("cwd") if isinstance(obj.get("cwd"), str) else None
                branch = obj.get("branch") if isinstance(obj.get("branch"), str) else None
                session.requests.append(
                    Request(
                        key=f"{ref.id}:{number}",
                        timestamp=ts,
                        model=obj["model"],
                        usage=Usage(input=_count(obj.get("in")), output=_count(obj.get("out"))),
                        branch=branch,
                        cwd=cwd,
                    )
                )
                session.note_time(ts)
                session.note_place(cwd, branch)
        return session


class CsvRenderer:
    """`--format csv` for `tokentrail sessions`: one row per session."""

    name = "csv"
    columns = (
        "agent",
        "id",
        "start",
        "requests",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "unpriced_requests",
    )

    def render(self, doc: Mapping[str, Any]) -> str:
        if doc.get("kind") != "sessions":
            raise ValueError(f"the csv renderer draws `sessions` only, not {doc.get('kind')!r}")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in doc["sessions"]:
            writer.writerow(["" if row.get(c) is None else row[c] for c in self.columns])
        return out.getvalue()


class LongSessionDetector:
    """Flags sessions with more than N requests; the requests past N are the waste.

    N is the threshold `fake_long_session_requests` this detector declares: users set it
    under `thresholds:` in `.tokentrail.yml` like a built-in detector's.
    """

    name = "fake-long-session"
    thresholds: ClassVar[dict[str, Threshold]] = {
        "fake_long_session_requests": Threshold(
            LONG_SESSION_REQUESTS, "a session past this many requests should have been split"
        )
    }

    def detect(self, session: Session, context: Any) -> Iterator[dict[str, Any]]:
        limit = int(context["thresholds"]["fake_long_session_requests"])
        extra = list(enumerate(session.requests))[limit:]
        if not extra:
            return
        claims = {f"request:{i}": (r.usage.total, r.cost_usd or 0.0) for i, r in extra}
        yield {
            "detector": self.name,
            "title": f"{len(session.requests)} requests in one session (limit {limit})",
            "session": session.id,
            "evidence": [{"requests": len(session.requests), "limit": limit}],
            "wasted_tokens": sum(t for t, _ in claims.values()),
            "wasted_usd": sum(u for _, u in claims.values()),
            "confidence": 0.5,
            "lesson": f"Start a fresh session before {limit} requests.",
            "claims": claims,
        }


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    register(FakeAdapter())


@hookimpl
def register_renderers(register: Callable[[Renderer], None]) -> None:
    register(CsvRenderer())


@hookimpl
def register_detectors(register: Callable[[Detector], None]) -> None:
    register(LongSessionDetector())


@hookimpl
def price_request(request: Request, config: Mapping[str, Any]) -> Price | None:
    also = {m.strip() for m in os.environ.get("FAKE_PRICE_ALSO", "").split(",") if m.strip()}
    if request.model != PRICED_MODEL and request.model not in also:
        return None  # not ours: let genai-prices (or another plugin) answer
    return Price(request.usage.total * PRICE_PER_TOKEN, PRICE_SOURCE)
