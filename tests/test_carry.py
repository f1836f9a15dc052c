"""The carry model: sizes from context jumps, windows until compaction, and conservation
on every real corpus session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builtin.detectors import Build, call, corpus, pricer
from tests.cli_run import CORPUS, claude_config_from_corpus
from tokentrail.carry import compute
from tokentrail.catalog import SessionFilter
from tokentrail.pipeline import load_sessions
from tokentrail.plugins import get_plugin_manager


def test_an_item_is_carried_by_every_later_request_of_its_thread_until_compaction() -> None:
    b = Build()
    b.turn(call("Bash", command="npm install", tokens=5000))
    b.turns(3)
    b.turn(subagent="helper")  # another thread: does not re-send it
    b.turn()
    b.compact()
    b.turns(2)
    carry = compute(b.session(), pricer())
    item = carry.item(b.calls[0].id)
    assert item is not None and item.measured
    assert item.size_tokens == 5000 and item.carried_requests == 4
    assert item.carry_tokens == 20000
    # Sonnet 4.5: re-sent at the cache-read price ($0.30/M) by 4 requests, and written to the
    # cache once by the request that first sent it ($3.75/M, a $3.45/M premium)
    assert item.carry_usd == pytest.approx(20000 * 0.30 / 1e6 + 5000 * 3.45 / 1e6, rel=1e-3)
    assert carry.carried_tokens + carry.remainder_tokens == carry.billed_tokens


def test_parallel_results_share_the_measured_jump_by_their_estimates() -> None:
    b = Build()
    b.turn(call("Read", files=("/a",), tokens=1000), call("Read", files=("/b",), tokens=3000))
    b.turn()
    carry = compute(b.session(), pricer())
    sizes = [carry.items[0].size_tokens, carry.items[1].size_tokens]
    assert sizes == [1000, 3000]


def test_without_a_usable_jump_the_size_is_estimated() -> None:
    b = Build()
    b.turn(call("Bash", command="ls", tokens=700), lower_bound=True)
    b.turn()
    [item] = compute(b.session(), pricer()).items
    assert not item.measured and item.size_tokens == 700


def test_an_item_never_carries_more_than_the_request_sent() -> None:
    b = Build()
    b.turn(call("Bash", command="cat big.log", tokens=50000))
    b.turn()
    b.requests[1].usage.cache_read = 1000  # the log says the next request sent far less
    b.requests[1].usage.cache_write_5m = 0
    carry = compute(b.session(), pricer())
    assert carry.items[0].carry_tokens <= b.requests[1].usage.prompt_tokens
    assert carry.remainder_tokens >= 0


def test_conservation_on_every_corpus_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(claude_config_from_corpus(tmp_path)))
    monkeypatch.setenv("CODEX_HOME", str(CORPUS / "codex" / "madshn-localpush"))
    sessions = load_sessions(get_plugin_manager(), SessionFilter(), {}).catalog.sessions
    assert len(sessions) >= 20
    carried_somewhere = 0
    for s in sessions:
        c = compute(s, pricer())
        assert c.billed_tokens == s.usage().total
        assert c.carried_tokens + c.remainder_tokens == c.billed_tokens, s.id
        assert 0 <= c.carried_tokens <= c.input_side_tokens, s.id
        assert all(i.carry_tokens >= 0 and i.carry_usd >= 0 for i in c.items), s.id
        assert c.carried_usd <= c.billed_usd + 1e-9 and c.remainder_usd >= -1e-9, s.id
        # per request: what items carried never exceeds what the request sent
        carried_somewhere += c.carried_tokens > 0
    assert carried_somewhere >= 15


def test_inline_sidechain_tasks_are_threads_of_their_own() -> None:
    """fe5e1c67 (Claude Code 1.0.98) writes its Task subagents inline: the `find` result of
    one Task is carried by that Task's 6 later requests, not by every request of every Task
    (it was 124 before: 33 % of input-side tokens; the log shows about 1.6 %)."""
    run = corpus()
    session = run.session("fe5e1c67")
    sidechains = {r.subagent for r in session.requests if r.subagent}
    assert len(sidechains) >= 3 and "sidechain" not in sidechains
    [find] = [
        c
        for c in session.tool_calls
        if (c.command or "").startswith("find /path/to/Demo/todo-app -type f")
    ]
    item = run.carry("fe5e1c67").item(find.id)
    assert item is not None and item.carried_requests == 6
    share = item.carry_tokens / run.carry("fe5e1c67").input_side_tokens
    assert 0.01 < share < 0.025
    assert "124 times" not in run.cause("fe5e1c67")
