from datetime import timedelta

import pytest

from tests.builtin.detectors import Build, corpus, run
from tokentrail.builtin.detectors.cache_rewrite import CacheRewrite
from tokentrail.builtin.price_genai import cost_of
from tokentrail.model import PROMPT_TASK_NOTIFICATION, Prompt


def _rewrite(gap_min: float, model: str | None = None, base: int = 60000) -> Build:
    b = Build(base=base)
    b.turns(3)
    b.turn(gap_min=gap_min, model=model, rewrite=True)
    b.turns(2)
    return b


def test_idle_gap_past_the_ttl_explains_a_rewrite_and_prices_the_premium() -> None:
    b = _rewrite(gap_min=12)
    [f] = run(CacheRewrite(), b.session())
    assert f.title.endswith("idle") and "idle 12 min" in f.evidence[0]["cause"]
    written = b.requests[3].usage.cache_write
    prior = b.requests[2].usage.prompt_tokens
    assert f.wasted_tokens == min(written, prior)
    # Sonnet 4.5: write $3.75/M vs read $0.30/M
    assert f.wasted_usd == pytest.approx(f.wasted_tokens * (3.75 - 0.30) / 1e6, rel=1e-3)


def test_model_switch_and_unexplained_rewrites_are_named() -> None:
    [f] = run(CacheRewrite(), _rewrite(gap_min=1, model="claude-opus-4-6").session())
    assert "model switch" in f.title
    [g] = run(CacheRewrite(), _rewrite(gap_min=1).session())
    assert "unexplained" in g.title and g.confidence < f.confidence


def test_small_contexts_and_normal_incremental_writes_do_not_count() -> None:
    assert run(CacheRewrite(), _rewrite(gap_min=12, base=8000).session()) == []
    b = Build(base=60000)
    b.turns(6, gap_min=12)  # idle gaps, but the log shows no re-write
    assert run(CacheRewrite(), b.session()) == []


def _keep_prefix(b: Build, index: int, prefix: int) -> None:
    """Request `index` read only the system prefix and wrote the rest again."""
    u = b.requests[index].usage
    total = u.prompt_tokens
    u.cache_read, u.cache_write_5m = prefix, total - prefix - u.input


def test_a_rewrite_that_keeps_the_system_prefix_after_a_task_notification() -> None:
    b = Build(base=60000)
    b.turns(3)
    i = b.turn(gap_min=1)
    _keep_prefix(b, i, 21000)
    b.turns(2)
    session = b.session()
    session.prompts.append(Prompt(b.requests[i].timestamp, 300, PROMPT_TASK_NOTIFICATION))
    [f] = run(CacheRewrite(), session)
    assert f.title.endswith("background task notification")
    lost = b.requests[i - 1].usage.prompt_tokens - 21000
    assert f.wasted_tokens == lost and f.evidence[0]["kind"] == "background task notification"
    session.prompts.clear()
    [g] = run(CacheRewrite(), session)
    assert g.title.endswith("unexplained")


def test_idle_is_measured_from_when_requests_were_sent() -> None:
    """A reply that streams for minutes is written long after its request touched the
    cache: the idle gap runs from send to send."""
    b = _rewrite(gap_min=4)
    prev, cur = b.requests[2], b.requests[3]
    assert prev.timestamp is not None and cur.timestamp is not None
    [f] = run(CacheRewrite(), b.session())
    assert f.title.endswith("unexplained")
    prev.sent = prev.timestamp - timedelta(minutes=3)
    cur.sent = cur.timestamp
    [f] = run(CacheRewrite(), b.session())
    assert f.title.endswith("idle") and "idle 7 min" in f.evidence[0]["cause"]


def test_an_implicit_cache_miss_shows_as_cached_input_collapsing() -> None:
    """Codex logs no cache writes: after an idle gap the prompt is billed as input."""
    b = Build(base=60000, model="gpt-5.3-codex")
    b.turns(3)
    for gap in (30, 0.5):
        i = b.turn(gap_min=gap)
        u = b.requests[i].usage
        u.input, u.cache_read, u.cache_write_5m = u.prompt_tokens - 3000, 3000, 0
    b.turns(2)
    for r in b.requests:
        r.usage.input += r.usage.cache_write_5m
        r.usage.cache_write_5m = 0
        r.cost_usd = float(cost_of(r.model, r.usage, r.timestamp) or 0)
    [f] = run(CacheRewrite(), b.session())  # the miss after 30 s is the provider's: not shown
    assert f.title.startswith("prompt cache lost at request 3") and f.title.endswith("idle")
    # gpt-5.3-codex: input $1.75/M, cached input $0.175/M
    assert f.wasted_usd == pytest.approx(f.wasted_tokens * (1.75 - 0.175) / 1e6, rel=1e-3)


OPUS_46_PREMIUM_5M = (6.25 - 0.50) / 1e6  # cache write (5 min) over cache read, per token
OPUS_46_PREMIUM_1H = (10.0 - 0.50) / 1e6


def test_real_rewrites_found_explained_and_priced_as_the_log_shows() -> None:
    """The four re-writes after a background task notification keep the ~21.5k system prefix
    cached (three were missed by the old 80 %-of-the-context rule, $1.29), and d3ad4cdc's
    17.6k-token idle re-write was below the old 20k floor. Figures: what the previous request
    had cached beyond what this one read, at the write premium (Opus 4.6; Sonnet 4)."""
    run_ = corpus()
    expected = {
        ("258c7280", 31): ("background task notification", 111068 - 21460, OPUS_46_PREMIUM_1H),
        ("258c7280", 149): ("background task notification", 76541 - 21460, OPUS_46_PREMIUM_1H),
        ("fa812bfe", 43): ("background task notification", 77825 - 21496, OPUS_46_PREMIUM_5M),
        ("4d5611e5", 137): ("background task notification", 98232 - 21478, OPUS_46_PREMIUM_5M),
        ("4d5611e5", 18): ("idle", 81960, OPUS_46_PREMIUM_5M),
        ("4d5611e5", 113): ("idle", 82861, OPUS_46_PREMIUM_5M),
        ("d3ad4cdc", 4): ("idle", 17629, (3.75 - 0.30) / 1e6),
    }
    for (sid, turn), (kind, tokens, rate) in expected.items():
        [f] = [
            f
            for f in run_.findings(sid)
            if f.detector == "cache_rewrite" and f.evidence[0]["turn"] == turn
        ]
        assert f.evidence[0]["kind"] == kind, (sid, turn)
        assert f.wasted_tokens == pytest.approx(tokens, rel=0.15), (sid, turn)
        assert f.wasted_usd == pytest.approx(tokens * rate, rel=0.15), (sid, turn)


def test_real_codex_idle_misses_are_found() -> None:
    run_ = corpus()
    for sid, turn in (("019c8a4c", 59), ("019c8a53", 76), ("019c8a59", 161)):
        found = [f for f in run_.findings(sid) if f.detector == "cache_rewrite"]
        [f] = [f for f in found if f.evidence[0]["turn"] == turn]
        assert f.evidence[0]["kind"] == "idle" and f.title.startswith("prompt cache lost")
        assert all(f.evidence[0]["kind"] != "unexplained" for f in found)
