"""Prices per request, through the CLI: model switches, cache TTLs, long-context tiers,
unknown models and overrides."""

from __future__ import annotations

import os
import random
from datetime import datetime, timezone
from pathlib import Path

import genai_prices
import pytest

from tests.cli_run import isolated_env, tokentrail, tokentrail_json
from tests.logs import claude_call, write_jsonl
from tokentrail.builtin.price_genai import cost_of, genai_usage, price_request
from tokentrail.model import Request, Usage

WHEN = datetime(2026, 2, 10, 12, tzinfo=timezone.utc)


def reference(model: str, usage: Usage, when: datetime = WHEN) -> float:
    """genai-prices' own calc_price, the reference for every figure we print."""
    return float(
        genai_prices.calc_price(genai_usage(usage), model, genai_request_timestamp=when).total_price
    )


@pytest.mark.parametrize(
    "model",
    [
        "claude-opus-4-6",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-sonnet-4-20250514",
        "gpt-5.3-codex",
        "gpt-5",
    ],
)
@pytest.mark.parametrize("when", [WHEN, datetime(2026, 6, 1, tzinfo=timezone.utc)])
def test_fast_path_matches_calc_price(model: str, when: datetime) -> None:
    rng = random.Random(model)
    for _ in range(200):
        usage = Usage(
            input=rng.randint(0, 5000),
            cache_read=rng.choice([0, rng.randint(0, 400_000)]),
            cache_write_5m=rng.randint(0, 60_000),
            cache_write_1h=rng.choice([0, rng.randint(0, 60_000)]),
            output=rng.randint(0, 30_000),
            web_search_requests=rng.choice([0, 0, 2]),
        )
        if model.startswith("gpt"):
            usage.cache_write_5m = usage.cache_write_1h = 0
        exact = genai_prices.calc_price(genai_usage(usage), model, genai_request_timestamp=when)
        assert cost_of(model, usage, when) == pytest.approx(
            float(exact.total_price), rel=1e-12, abs=1e-15
        )
        hook = price_request(Request(key=None, timestamp=when, model=model, usage=usage), {})
        assert hook is not None
        assert hook.cost_usd == pytest.approx(float(exact.total_price), rel=1e-12, abs=1e-15)


def _session(tmp: Path, calls: list[list[dict[str, object]]], tail: str = "") -> dict[str, str]:
    root = tmp / "claude"
    write_jsonl(root / "projects" / "-work-app" / "s1.jsonl", [r for c in calls for r in c], tail)
    return isolated_env(tmp / "home", CLAUDE_CONFIG_DIR=root, CODEX_HOME=tmp / "nocodex")


def test_model_switch_is_priced_per_request(tmp_path: Path) -> None:
    env = _session(
        tmp_path,
        [
            claude_call(
                1, "2026-02-10T12:00:00.000Z", "claude-opus-4-6", read=50_000, w5=2000, out=300
            ),
            claude_call(
                2,
                "2026-02-10T12:01:00.000Z",
                "claude-haiku-4-5-20251001",
                read=50_000,
                w5=2000,
                out=300,
            ),
        ],
    )
    row = tokentrail_json("sessions", env=env)["sessions"][0]
    expected = reference("claude-opus-4-6", Usage(3, 50_000, 2000, 0, 300)) + reference(
        "claude-haiku-4-5-20251001", Usage(3, 50_000, 2000, 0, 300)
    )
    assert row["cost_usd"] == pytest.approx(expected, abs=1e-6)
    assert row["models"] == {"claude-opus-4-6": 1, "claude-haiku-4-5-20251001": 1}
    detail = tokentrail_json("session", "s1", env=env)
    by_model = {m["model"]: m["cost_usd"] for m in detail["by_model"]}
    assert by_model["claude-opus-4-6"] > 4 * by_model["claude-haiku-4-5-20251001"]


def test_one_hour_cache_writes_cost_their_own_price(tmp_path: Path) -> None:
    env = _session(
        tmp_path,
        [
            claude_call(
                1,
                "2026-02-10T12:00:00.000Z",
                "claude-sonnet-4-20250514",
                inp=0,
                w5=1_000_000,
                out=0,
                blocks=1,
            ),
            claude_call(
                2,
                "2026-02-10T12:01:00.000Z",
                "claude-sonnet-4-20250514",
                inp=0,
                w1=1_000_000,
                out=0,
                blocks=1,
            ),
        ],
    )
    detail = tokentrail_json("session", "s1", env=env)
    row = detail["session"]
    assert row["cache_write_tokens"] == 2_000_000
    assert row["cache_write_1h_tokens"] == 1_000_000
    # Sonnet 4: 5-minute writes $3.75/M, 1-hour writes $6/M.
    assert row["cost_usd"] == pytest.approx(3.75 + 6.00, abs=1e-9)


def test_long_context_tier_applies_per_request(tmp_path: Path) -> None:
    """One 250k-token request pays the >200k tier; two 125k requests with the same summed
    usage do not — tiers never apply to summed usage."""
    big = _session(
        tmp_path / "big",
        [
            claude_call(
                1,
                "2026-02-10T12:00:00.000Z",
                "claude-sonnet-4-5",
                inp=10_000,
                read=240_000,
                out=1000,
            ),
        ],
    )
    small = _session(
        tmp_path / "small",
        [
            claude_call(
                1, "2026-02-10T12:00:00.000Z", "claude-sonnet-4-5", inp=5000, read=120_000, out=500
            ),
            claude_call(
                2, "2026-02-10T12:01:00.000Z", "claude-sonnet-4-5", inp=5000, read=120_000, out=500
            ),
        ],
    )
    tier = tokentrail_json("sessions", env=big)["sessions"][0]["cost_usd"]
    base = tokentrail_json("sessions", env=small)["sessions"][0]["cost_usd"]
    # Sonnet 4.5 above 200k input: input $6, cache read $0.60, output $22.50 per million.
    assert tier == pytest.approx((10_000 * 6 + 240_000 * 0.6 + 1000 * 22.5) / 1e6, abs=1e-9)
    assert base == pytest.approx((10_000 * 3 + 240_000 * 0.3 + 1000 * 15) / 1e6, abs=1e-9)


def test_unknown_model_is_unpriced_never_zero(tmp_path: Path) -> None:
    env = _session(
        tmp_path,
        [
            claude_call(1, "2026-02-10T12:00:00.000Z", "claude-sonnet-4-20250514", out=100),
            claude_call(2, "2026-02-10T12:01:00.000Z", "acme-coder-9000", out=100),
        ],
    )
    row = tokentrail_json("sessions", env=env)["sessions"][0]
    assert row["unpriced_requests"] == 1
    assert row["cost_usd"] == pytest.approx(
        reference("claude-sonnet-4-20250514", Usage(3, 0, 0, 0, 100)), abs=1e-9
    )
    text = tokentrail("sessions", env=env).stdout
    assert "+ 1 unpriced" in text

    only_unknown = _session(
        tmp_path / "u", [claude_call(1, "2026-02-10T12:00:00.000Z", "acme-coder-9000", out=100)]
    )
    row = tokentrail_json("sessions", env=only_unknown)["sessions"][0]
    assert row["cost_usd"] is None and row["unpriced_requests"] == 1
    assert "unpriced" in tokentrail("sessions", env=only_unknown).stdout


def test_price_override_from_config(tmp_path: Path) -> None:
    env = _session(
        tmp_path,
        [
            claude_call(
                1,
                "2026-02-10T12:00:00.000Z",
                "acme-coder-9000",
                inp=1_000_000,
                read=1_000_000,
                w5=1_000_000,
                w1=1_000_000,
                out=1_000_000,
            ),
            claude_call(
                2,
                "2026-02-10T12:01:00.000Z",
                "claude-sonnet-4-20250514",
                inp=1_000_000,
                out=0,
                blocks=1,
            ),
        ],
    )
    config = tmp_path / "tt.yml"
    config.write_text(
        "prices:\n  acme-coder-9000: {input: 1, cache_read: 0.5, cache_write_5m: 2,"
        " cache_write_1h: 3, output: 10}\n  claude-sonnet-4-20250514:"
        " {input: 100, output: 100}\n"
    )
    env["TOKENTRAIL_CONFIG"] = str(config)
    detail = tokentrail_json("session", "s1", env=env)
    by_model = {m["model"]: m for m in detail["by_model"]}
    assert by_model["acme-coder-9000"]["cost_usd"] == pytest.approx(1 + 0.5 + 2 + 3 + 10)
    assert by_model["acme-coder-9000"]["unpriced_requests"] == 0
    assert by_model["claude-sonnet-4-20250514"]["cost_usd"] == pytest.approx(100.0)


def test_bad_price_override_is_a_clear_error(tmp_path: Path) -> None:
    env = _session(tmp_path, [claude_call(1, "2026-02-10T12:00:00.000Z", "x", out=1)])
    config = tmp_path / "tt.yml"
    config.write_text("prices:\n  x: {input: -1, output: 2}\n")
    env["TOKENTRAIL_CONFIG"] = str(config)
    proc = tokentrail("sessions", "--json", env=env, check=False)
    assert proc.returncode == 1
    assert '"code": "config_invalid"' in proc.stdout
    assert "prices.x.input" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_prices_compiled_once_are_priced_without_importing_genai_prices(tmp_path: Path) -> None:
    """A hook that prices a few new requests must not pay for importing genai-prices: the
    compiled prices of the models it met are kept in the cache dir, per genai-prices
    version, and give the same figures."""
    import subprocess
    import sys

    script = (
        "import sys; from datetime import datetime, timezone; "
        "from tokentrail.builtin.price_genai import cost_of; from tokentrail.model import Usage; "
        "u = Usage(input=10, cache_read=50_000, cache_write_5m=2000, output=300); "
        "print(repr([cost_of(m, u, datetime(2026, d, 1, tzinfo=timezone.utc)) "
        "for m in ('claude-opus-4-6', 'claude-haiku-4-5', 'no-such-model') for d in (2, 6)])); "
        "print('genai_prices' in sys.modules)"
    )
    env = {**os.environ, "TOKENTRAIL_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        for _ in range(2)
    ]
    assert runs[0][1] == "True" and runs[1][1] == "False"
    assert runs[0][0] == runs[1][0] and "None" in runs[1][0]
