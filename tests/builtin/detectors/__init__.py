"""A small builder of sessions from the model's own dataclasses, for detector tests.

Context sizes follow what an agent really sends: each request re-sends the previous one's
context plus its reply and the results of the tools it asked for, so carry sizes measured
from the context jumps equal the results' sizes.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import CORPUS, claude_config_from_corpus
from tokentrail.builtin.price_genai import cost_of
from tokentrail.carry import SessionCarry, combine, compute, summary
from tokentrail.catalog import SessionFilter
from tokentrail.cause import likely_cause
from tokentrail.detect import Analysis, DetectContext, analyze
from tokentrail.model import Compaction, Finding, Request, Session, ToolCall, Usage
from tokentrail.pipeline import load_sessions
from tokentrail.plugins import get_plugin_manager
from tokentrail.pricing import Pricer
from tokentrail.privacy import portable
from tokentrail.thresholds import declared, load_thresholds

START = datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc)


def call(
    name: str,
    *,
    command: str | None = None,
    files: tuple[str, ...] = (),
    tokens: int = 300,
    error: str | None = None,
    writes: bool = False,
) -> ToolCall:
    return ToolCall(
        id="",
        name=name,
        request_index=-1,
        timestamp=None,
        summary=command or ", ".join(files),
        command=command,
        files=files,
        result_chars=round((tokens - 100) * 2.85),
        result_tokens=tokens,
        is_error=error is not None,
        error_head=error or "",
        writes=writes,
    )


@dataclass
class Build:
    model: str = "claude-sonnet-4-5"
    base: int = 20000  # first request's context (system prompt, tools, instructions)
    requests: list[Request] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    compactions: list[Compaction] = field(default_factory=list)
    _last: dict[str | None, int] = field(default_factory=dict)
    _entered: dict[int, int] = field(default_factory=dict)  # request -> its results' tokens
    _now: datetime = START

    def turn(
        self,
        *calls: ToolCall,
        output: int = 200,
        gap_min: float = 0.2,
        model: str | None = None,
        subagent: str | None = None,
        extra: int = 0,
        rewrite: bool = False,
        lower_bound: bool = False,
    ) -> int:
        """One request that asks for `calls`; `extra` tokens enter without a tool result."""
        self._now += timedelta(minutes=gap_min)
        prev = self._last.get(subagent)
        if prev is None:
            prompt, new = self.base + extra, self.base + extra
        else:
            p = self.requests[prev]
            entered = self._entered.get(prev, 0)
            new = p.usage.output + entered + extra
            prompt = p.usage.prompt_tokens + new
        write = prompt - 3 if rewrite else min(new, prompt - 3)
        usage = Usage(input=3, cache_read=prompt - 3 - write, cache_write_5m=write, output=output)
        index = len(self.requests)
        m = model or self.model
        cost = cost_of(m, usage, self._now)
        self.requests.append(
            Request(
                key=f"r{index}",
                timestamp=self._now,
                model=m,
                usage=usage,
                branch="main",
                subagent=subagent,
                output_lower_bound=lower_bound,
                cost_usd=None if cost is None else float(cost),
            )
        )
        self._last[subagent] = index
        for c in calls:
            c.id = f"call{len(self.calls)}"
            self._entered[index] = self._entered.get(index, 0) + c.result_tokens
            c.request_index = index
            c.timestamp = self._now
            c.subagent = subagent
            self.calls.append(c)
        return index

    def turns(self, n: int, **kw: Any) -> None:
        for _ in range(n):
            self.turn(**kw)

    def compact(self) -> None:
        self.compactions.append(Compaction(self._now, "auto", None, len(self.requests)))
        self._last.pop(None, None)

    def session(self, sid: str = "s1") -> Session:
        s = Session(agent="claude-code", id=sid, paths=(Path("/dev/null"),), cwd="/work/app")
        s.requests, s.tool_calls, s.compactions = self.requests, self.calls, self.compactions
        s.start, s.end = START, self._now
        return s


def pricer(config: dict[str, Any] | None = None) -> Pricer:
    """The price stage as a run builds it (config overrides, then genai-prices)."""
    return Pricer(get_plugin_manager(), config or {})


def context(session: Session, **thresholds: Any) -> DetectContext:
    """What the detect step hands a detector: built-in thresholds with these overrides."""
    config = {"thresholds": thresholds}
    known = declared(d for _, d in get_plugin_manager().detectors())
    prices = pricer(config)
    return DetectContext(compute(session, prices), load_thresholds(config, known), config, prices)


def run(detector: Any, session: Session, **thresholds: Any) -> list[Any]:
    return list(detector.detect(session, context(session, **thresholds)))


@dataclass(frozen=True)
class CorpusRun:
    """Every real corpus session through the pipeline (parse, price, detect), once per run."""

    sessions: dict[str, Session]
    analysis: Analysis
    pricer: Pricer
    problems: list[str]  # plugin failures while parsing and detecting

    def session(self, prefix: str) -> Session:
        [found] = [s for sid, s in self.sessions.items() if sid.startswith(prefix)]
        return found

    def findings(self, prefix: str) -> list[Finding]:
        sid = self.session(prefix).id
        return [f for f in self.analysis.findings if f.session == sid]

    def carry(self, prefix: str) -> SessionCarry:
        return self.analysis.carry[self.session(prefix).id]

    def cause(self, prefix: str) -> str:
        """The likely cause as a receipt of this one session derives it (its strings made
        portable, paths relative to where the agent ran)."""
        root = Path(self.session(prefix).cwd or "/")
        carry = combine([portable(summary(self.carry(prefix)), root)])
        return likely_cause([f.to_dict() for f in self.findings(prefix)], carry)


@functools.lru_cache(maxsize=1)
def corpus() -> CorpusRun:
    """The real corpus read in place (tests must not mutate what this returns)."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", tmp)
        mp.setenv("CLAUDE_CONFIG_DIR", str(claude_config_from_corpus(Path(tmp))))
        mp.setenv("CODEX_HOME", str(CORPUS / "codex" / "madshn-localpush"))
        mp.setenv("TOKENTRAIL_CACHE_DIR", str(Path(tmp) / "cache"))
        mp.setenv("TOKENTRAIL_PLUGINS", "")
        pm = get_plugin_manager()
        loaded = load_sessions(pm, SessionFilter(), {})
        analysis = analyze(loaded.catalog.sessions, pm, loaded.pricer)
        problems = [f"{p.plugin} {p.stage}: {p.message}" for p in pm.problems]
        get_plugin_manager.cache_clear()
    sessions = {s.id: s for s in loaded.catalog.sessions}
    return CorpusRun(sessions, analysis, loaded.pricer, problems)
