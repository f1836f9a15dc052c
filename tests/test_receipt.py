"""Receipt sums: rows from logs and rows from notes add up the same way."""

from __future__ import annotations

from tokentrail.receipt import branch_receipt, link_of, sum_rows


def test_sum_rows_cost_none_only_when_nothing_priced() -> None:
    assert sum_rows([{"requests": 2, "cost_usd": None, "unpriced_requests": 2}])["cost_usd"] is None
    both = sum_rows([{"requests": 1, "cost_usd": 0.1}, {"requests": 1, "cost_usd": 0.2}])
    assert both["cost_usd"] == 0.3 and both["requests"] == 2
    assert sum_rows([])["cost_usd"] == 0.0


def test_links() -> None:
    assert link_of(["content", "exact", "window"]) == "exact"
    assert link_of(["content", "window"]) == "content"
    assert link_of(["strong"]) == "window"  # a version-1 note's label reads as time-only


def test_branch_receipt_shape_and_detector_slots() -> None:
    row = {
        "id": "s",
        "agent": "codex",
        "link": "content",
        "requests": 1,
        "input_tokens": 5,
        "cost_usd": 0.01,
        "models": {"m": 1},
        "first": "a",
        "last": "b",
    }
    doc = branch_receipt(
        {"branch": "x"},
        [({"sha": "abc"}, [row])],
        [dict(row, id="t")],
        findings=[{"detector": "d"}],
        lessons=[{"id": "l", "text": "t"}],
    )
    assert doc["totals"]["requests"] == 2 and doc["committed"]["requests"] == 1
    assert [s["id"] for s in doc["sessions"]] == ["s", "t"]
    assert doc["sessions"][0]["commits"] == ["abc"] and doc["sessions"][1]["pending"]
    assert doc["findings"] == [{"detector": "d"}] and doc["lessons"][0]["id"] == "l"
