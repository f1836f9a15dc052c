"""The local store's files: where they live, safe names, keys written once, and whole
lines from many processes appending at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import orjson
import pytest

from tokentrail.errors import TokentrailError
from tokentrail.store import append, data_dir, session_file


def record(n: int, worker: int = 0, session: str = "s") -> dict[str, object]:
    return {
        "kind": "call",
        "agent": "bot",
        "session": session,
        "key": f"log:{worker}:{n}",
        "model": "m",
        "input_tokens": n,
        "note": "x" * 3000,  # long lines: a torn write would show
    }


def test_where_the_store_lives(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    assert data_dir() == isolated_home / ".local" / "share" / "tokentrail"
    monkeypatch.setenv("XDG_DATA_HOME", "/x/data")
    assert data_dir() == Path("/x/data/tokentrail")
    monkeypatch.setenv("TOKENTRAIL_DATA_DIR", "/y/tt")
    assert data_dir() == Path("/y/tt")


def test_ids_that_are_not_file_names_are_hashed() -> None:
    assert session_file("bot", "run-7").name == "run-7.jsonl"
    odd = session_file("bot", "../../etc/passwd")
    assert odd.parent.name == "bot" and odd.name.startswith("id-") and ".." not in odd.name
    with pytest.raises(TokentrailError) as err:
        session_file("../bot", "x")
    assert err.value.code == "bad_agent_name" and err.value.exit_code == 2


def test_a_key_is_written_once() -> None:
    assert append([record(1), record(1), record(2)]) == (2, 1)
    assert append([record(2), record(3)]) == (1, 1)
    lines = session_file("bot", "s").read_bytes().splitlines()
    assert [orjson.loads(line)["key"] for line in lines] == ["log:0:1", "log:0:2", "log:0:3"]


def _worker(worker: int) -> None:
    for n in range(100):
        append([record(n, worker)], dedup=False)


def test_concurrent_processes_write_whole_lines() -> None:
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_worker, args=(w,)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    lines = session_file("bot", "s").read_bytes().splitlines()
    keys = [orjson.loads(line)["key"] for line in lines]  # every line parses
    assert len(keys) == len(set(keys)) == 400
