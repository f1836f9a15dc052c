"""Note lines: union by (session, agent, host), bigger wins, stable bytes for cat_sort_uniq."""

from __future__ import annotations

from typing import Any

from tokentrail.notes import combine, encode_note, note_line, notes_ref, parse_note, union


def line(sid: str, host: str, requests: int, commit: str = "c1", last: str = "t") -> dict[str, Any]:
    row = {
        "id": sid,
        "agent": "codex",
        "link": "strong",
        "models": {"m": requests},
        "requests": requests,
        "input_tokens": requests * 10,
        "cost_usd": 0.5,
        "last": last,
    }
    return note_line(commit, row, host=host, pricing="p1")


def test_union_never_loses_a_session_and_keeps_the_bigger() -> None:
    old = [line("a", "h1", 3), line("b", "h1", 1)]
    new = [line("a", "h1", 2), line("a", "h2", 1)]
    merged = union(old, new)
    got = {(x["id"], x["host"]): x["requests"] for x in merged}
    assert got == {("a", "h1"): 3, ("b", "h1"): 1, ("a", "h2"): 1}
    assert union(merged, merged) == merged


def test_encoding_is_stable_and_parses_back() -> None:
    lines = [line("b", "h1", 1), line("a", "h1", 2)]
    text = encode_note(lines)
    assert text == encode_note(list(reversed(lines)))
    assert text.splitlines() == sorted(text.splitlines())
    parsed, foreign = parse_note(text + 'not json\n{"other": 1}\n')
    assert foreign == 2 and len(parsed) == 2
    # cat_sort_uniq of two notes holding the same key twice: readers keep the bigger
    doubled, _ = parse_note(encode_note([line("a", "h1", 1)]) + encode_note([line("a", "h1", 4)]))
    assert [x["requests"] for x in doubled] == [4]


def test_combine_sums_a_session_across_commits() -> None:
    out = combine(
        [[line("a", "h1", 2, "c1")], [line("a", "h1", 3, "c2"), line("b", "h1", 1, "c2")]], "m"
    )
    a = next(x for x in out if x["id"] == "a")
    assert a["requests"] == 5 and a["input_tokens"] == 50 and a["cost_usd"] == 1.0
    assert a["commit"] == "m" and a["carried_from"] == ["c1", "c2"] and a["models"] == {"m": 5}


def test_notes_ref_names() -> None:
    assert notes_ref({}) == "refs/notes/tokentrail"
    assert notes_ref({"notes": {"ref": "x"}}) == "refs/notes/x"
    assert notes_ref({"notes": {"ref": "x"}}, "refs/notes/y") == "refs/notes/y"
