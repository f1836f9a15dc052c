import pytest

from tests.builtin.detectors import Build, run
from tokentrail.builtin.detectors.cache_rewrite import CacheRewrite


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
    assert f.wasted_usd == pytest.approx(f.wasted_tokens * (3.75 - 0.30) / 1e6)


def test_model_switch_and_unexplained_rewrites_are_named() -> None:
    [f] = run(CacheRewrite(), _rewrite(gap_min=1, model="claude-opus-4-6").session())
    assert "model switch" in f.title
    [g] = run(CacheRewrite(), _rewrite(gap_min=1).session())
    assert "unexplained" in g.title and g.confidence < f.confidence


def test_small_contexts_and_normal_incremental_writes_do_not_count() -> None:
    assert run(CacheRewrite(), _rewrite(gap_min=12, base=10000).session()) == []
    b = Build(base=60000)
    b.turns(6, gap_min=12)  # idle gaps, but the log shows no re-write
    assert run(CacheRewrite(), b.session()) == []
