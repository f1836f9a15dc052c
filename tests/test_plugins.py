"""The plugin system from a third party's side: tests/fake_plugin installed for real, used
through the CLI (adapters, pricing order, renderers, failure isolation) and, for the
detector hook that no command runs yet, through the plugin manager itself."""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import genai_prices
import pytest

from tests.cli_run import CORPUS, tokentrail, tokentrail_json
from tests.gitrepo import Env, Feature, feature_branch
from tokentrail.builtin.price_genai import genai_usage
from tokentrail.detect import analyze
from tokentrail.model import Usage
from tokentrail.plugins import PRINTED, TokentrailPluginManager
from tokentrail.pricing import Pricer

pytestmark = pytest.mark.early  # a slow file: started first (see tests/conftest.py)

FAKE_PRICE = 0.000002  # tests/fake_plugin: $ per token for fake-model-1
# A real Claude Code session (Sonnet 4, 4 API calls, every prompt far below any price tier).
CLAUDE_LOG = CORPUS / (
    "claude-code/chiphuyen-sniffly/-Users-chip-dev-ai-music/fed8ce56-bc79-401f-a83e-af084253362f.jsonl"
)
CLAUDE_MODEL = "claude-sonnet-4-20250514"
FAKE_LINES = [
    {"ts": "2026-01-02T10:00:00Z", "model": "fake-model-1", "in": 1000, "out": 500},
    {"ts": "2026-01-02T10:01:00Z", "model": "fake-model-1", "in": 2000, "out": 250},
    {"ts": "2026-01-02T10:02:00Z", "model": "mystery-model-9", "in": 10, "out": 5},
]


def write_fake(folder: Path, name: str, lines: list[dict[str, Any]]) -> Path:
    path = folder / f"{name}.fake.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def env(plugin_env: dict[str, str]) -> dict[str, str]:
    """Every plugin loaded; one real Claude session, one fake-agent session."""
    project = Path(plugin_env["CLAUDE_CONFIG_DIR"]) / "projects" / "-Users-chip-dev-ai-music"
    project.mkdir(parents=True)
    (project / CLAUDE_LOG.name).symlink_to(CLAUDE_LOG)
    write_fake(Path(plugin_env["FAKE_AGENT_DIR"]), "s1", FAKE_LINES)
    return plugin_env


def by_agent(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = {row["agent"]: row for row in doc["sessions"]}
    assert len(rows) == len(doc["sessions"])
    return rows


def genai_cost(row: dict[str, Any]) -> float:
    """genai-prices' own price for a session row's tokens (linear below the tiers)."""
    usage = Usage(
        input=row["input_tokens"],
        cache_read=row["cache_read_tokens"],
        cache_write_5m=row["cache_write_tokens"] - row["cache_write_1h_tokens"],
        cache_write_1h=row["cache_write_1h_tokens"],
        output=row["output_tokens"],
    )
    when = datetime.fromisoformat(row["start"].replace("Z", "+00:00"))
    price = genai_prices.calc_price(genai_usage(usage), CLAUDE_MODEL, genai_request_timestamp=when)
    return float(price.total_price)


def row_tokens(row: dict[str, Any]) -> int:
    return int(
        row["input_tokens"]
        + row["cache_read_tokens"]
        + row["cache_write_tokens"]
        + row["output_tokens"]
    )


def test_fake_sessions_sit_beside_claude_priced_by_the_plugin(env: dict[str, str]) -> None:
    doc = tokentrail_json("sessions", env=env)
    assert doc["adapters"] == [
        *("claude-code", "codex", "gemini", "opencode", "pi", "local-store"),
        "fake-agent",
    ]
    rows = by_agent(doc)
    assert set(rows) == {"claude-code", "fake-agent"}

    fake = rows["fake-agent"]
    assert fake["id"] == "s1"
    assert fake["requests"] == 3
    assert (fake["input_tokens"], fake["output_tokens"]) == (3010, 755)
    assert fake["models"] == {"fake-model-1": 2, "mystery-model-9": 1}
    # fake-model-1 by the plugin; the unknown model stays unpriced, never $0
    assert fake["cost_usd"] == 0.0075 == round((1500 + 2250) * FAKE_PRICE, 6)
    assert fake["unpriced_requests"] == 1

    claude = rows["claude-code"]
    assert claude["requests"] == 4 and claude["unpriced_requests"] == 0
    assert claude["cost_usd"] == pytest.approx(genai_cost(claude), abs=1e-6)
    assert doc["totals"]["unpriced_requests"] == 1
    assert doc["totals"]["cost_usd"] == pytest.approx(claude["cost_usd"] + 0.0075, abs=2e-6)


def test_a_session_of_unknown_models_is_unpriced_not_free(env: dict[str, str]) -> None:
    write_fake(Path(env["FAKE_AGENT_DIR"]), "s2", [FAKE_LINES[2], FAKE_LINES[2]])
    doc = tokentrail_json("sessions", "--agent", "fake-agent", env=env)
    s2 = next(r for r in doc["sessions"] if r["id"] == "s2")
    assert s2["cost_usd"] is None
    assert s2["unpriced_requests"] == 2

    text = tokentrail("sessions", "--agent", "fake-agent", env=env).stdout
    s2_line = next(line for line in text.splitlines() if " s2 " in line)
    assert s2_line.rstrip().endswith("unpriced")
    assert "$0.00" not in s2_line


def test_pricing_order_config_then_plugin_then_genai_prices(
    env: dict[str, str], tmp_path: Path
) -> None:
    def costs(**extra: str) -> dict[str, Any]:
        rows = by_agent(tokentrail_json("sessions", env={**env, **extra}, cwd=tmp_path))
        return {agent: row["cost_usd"] for agent, row in rows.items()} | {"rows": rows}

    # No override: the plugin prices fake-model-1, genai-prices prices Claude.
    plain = costs()
    claude_row = plain["rows"]["claude-code"]
    assert plain["fake-agent"] == 0.0075
    assert plain["claude-code"] == pytest.approx(genai_cost(claude_row), abs=1e-6)

    # The plugin outranks genai-prices for a model both know.
    claimed = costs(FAKE_PRICE_ALSO=CLAUDE_MODEL)
    assert claimed["claude-code"] == pytest.approx(row_tokens(claude_row) * FAKE_PRICE, abs=1e-6)
    assert claimed["claude-code"] != pytest.approx(plain["claude-code"], abs=1e-3)

    # A .tokentrail.yml override outranks the plugin ($1 per million in and out).
    (tmp_path / ".tokentrail.yml").write_text(
        "prices:\n  fake-model-1:\n    input: 1.0\n    output: 1.0\n", encoding="utf-8"
    )
    overridden = costs(FAKE_PRICE_ALSO=CLAUDE_MODEL)
    assert overridden["fake-agent"] == round((1500 + 2250) / 1_000_000, 6) == 0.00375
    assert overridden["claude-code"] == claimed["claude-code"]  # no override for Claude


def test_a_plugin_failing_in_register_adapters_is_reported_and_skipped(
    env: dict[str, str],
) -> None:
    message = "plugin broken_register failed in register_adapters: RuntimeError: fake plugin bug"
    doc = tokentrail_json("sessions", env=env)
    assert set(by_agent(doc)) == {"claude-code", "fake-agent"}
    failed = [w for w in doc["warnings"] if w.startswith(message)]
    assert len(failed) == 1  # once, though the hook runs several times per command

    proc = tokentrail("sessions", env=env)
    assert proc.returncode == 0
    assert proc.stderr.count(f"tokentrail: warning: {message}") == 1
    assert "fake-agent" in proc.stdout and "claude-code" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_refused_plugins_change_no_price(env: dict[str, str]) -> None:
    """half_loaded's pricer (999 $/request) and wrapper's generator must not run at all."""
    everything = by_agent(tokentrail_json("sessions", env=env))
    only_fake = by_agent(tokentrail_json("sessions", env={**env, "TOKENTRAIL_PLUGINS": "fake"}))
    assert everything["claude-code"]["cost_usd"] == only_fake["claude-code"]["cost_usd"] < 10
    assert everything["fake-agent"]["cost_usd"] == only_fake["fake-agent"]["cost_usd"]


def test_without_the_plugin_its_sessions_and_renderer_are_gone(env: dict[str, str]) -> None:
    off = {**env, "TOKENTRAIL_PLUGINS": ""}
    doc = tokentrail_json("sessions", env=off)
    assert set(by_agent(doc)) == {"claude-code"}
    assert doc["warnings"] == []
    proc = tokentrail("sessions", "--format", "csv", env=off, check=False)
    assert proc.returncode == 1
    assert "no renderer named 'csv'; available: html, json, markdown, text" in proc.stderr


def test_format_csv_uses_the_plugin_renderer(env: dict[str, str]) -> None:
    proc = tokentrail("sessions", "--format", "csv", env=env)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    doc = tokentrail_json("sessions", env=env)
    assert [(r["agent"], r["id"], int(r["requests"])) for r in rows] == [
        (s["agent"], s["id"], s["requests"]) for s in doc["sessions"]
    ]
    fake = next(r for r in rows if r["agent"] == "fake-agent")
    assert (fake["cost_usd"], fake["unpriced_requests"]) == ("0.0075", "1")


def test_unknown_format_is_a_clear_error(env: dict[str, str]) -> None:
    proc = tokentrail("sessions", "--format", "xml", env=env, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert (
        "tokentrail: error: no renderer named 'xml'; available: csv, html, json, markdown, text"
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_a_renderer_that_raises_is_an_error_not_a_traceback(env: dict[str, str]) -> None:
    """The fake csv renderer draws `sessions` only; `session` makes it raise."""
    proc = tokentrail("session", "s1", "--format", "csv", env=env, check=False)
    assert proc.returncode == 1
    assert "tokentrail: error: ValueError: the csv renderer draws `sessions` only" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_json_errors_are_a_document(env: dict[str, str]) -> None:
    proc = tokentrail("sessions", "--json", "--since", "last tuesday", env=env, check=False)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert set(doc) == {"schema_version", "tool_version", "kind", "error"}
    assert doc["kind"] == "error"
    assert doc["schema_version"] == 1
    assert doc["error"]["code"] == "bad_time"
    assert "last tuesday" in doc["error"]["message"]


@pytest.fixture
def fake_module(fake_plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The installed plugin module itself, imported from its private folder."""
    monkeypatch.syspath_prepend(str(fake_plugin_site))
    yield importlib.import_module("tokentrail_fake_plugin")
    sys.modules.pop("tokentrail_fake_plugin", None)


def test_detector_hook_feeds_the_detect_step(
    fake_module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No command runs detectors on arbitrary sessions yet, so this drives the real detect
    step (`tokentrail.detect.analyze`) with a manager holding only the fake plugin."""
    pm = TokentrailPluginManager()
    pm.register(fake_module, name="fake")
    detectors = pm.detectors()
    assert [(plugin, d.name) for plugin, d in detectors] == [("fake", "fake-long-session")]

    monkeypatch.setenv("FAKE_AGENT_DIR", str(tmp_path))
    write_fake(tmp_path, "short", FAKE_LINES[:2])
    write_fake(tmp_path, "long", [*FAKE_LINES[:2], *FAKE_LINES[:2]])
    [(_, adapter)] = pm.adapters()
    sessions = sorted((adapter.parse(r) for r in adapter.discover(None)), key=lambda s: s.id)
    assert [(s.id, len(s.requests)) for s in sessions] == [("long", 4), ("short", 2)]
    Pricer(pm, {}).price_sessions(sessions)

    [finding] = analyze(sessions, pm, Pricer(pm, {})).findings
    assert (finding.detector, finding.session) == ("fake-long-session", "long")
    assert finding.wasted_tokens == 2000 + 250  # the 4th request, past the limit of 3
    assert finding.wasted_usd == pytest.approx(2250 * FAKE_PRICE)
    assert finding.lesson == "Start a fresh session before 3 requests."

    config = {"thresholds": {"fake_long_session_requests": 1}}
    tighter = analyze(sessions, pm, Pricer(pm, config)).findings
    assert sorted(f.session for f in tighter) == ["long", "short"]
    assert pm.problems == []


# --- plugins that misbehave cannot take the run down ---------------------------------------


@pytest.fixture
def branch(fake_plugin_site: Path, tmp_path: Path) -> Feature:
    """The standard branch scenario, with the misbehaving plugin (and only it) loaded."""
    env = Env(tmp_path / "env", extra={"PYTHONPATH": str(fake_plugin_site)})
    return feature_branch(tmp_path, env)


def misbehave(f: Feature, *ways: str, **extra: str) -> Env:
    f.env.extra.update(TOKENTRAIL_PLUGINS="misbehaving", FAKE_MISBEHAVE=",".join(ways), **extra)
    return f.env


def plugin_warnings(doc: dict[str, Any]) -> list[str]:
    return [w for w in doc["warnings"] if w.startswith("plugin misbehaving")]


def test_sys_exit_in_a_plugin_never_decides_a_commit(branch: Feature) -> None:
    env = misbehave(branch, "exit", "exit-price")
    proc = env.run(branch.repo.path, "check", "--strict", "--budget", "1000")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "called sys.exit(3) (ignored: a plugin cannot end the run)" in proc.stderr
    doc = env.json(branch.repo.path, "report")
    warnings = plugin_warnings(doc)
    assert any("price_request: called sys.exit(4)" in w for w in warnings)
    assert doc["totals"]["cost_usd"] > 0  # genai-prices priced what the plugin would not


def test_print_in_a_plugin_cannot_corrupt_json(branch: Feature) -> None:
    env = misbehave(branch, "print")
    for args in (("report",), ("sessions",), ("check",), ("lessons",)):
        proc = env.run(branch.repo.path, *args, "--json")
        doc = json.loads(proc.stdout)  # nothing else on stdout
        assert any(PRINTED in w for w in plugin_warnings(doc)), doc["warnings"]
        for printed in ("detecting 1111", "pricing claude-", "registering the misbehaving"):
            assert printed not in proc.stdout and printed not in proc.stderr


def test_non_finite_waste_is_dropped_and_reported(branch: Feature) -> None:
    env = misbehave(branch, "nan")
    doc = env.json(branch.repo.path, "report")
    titles = {f["title"] for f in doc["findings"]}
    assert "sound finding" in titles and not titles & {"nan waste", "inf tokens"}
    warnings = " ".join(plugin_warnings(doc))
    assert "wasted_usd is nan, not a finite number" in warnings
    assert "wasted_tokens is inf, not a finite number" in warnings
    check = env.json(branch.repo.path, "check", "--max-waste-share", "0.5")
    assert check["status"] == "ok" and 0 <= check["waste"]["share"] < 0.5


def test_an_absurd_waste_claim_is_capped_by_the_bill(branch: Feature) -> None:
    env = misbehave(branch, "huge")
    doc = env.json(branch.repo.path, "report")
    huge = [f for f in doc["findings"] if f["title"] == "huge claim"]  # one per session
    assert huge and sum(f["wasted_usd"] for f in huge) <= doc["carry"]["billed_usd"] + 1e-9
    assert sum(f["wasted_tokens"] for f in huge) <= doc["carry"]["billed_tokens"]
    check = env.json(branch.repo.path, "check", "--max-waste-share", "1")
    assert math.isfinite(check["waste"]["share"])  # capped by the sessions' bills, not NaN


def test_a_non_finite_price_falls_through_to_the_next_pricer(branch: Feature) -> None:
    env = misbehave(branch, "nan-price")
    doc = env.json(branch.repo.path, "report")
    assert doc["totals"]["cost_usd"] > 0 and doc["totals"]["unpriced_requests"] == 0
    [warning] = plugin_warnings(doc)
    assert "returned a cost of nan (not a finite number >= 0)" in warning


@pytest.mark.parametrize("ways", [("hang", "hang-price"), ("swallow",)])
def test_a_plugin_past_its_time_limit_is_disabled_for_the_run(
    branch: Feature, ways: tuple[str, ...]
) -> None:
    env = misbehave(branch, *ways, TOKENTRAIL_PLUGIN_TIMEOUT="1")
    began = time.monotonic()
    doc = env.json(branch.repo.path, "report")
    assert time.monotonic() - began < 30
    warnings = plugin_warnings(doc)
    assert warnings and all("took longer than 1 s (disabled for this run)" in w for w in warnings)
    assert len(warnings) == 1  # the first time-out disables the plugin for every hook
    assert doc["totals"]["cost_usd"] > 0
