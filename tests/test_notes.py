"""Note lines: one per session, every request counted once (lines name their requests),
unreadable lines kept and counted, stable bytes for cat_sort_uniq."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tokentrail.notes import (
    combine,
    encode_note,
    merge_pair,
    note_line,
    notes_ref,
    parse_note,
    parse_note_text,
    rid_set,
    union,
)


def rids(*numbers: int) -> str:
    return "".join(f"{n:010x}" for n in sorted(numbers))


def line(sid: str, numbers: range | list[int], commit: str = "c1", **extra: Any) -> dict[str, Any]:
    numbers = list(numbers)
    row = {
        "id": sid,
        "agent": "codex",
        "link": "content",
        "models": {"m": len(numbers)},
        "requests": len(numbers),
        "input_tokens": 10 * len(numbers),
        "cost_usd": 0.1 * len(numbers),
        "last": f"t{max(numbers, default=0):03d}",
        "rids": rids(*numbers),
        **extra,
    }
    return note_line(commit, row, pricing="p1")


def test_a_line_names_its_requests_and_no_machine() -> None:
    one = line("a", range(3))
    assert one["v"] == 2 and "host" not in one
    assert rid_set(one) == {f"{n:010x}" for n in range(3)}


def test_union_keeps_the_line_that_covers_the_other_and_sums_disjoint_ones() -> None:
    older, newer = line("a", range(3)), line("a", range(5))
    assert union([older], [newer]) == union([newer], [older]) == [newer]
    # the same session noted on two machines: the same line, once
    assert union([newer], [dict(newer)]) == [newer]
    # an amend carried the old commit's line next to the new commit's (other requests)
    a, b = line("a", range(3), "old"), line("a", range(3, 5), "new")
    [both] = union([a], [b])
    assert both["requests"] == 5 and both["input_tokens"] == 50 and rid_set(both) == rid_set(newer)
    # overlapping in part (never written by attribution): the bigger, never a double count
    part = merge_pair(line("a", range(4)), line("a", range(2, 8)))
    assert part["requests"] == 6


def test_union_of_a_version_1_note_keeps_the_bigger_line_whatever_the_host() -> None:
    v1 = {"v": 1, "kind": "session", "id": "a", "agent": "codex", "host": "h1", "requests": 3}
    other_host = {**v1, "host": "h2", "requests": 2}
    [kept] = union([v1], [other_host])
    assert kept["requests"] == 3


def test_encoding_is_stable_and_parses_back() -> None:
    lines = [line("b", [1]), line("a", [2, 3])]
    text = encode_note(lines)
    assert text == encode_note(list(reversed(lines)))
    assert text.splitlines() == sorted(text.splitlines())
    parsed, foreign = parse_note(text + 'not json\n{"other": 1}\n')
    assert foreign == 2 and len(parsed) == 2
    # cat_sort_uniq of two notes holding the same session twice: readers keep the covering one
    doubled, _ = parse_note(encode_note([line("a", [1])]) + encode_note([line("a", [1, 2, 3, 4])]))
    assert [x["requests"] for x in doubled] == [4]


BROKEN = [
    ("not json", '{"kind": "session", "v": 2, "id": "x"'),
    ("unknown_version", '{"kind": "session", "v": 9, "id": "x", "agent": "a"}'),
    ("unknown_version", '{"kind": "session", "id": "x", "agent": "a"}'),
    ("no_session_id", '{"kind": "session", "v": 2, "agent": "a"}'),
    ("no_session_id", '{"kind": "session", "v": 2, "id": "", "agent": "a"}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": 5}'),
    (
        "negative_or_absurd_count",
        '{"kind": "session", "v": 2, "id": "x", "agent": "a", "requests": -1}',
    ),
    (
        "negative_or_absurd_count",
        '{"kind": "session", "v": 2, "id": "x", "agent": "a", "input_tokens": 1e21}',
    ),
    (
        "negative_or_absurd_count",
        '{"kind": "session", "v": 2, "id": "x", "agent": "a", "cost_usd": -0.5}',
    ),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "requests": "3"}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "models": []}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "models": {"m": -1}}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "rids": "xyz"}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "rids": "abc"}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "findings": {}}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "carry": []}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "first": 5}'),
    ("bad_field", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "requests": true}'),
    ("not json", '{"kind": "session", "v": 2, "id": "x", "agent": "a", "cost_usd": NaN}'),
    ("foreign", '["kind", "session"]'),
    ("foreign", '"session"'),
    ("foreign", '{"kind": "other-tool"}'),
    ("foreign", "\x00\x01 binary"),
    ("foreign", '{"kind": ["session"]}'),
    ("foreign", "Signed-off-by: someone"),
]


@pytest.mark.parametrize(("why", "raw"), BROKEN)
def test_a_broken_line_is_skipped_counted_and_kept_the_rest_stands(why: str, raw: str) -> None:
    good = line("a", [1, 2])
    parsed = parse_note_text(encode_note([good]) + raw + "\n")
    assert parsed.lines == [good]
    assert raw in parsed.kept  # written back verbatim when the note is rewritten
    if why == "foreign":
        assert not parsed.skipped
    elif why == "not json":
        assert parsed.skipped == {"not_json": 1}
    else:
        assert parsed.skipped == {why: 1}


def test_twenty_five_kinds_of_broken_line_are_covered() -> None:
    assert len(BROKEN) == 25
    assert all(orjson.dumps(raw) for _, raw in BROKEN)


def test_combine_holds_each_request_of_a_session_once() -> None:
    out = combine(
        [
            [line("a", [1, 2], "c1")],
            [line("a", [3, 4, 5], "c2"), line("b", [9], "c2")],
            [line("a", [1, 2], "c1-rebased")],  # a carried copy of c1's note
        ],
        "m",
    )
    a = next(x for x in out if x["id"] == "a")
    assert a["requests"] == 5 and a["input_tokens"] == 50 and a["cost_usd"] == pytest.approx(0.5)
    assert a["commit"] == "m" and a["carried_from"] == ["c1", "c1-rebased", "c2"]
    assert a["models"] == {"m": 5}


def test_notes_ref_names() -> None:
    assert notes_ref({}) == "refs/notes/tokentrail"
    assert notes_ref({"notes": {"ref": "x"}}) == "refs/notes/x"
    assert notes_ref({"notes": {"ref": "x"}}, "refs/notes/y") == "refs/notes/y"
