"""Every real corpus session through every built-in detector, and precision as a standing
test: what each larger real session must and must not produce, read off its log.

The table is about what the log shows (a re-write at a request, a file read twice, a
command run four times), matched against the findings' titles and evidence, not about
detector names: a detector change that adds a false alarm (a finding no row allows) or
loses a driver (a row's needle no longer found, or its figure off by more than 15 %) fails.
Figures are recomputed here from the log's own numbers at list prices.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from tests.builtin.detectors import corpus
from tokentrail.model import Finding

# per-token premiums of paying a token again instead of reading it from the cache
OPUS_46_W5 = (6.25 - 0.50) / 1e6  # 5-minute cache write over cache read
OPUS_46_W1 = (10.00 - 0.50) / 1e6  # 1-hour cache write over cache read
SONNET_4_W5 = (3.75 - 0.30) / 1e6
CODEX_53 = (1.75 - 0.175) / 1e6  # gpt-5.3-codex: uncached over cached input


@dataclass(frozen=True)
class Shows:
    """The log shows this: a finding whose title or evidence holds `needle`, with a waste
    figure of `usd` (± 15 %) when given."""

    needle: str
    usd: float | None = None


# For each of the 14 larger real sessions: what must be found. Every finding a session
# produces must match one of its rows (MAY rows allow a finding without requiring it).
MUST: dict[str, list[Shows]] = {
    "258c7280": [
        # background task notifications: previous context minus the ~21.5k prefix still read
        Shows("request 31 (89,608 tokens): background task notification", 89608 * OPUS_46_W1),
        Shows("request 149 (55,081 tokens): background task notification", 55081 * OPUS_46_W1),
    ],
    "8463c716": [
        Shows("transcript_renderer_test.exs read again"),
        Shows("transcript_renderer.ex read again"),
    ],
    "019c8a59": [
        Shows("request 161 (166,256 tokens re-sent uncached): idle", 166256 * CODEX_53),
        Shows("request 10 (28,736 tokens re-sent uncached): idle", 28736 * CODEX_53),
        Shows("request 178 (195,366 tokens re-sent uncached): idle", 195366 * CODEX_53),
    ],
    "fa812bfe": [
        Shows("request 43 (56,329 tokens): background task notification", 56329 * OPUS_46_W5),
    ],
    "4d5611e5": [
        Shows("request 18 (81,960 tokens): idle", 81960 * OPUS_46_W5),
        Shows("request 113 (82,861 tokens): idle", 82861 * OPUS_46_W5),
        Shows("request 137 (76,754 tokens): background task notification", 76754 * OPUS_46_W5),
        Shows("subagent_live.ex read again"),
    ],
    "ae4a77f8": [
        # a Skill switched the main thread to Haiku: its cache had to be written
        Shows("request 5 (32,460 tokens): model switch", 32460 * (1.25 - 0.10) / 1e6),
    ],
    "fe5e1c67": [
        Shows("`npm run` failed 4 times in a row unchanged"),
        Shows("`find` put 11,868 tokens into the context, re-sent 6 times"),
    ],
    "019c8a4c": [Shows("request 59 (112,267 tokens re-sent uncached): idle", 112267 * CODEX_53)],
    "019c8a53": [
        Shows("request 76 (109,872 tokens re-sent uncached): idle", 109872 * CODEX_53),
        Shows("request 67 (50,075 tokens re-sent uncached): idle", 50075 * CODEX_53),
    ],
    "d3ad4cdc": [
        Shows("request 4 (17,629 tokens): idle", 17629 * SONNET_4_W5),
        Shows("request 7 (24,148 tokens): idle", 24148 * SONNET_4_W5),
        Shows("request 14 (37,155 tokens): idle", 37155 * SONNET_4_W5),
        Shows("`python` put 11,167 tokens into the context"),
    ],
    "019c8a4d": [],
    "subagent": [],
    "5c0375b4": [],
    "ba79134d": [],
}
MAY: dict[str, list[Shows]] = {
    "019c8a59": [Shows("re-sent uncached): idle")],  # its other idle losses
    "fe5e1c67": [Shows("failed edits on index.ts"), Shows("failed edits on useTodos.ts")],
    "d3ad4cdc": [Shows("ai_music.py read again")],  # lines 55-104 after a whole read
}
# What the log contradicts (the false alarms): never again.
MUST_NOT: dict[str, list[str]] = {
    "8463c716": ["tool_heavy.jsonl", "short.jsonl", "subagent.jsonl", "`mix test` failed"],
    "ae4a77f8": ["failed 2 times in a row"],
    "4d5611e5": ["app.js"],
    "019c8a59": ["paste", "context jumped"],
    "019c8a53": ["context jumped"],
    "fe5e1c67": ["124 times", "npm warn"],
}
# The likely cause names the driver wherever the dominant avoidable cost is clear.
CAUSE: dict[str, str] = {
    "4d5611e5": "2 cache re-writes after idle gaps past the cache lifetime: $0.95",
    "d3ad4cdc": "3 cache re-writes after idle gaps past the cache lifetime",
    "fa812bfe": "lib/spotter_web/live/session_live.ex in the context (",
    "258c7280": "lib/spotter_web/live/session_live.ex in the context (",
    "8463c716": "lib/spotter_web/live/session_live.ex in the context (",
    "019c8a59": "11 prompt-cache losses after idle gaps past the cache lifetime",
    "019c8a4c": "1 prompt-cache loss after an idle gap past the cache lifetime",
    "019c8a53": "2 prompt-cache losses after idle gaps past the cache lifetime",
    "ae4a77f8": "nothing stands out as avoidable",
    "fe5e1c67": "nothing stands out as avoidable",
    "019c8a4d": "nothing stands out as avoidable",
    "subagent": "nothing stands out as avoidable",
    "5c0375b4": "nothing stands out as avoidable",
    "ba79134d": "nothing stands out as avoidable",
}


def _said(f: Finding) -> str:
    return " ".join([f.title, *(str(v) for e in f.evidence for v in e.values())])


@pytest.mark.parametrize("sid", sorted(MUST))
def test_each_real_session_shows_its_drivers_and_no_false_alarm(sid: str) -> None:
    run = corpus()
    found = run.findings(sid)
    for row in MUST[sid]:
        hits = [f for f in found if row.needle in _said(f)]
        assert len(hits) == 1, f"{sid}: {row.needle!r} found {len(hits)} times"
        if row.usd is not None:
            assert hits[0].wasted_usd == pytest.approx(row.usd, rel=0.15), (sid, row.needle)
    allowed = [*MUST[sid], *MAY.get(sid, [])]
    for f in found:
        assert any(row.needle in _said(f) for row in allowed), f"{sid}: unexpected {f.title!r}"
    for needle in MUST_NOT.get(sid, []):
        assert not [f.title for f in found if needle in _said(f)], (sid, needle)
    assert run.cause(sid).startswith(CAUSE[sid]), run.cause(sid)


def test_the_table_covers_the_larger_real_sessions() -> None:
    """Every real session of the corpus with 10+ requests and 20+ cents is in the table."""
    run = corpus()
    larger = {
        sid[:8]
        for sid, s in run.sessions.items()
        if len(s.requests) >= 10 and sum(r.cost_usd or 0 for r in s.requests) >= 0.20
    }
    assert larger == set(MUST)


def test_carry_figures_match_what_the_log_shows() -> None:
    """A result's carry recomputed from the log: the context jump it caused, re-sent by the
    thread's later requests at the cache-read price, after being written once (Sonnet 4:
    read $0.30/M, 5-minute write $3.75/M)."""
    run = corpus()
    session = run.session("fe5e1c67")
    [find] = [
        c
        for c in session.tool_calls
        if (c.command or "").startswith("find /path/to/Demo/todo-app -type f")
    ]
    thread = [
        r for r in session.requests if r.subagent == session.requests[find.request_index].subagent
    ]
    k = thread.index(session.requests[find.request_index])
    asked, after = thread[k], thread[k + 1]
    jump = after.usage.prompt_tokens - asked.usage.prompt_tokens - asked.usage.output
    later = len(thread) - k - 1
    expected = jump * later * 0.30 / 1e6 + jump * (3.75 - 0.30) / 1e6
    item = run.carry("fe5e1c67").item(find.id)
    assert item is not None and item.carried_requests == later == 6
    assert item.size_tokens == pytest.approx(jump, rel=0.15)
    assert item.carry_usd == pytest.approx(expected, rel=0.15)


def test_detectors_on_the_real_corpus() -> None:
    """No crash, waste within the bill, evidence short, and no detector firing on most
    sessions (that would be a miscalibrated threshold)."""
    run = corpus()
    assert run.problems == []
    billed = [s for s in run.sessions.values() if s.requests]
    fired: Counter[str] = Counter()
    for detector, _session in {(f.detector, f.session) for f in run.analysis.findings}:
        fired[detector] += 1
    assert fired, "the corpus holds real waste (cache re-writes at least)"
    for detector, count in fired.items():
        assert count <= len(billed) // 2, f"{detector} fires on {count}/{len(billed)} sessions"
    assert fired["cache_rewrite"] >= 3
    for s in run.sessions.values():
        carry = run.analysis.carry[s.id]
        mine = [f for f in run.analysis.findings if f.session == s.id]
        assert sum(f.wasted_tokens for f in mine) <= carry.billed_tokens
        assert sum(f.wasted_usd for f in mine) <= carry.billed_usd + 1e-9
    for f in run.analysis.findings:
        assert 0 <= f.confidence <= 1 and f.lesson and f.evidence
        assert all(len(str(v)) <= 200 for e in f.evidence for v in e.values())
