"""The standing fuzz suite: real corpus logs and real note lines, corrupted one line at a
time, through every adapter and through `notes.parse_note`.

Properties, for every case:
- no exception escapes the parser;
- no implausible value reaches a total (every token field of every request stays within
  0..MAX_REQUEST_TOKENS; every note line within the note bounds);
- corruption never adds: Claude Code responses whose lines were not touched keep exactly
  their usage, the touched one never grows and no response appears that was not there;
  a BOM, CRLF, a lone surrogate, an odd timestamp, a duplicated line or an unknown record
  changes no total at all (lenient reading keeps the line);
  a Codex session's input-side and output totals are unchanged unless the last usage
  event itself was hit (then they never grow); note lines that were not touched are all
  still read, unchanged.

The mutations are those the issue measured: truncation, invalid UTF-8, a BOM, CRLF, NUL
bytes, lone surrogates, wrong JSON types, huge and negative numbers, odd timestamps,
duplicated lines and unknown records. Runs are deterministic (`derandomize`) and bounded
to well under a minute; `TOKENTRAIL_FUZZ=long` runs 4,000 cases per target instead.

Other adapters join by appending a FuzzTarget to TARGETS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_run import CORPUS
from tokentrail.builtin.claude_code import ClaudeCodeAdapter
from tokentrail.builtin.codex import CodexAdapter
from tokentrail.hookspecs import Adapter
from tokentrail.logfile import MAX_REQUEST_TOKENS
from tokentrail.model import Session, SessionRef
from tokentrail.notes import MAX_COUNT, encode_note, parse_note
from tokentrail.receipt import COUNT_FIELDS, sum_rows

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("long", parent=settings.get_profile("ci"), max_examples=4000)
settings.load_profile(os.environ.get("TOKENTRAIL_FUZZ", "ci"))

MAX_FILE = 320 * 1024  # corpus files up to this size are fuzzed (keeps a case ~10 ms)
HOSTILE_NUMBERS = (
    "18446744073709551616",
    "1e21",
    "1" + "0" * 30,
    "-5",
    "5000000000",
    "NaN",
    "Infinity",
    "-1e400",
)
ODD_TIMES = (
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2026-13-45T99:99:99Z",
    "",
    "2026-02-01T10:00:00+14:00",
)
WRONG_TYPES: tuple[Any, ...] = ([1, "x"], {"k": 1}, "text", 12345, 1.5, True, None)
# Mutations that leave every value a parser needs readable: the totals must not change.
LOSSLESS = ("bom", "crlf", "surrogate", "odd_timestamp", "duplicate", "unknown_record")
MUTATIONS = (
    "truncate",
    "invalid_utf8",
    "nul",
    "bom",
    "crlf",
    "surrogate",
    "surrogate_any",
    "wrong_type",
    "huge_number",
    "odd_timestamp",
    "duplicate",
    "unknown_record",
    "type_list",
)
# Where JavaScript-written text holds lone surrogates: prose, never ids or record types.
CONTENT_KEYS = ("text", "thinking", "content", "message", "output", "arguments", "summary")


@dataclass(frozen=True)
class FuzzTarget:
    """An adapter and the corpus files its fuzz cases start from."""

    name: str
    adapter: Callable[[], Adapter]
    files: tuple[Path, ...]
    cumulative: bool  # usage events carry running totals (Codex), not one call each


def corpus_files(folder: str) -> tuple[Path, ...]:
    return tuple(
        sorted(p for p in (CORPUS / folder).rglob("*.jsonl") if 0 < p.stat().st_size <= MAX_FILE)
    )


TARGETS = [
    FuzzTarget("claude-code", ClaudeCodeAdapter, corpus_files("claude-code"), cumulative=False),
    FuzzTarget("codex", CodexAdapter, corpus_files("codex"), cumulative=True),
]


def parse_file(target: FuzzTarget, path: Path) -> Session:
    adapter = target.adapter()
    return adapter.parse(SessionRef(agent=adapter.name, id="fuzz", path=path))


@cache
def clean_parse(target_name: str, path: Path) -> Session:
    target = next(t for t in TARGETS if t.name == target_name)
    return parse_file(target, path)


# --- mutations ----------------------------------------------------------------------------


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new


def _json_line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=True).encode() + b"\n"


def mutate(lines: list[bytes], index: int, kind: str, data: st.DataObject) -> list[bytes]:
    """`lines` with line `index` corrupted one way (or a line added next to it)."""
    line = lines[index]
    body = line.rstrip(b"\r\n")
    out = list(lines)
    where = data.draw(st.integers(0, max(len(body) - 1, 0)), label="position")
    if kind == "truncate":
        out[index] = body[:where] + b"\n"
    elif kind == "invalid_utf8":
        junk = data.draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
        out[index] = body[:where] + junk + body[where:] + b"\n"
    elif kind == "nul":
        out[index] = body[:where] + b"\x00" + body[where:] + b"\n"
    elif kind == "bom":
        out[index] = b"\xef\xbb\xbf" + line
    elif kind == "crlf":
        out[index] = body + b"\r\n"
    elif kind == "duplicate":
        at = data.draw(st.integers(index + 1, len(lines)), label="copy at")
        out.insert(at, body + b"\n")
    elif kind == "unknown_record":
        odd = data.draw(
            st.sampled_from(
                [
                    {"type": "fuzz-unknown", "x": 1},
                    {"type": [1]},
                    {"payload": "x"},
                    [1, 2],
                    "text",
                    5,
                ]
            )
        )
        out.insert(index, _json_line(odd))
    else:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return out
        if not isinstance(obj, dict):
            return out
        leaves = list(_leaves(obj))
        if kind == "type_list":
            obj["type"] = data.draw(st.sampled_from([["assistant"], {"t": "user"}, 7]))
        elif kind == "odd_timestamp":
            obj["timestamp"] = data.draw(st.sampled_from(ODD_TIMES))
        elif kind in ("surrogate", "surrogate_any"):
            strings = [
                p
                for p, v in leaves
                if isinstance(v, str) and (kind == "surrogate_any" or p[-1] in CONTENT_KEYS)
            ]
            if strings:
                p = strings[data.draw(st.integers(0, len(strings) - 1))]
                value = obj
                for step in p:
                    value = value[step]
                _set(obj, p, value + "\ud83d")
        elif kind == "wrong_type" and leaves:
            p, old = leaves[data.draw(st.integers(0, len(leaves) - 1))]
            if p:
                _set(
                    obj,
                    p,
                    data.draw(
                        st.sampled_from([w for w in WRONG_TYPES if type(w) is not type(old)])
                    ),
                )
        elif kind == "huge_number":
            numbers = [p for p, v in leaves if isinstance(v, int) and not isinstance(v, bool)]
            if numbers:
                p = numbers[data.draw(st.integers(0, len(numbers) - 1))]
                marker = "__FUZZ_NUMBER__"
                _set(obj, p, marker)
                text = json.dumps(obj, ensure_ascii=True).replace(
                    f'"{marker}"', data.draw(st.sampled_from(HOSTILE_NUMBERS)), 1
                )
                out[index] = text.encode() + b"\n"
                return out
        out[index] = _json_line(obj)
    return out


# --- what must hold ------------------------------------------------------------------------


def figures(session: Session) -> tuple[int, int]:
    u = session.usage()
    return u.input + u.cache_read + u.cache_write, u.output


def by_key(session: Session) -> dict[str | None, tuple[int, int, int, int]]:
    return {
        r.key: (r.usage.input, r.usage.cache_read, r.usage.cache_write, r.usage.output)
        for r in session.requests
    }


def line_ids(line: bytes) -> set[str]:
    """The message id and request id of a Claude Code line (what its dedup key is made of)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return set()
    msg = obj.get("message") if isinstance(obj, dict) else None
    ids = [msg.get("id") if isinstance(msg, dict) else None, obj.get("requestId")]
    return {i for i in ids if isinstance(i, str) and i}


def key_ids(key: str) -> set[str]:
    """The ids a request key is made of ("msg:req", "msg" or "req:req")."""
    if key.startswith("req:"):
        return {key[4:]}
    return set(key.split(":", 1))


def epoch_ends(lines: list[bytes]) -> set[int]:
    """Codex lines whose running total no later event carries on (the last one before a
    reset, or the last one): destroying one of those loses its increase, legitimately."""
    totals: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        if b'_token_usage"' not in line:
            continue
        try:
            usage = orjson.loads(line)["payload"]["info"]["total_token_usage"]
            totals.append((i, int(usage.get("input_tokens") or 0)))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            continue
    ends = {i for (i, total), (_, after) in pairwise(totals) if after < total}
    if totals:
        ends.add(totals[-1][0])
    return ends if totals else set(range(len(lines)))


def check_bounds(session: Session) -> None:
    for r in session.requests:
        u = r.usage
        for value in (
            u.input,
            u.cache_read,
            u.cache_write_5m,
            u.cache_write_1h,
            u.output,
            u.reasoning,
            u.web_search_requests,
        ):
            assert type(value) is int and 0 <= value <= MAX_REQUEST_TOKENS, (r, value)


def check_case(
    target: FuzzTarget, path: Path, mutated: list[bytes], index: int, kind: str, tmp: Path
) -> None:
    clean = clean_parse(target.name, path)
    fuzzed_path = tmp / path.name
    fuzzed_path.write_bytes(b"".join(mutated))
    fuzzed = parse_file(target, fuzzed_path)  # must not raise
    check_bounds(fuzzed)
    lines = path.read_bytes().splitlines(keepends=True)
    if kind in LOSSLESS:
        assert figures(fuzzed) == figures(clean), f"{kind} at {index} changed the totals"
    if target.cumulative:
        hit_last = index in epoch_ends(lines)
        (clean_in, clean_out), (got_in, got_out) = figures(clean), figures(fuzzed)
        assert got_in <= clean_in and got_out <= clean_out, (kind, index)
        if not hit_last:
            assert (got_in, got_out) == (clean_in, clean_out), (kind, index)
        return
    ids = line_ids(lines[index]) if kind not in ("duplicate", "unknown_record") else set()
    before, after = by_key(clean), by_key(fuzzed)
    billed = [len([r for r in x.requests if r.usage.total]) for x in (clean, fuzzed)]
    assert billed[1] <= billed[0], (kind, index)
    (clean_in, clean_out), (got_in, got_out) = figures(clean), figures(fuzzed)
    assert got_in <= clean_in and got_out <= clean_out, (kind, index)
    added = [k for k, usage in after.items() if k not in before and any(usage)]
    # a response whose first line lost or garbled one id is known by its other id
    # (a response known only by its garbled line has no key at all)
    assert len(added) <= 1 and all(k is None or key_ids(k) & ids for k in added), (
        kind,
        index,
        added,
    )
    for key, usage in before.items():
        if key is None:
            continue
        if key_ids(key) & ids:
            got = after.get(key, (added and after[added[0]]) or (0, 0, 0, 0))
            assert all(g <= c for g, c in zip(got, usage)), (kind, index, key, got, usage)
        else:
            assert after.get(key) == usage, (kind, index, key)


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@given(data=st.data())
def test_corrupted_lines_never_crash_add_or_leak(
    target: FuzzTarget, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = data.draw(st.sampled_from(target.files), label="file")
    lines = path.read_bytes().splitlines(keepends=True)
    index = data.draw(st.integers(0, len(lines) - 1), label="line")
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    mutated = mutate(lines, index, kind, data)
    check_case(target, path, mutated, index, kind, tmp_path_factory.mktemp("fuzz"))


def test_the_harness_has_files_for_every_target() -> None:
    for target in TARGETS:
        assert len(target.files) >= 4, target.name


# --- note lines -------------------------------------------------------------------------------


def note_lines() -> list[dict[str, Any]]:
    """Real note lines, as `tokentrail note` writes them."""
    from tokentrail.notes import note_line

    rows = []
    for n in range(4):
        row = dict.fromkeys(COUNT_FIELDS, 0)
        row.update(
            id=f"session-{n}",
            agent="claude-code",
            link="strong",
            models={"claude-sonnet-4-5": 3 + n},
            subagent_requests=n,
            requests=3 + n,
            input_tokens=1000 * n,
            cache_read_tokens=50_000 * n,
            output_tokens=300 + n,
            cost_usd=0.01 * (n + 1),
            first="2026-02-01T10:00:00Z",
            last="2026-02-01T11:00:00Z",
            findings=[
                {
                    "id": f"f{n}",
                    "detector": "retry_loop",
                    "title": "x",
                    "wasted_tokens": 5,
                    "wasted_usd": 0.001,
                    "confidence": 0.9,
                    "measured": True,
                    "lesson": "l",
                    "evidence": [{"turn": 1}],
                }
            ],
        )
        rows.append(note_line("a" * 40, row, pricing="genai-prices 0.2.3"))
    return rows


def check_note_line(line: dict[str, Any]) -> None:
    for key in COUNT_FIELDS:
        value = line.get(key)
        if value is not None:
            assert type(value) is int and 0 <= value <= MAX_COUNT, (key, value)
    cost = line.get("cost_usd")
    assert cost is None or 0 <= cost <= MAX_COUNT


@given(data=st.data())
def test_corrupted_note_lines_never_crash_or_reach_a_total(data: st.DataObject) -> None:
    originals = {encode_note([line]).encode(): line for line in note_lines()}
    raw = b"".join(originals).splitlines(keepends=True)
    index = data.draw(st.integers(0, len(raw) - 1), label="line")
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    mutated = b"".join(mutate(raw, index, kind, data)).decode("utf-8", "replace")
    lines, _ = parse_note(mutated)
    for line in lines:
        check_note_line(line)
    sum_rows(lines)  # must not raise
    kept = [encode_note([line]).encode() for line in lines]
    for encoded in originals:
        if encoded != raw[index] or kind in ("duplicate", "unknown_record", "crlf", "bom"):
            assert encoded in kept, (kind, index)


@given(text=st.text())
def test_any_text_is_a_note_or_foreign(text: str) -> None:
    lines, foreign = parse_note(text)
    for line in lines:
        check_note_line(line)
    assert foreign >= 0
