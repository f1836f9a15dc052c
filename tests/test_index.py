"""The persistent index: exact (its rows equal a fresh parse), and it survives whatever
happens to the logs and to itself: appended, truncated and rewritten logs, deleted logs
(rows kept), a schema change, a corrupt file, concurrent runs."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import (
    CORPUS,
    claude_config_from_corpus,
    isolated_env,
    tokentrail,
    tokentrail_json,
)
from tests.logs import claude_call, write_jsonl
from tokentrail import catalog
from tokentrail.demo import (
    Bash,
    Filler,
    Read,
    Reply,
    Task,
    write_claude_session,
    write_codex_session,
)
from tokentrail.figures import session_row, totals
from tokentrail.index import Index
from tokentrail.model import Price, Session
from tokentrail.plugins import get_plugin_manager

START = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)


def corpus_env(tmp: Path) -> dict[str, str]:
    codex = tmp / "codex" / "sessions" / "2026" / "01" / "01"
    codex.mkdir(parents=True)
    for path in sorted((CORPUS / "codex").rglob("*.jsonl")):
        rel = path.relative_to(CORPUS).as_posix().replace("/", "__")
        (codex / f"rollout-{rel}").symlink_to(path)
    return isolated_env(
        tmp / "home",
        CLAUDE_CONFIG_DIR=claude_config_from_corpus(tmp),
        CODEX_HOME=tmp / "codex",
        TOKENTRAIL_CACHE_DIR=tmp / "cache",
    )


def fresh_parse(env: dict[str, str]) -> dict[str, Any]:
    """What `sessions --json` must say, computed without the index: every discovered
    session parsed by its adapter, priced request by request, deduplicated across
    sessions in start order, summed."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        get_plugin_manager.cache_clear()
        pm = get_plugin_manager()
        price = pm.first_result_caller("price_request", Price)
        sessions: list[Session] = []
        for _, adapter, ref in catalog.discover(pm, catalog.SessionFilter()):
            session = adapter.parse(ref)
            if session.start is None and not session.requests:
                continue
            for r in session.requests:
                answer = price(request=r, config={})
                r.cost_usd = answer[1].cost_usd if answer else None
                r.price_source = answer[1].source if answer else None
            sessions.append(session)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_plugin_manager.cache_clear()
    sessions.sort(key=lambda s: (s.start is None, s.start or datetime.min, s.id))
    seen: set[tuple[str, str]] = set()
    for s in sessions:
        kept = []
        for r in s.requests:
            if r.key is not None and (s.agent, r.key) in seen:
                continue
            if r.key is not None:
                seen.add((s.agent, r.key))
            kept.append(r)
        s.requests = kept
    every = [r for s in sessions for r in s.requests]
    return {
        "sessions": [session_row(s) for s in sessions],
        "totals": {"sessions": len(sessions), **totals(every)},
    }


def listing(env: dict[str, str], *args: str) -> dict[str, Any]:
    doc: dict[str, Any] = tokentrail_json("sessions", *args, env=env)
    return doc


def test_the_index_gives_exactly_what_a_fresh_parse_of_the_corpus_gives(tmp_path: Path) -> None:
    env = corpus_env(tmp_path)
    expected = fresh_parse(env)
    cold = listing(env)
    warm = listing(env)
    assert len(expected["sessions"]) >= 25
    for doc in (cold, warm):
        assert doc["sessions"] == expected["sessions"]
        assert doc["totals"] == expected["totals"]
        assert doc["kept_after_deletion"] == 0
    info = tokentrail_json("cache", "info", env=env)
    assert info["sessions"] >= len(expected["sessions"])
    assert info["requests"] == expected["totals"]["requests"]


def test_stored_sessions_decode_to_what_the_adapter_parsed(tmp_path: Path) -> None:
    """Every field of every corpus session (requests, tool calls, prompts, compactions,
    agent commits, parse issues) comes back from the index unchanged."""
    env = corpus_env(tmp_path)
    os.environ.update(env)
    pm = get_plugin_manager()
    index = Index(tmp_path / "roundtrip.sqlite3")
    try:
        found = catalog.discover(pm, catalog.SessionFilter())
        assert len(found) >= 25
        for n, (_, adapter, ref) in enumerate(found):
            session = adapter.parse(ref)
            sid = index.store(session, (ref.agent, ref.id, f"p{n}"), "d", "p", None, {}, 0)
            again = index.sessions([sid])[sid]
            assert again == session, ref.path
            assert again.tool_calls == session.tool_calls
    finally:
        index.close()


# -- logs that change ---------------------------------------------------------------------


def claude_env(tmp: Path) -> dict[str, str]:
    return isolated_env(
        tmp / "home",
        CLAUDE_CONFIG_DIR=tmp / "claude",
        CODEX_HOME=tmp / "codex",
        TOKENTRAIL_CACHE_DIR=tmp / "cache",
    )


def busy_session(tmp: Path, name: str, **kw: Any) -> list[Path]:
    """A realistic session (tool calls and their results, a subagent when asked) written
    to a scratch folder: the tests feed its bytes to the real log folder bit by bit."""
    written = write_claude_session(
        tmp / name,
        "/work/app",
        start=START,
        seed=name,
        events=[
            Read("src/app.py", 3000),
            Bash("pytest -q", output_chars=9000, exit_code=1),
            *kw.pop("extra", []),
            Filler(6),
            Bash("pytest -q", output_chars=400),
            Reply(),
        ],
        **kw,
    )
    return written.paths


def place(source: Path, scratch: Path, target_root: Path) -> Path:
    """Where `source` (under scratch/projects/...) lives in the real log folder."""
    return target_root / source.relative_to(scratch)


def test_an_appended_log_gives_what_a_fresh_parse_gives(tmp_path: Path) -> None:
    (main,) = busy_session(tmp_path, "scratch")
    full = main.read_bytes()
    lines = full.splitlines(keepends=True)
    log = place(main, tmp_path / "scratch", tmp_path / "claude")
    log.parent.mkdir(parents=True)
    env = claude_env(tmp_path)
    for cut in (len(lines) // 3, 2 * len(lines) // 3, len(lines)):
        log.write_bytes(b"".join(lines[:cut]))
        assert listing(env)["sessions"] == fresh_parse(env)["sessions"], cut
    assert listing(env)["skipped"]["bad_lines"] == 0


def test_a_half_written_last_line_is_counted_then_read_when_complete(tmp_path: Path) -> None:
    (main,) = busy_session(tmp_path, "scratch")
    full = main.read_bytes()
    log = place(main, tmp_path / "scratch", tmp_path / "claude")
    log.parent.mkdir(parents=True)
    env = claude_env(tmp_path)
    cut = full.rfind(b"\n", 0, len(full) // 2) + 40  # 40 bytes into a line
    log.write_bytes(full[:cut])
    partial = listing(env)
    assert partial["skipped"]["truncated_lines"] == 1
    log.write_bytes(full)
    done = listing(env)
    assert done["skipped"]["truncated_lines"] == 0
    assert done["sessions"] == fresh_parse(env)["sessions"]


def test_appended_subagent_and_main_files_are_exact(tmp_path: Path) -> None:
    paths = busy_session(tmp_path, "scratch", extra=[Task("look around", 5)])
    assert len(paths) == 2  # the main file and the subagent's
    env = claude_env(tmp_path)
    contents = [p.read_bytes() for p in paths]
    targets = [place(p, tmp_path / "scratch", tmp_path / "claude") for p in paths]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    for share in (0.4, 0.7, 1.0):
        for content, target in zip(contents, targets):
            lines = content.splitlines(keepends=True)
            target.write_bytes(b"".join(lines[: int(len(lines) * share)]))
        assert listing(env)["sessions"] == fresh_parse(env)["sessions"], share


def test_an_appended_codex_rollout_is_exact(tmp_path: Path) -> None:
    written = write_codex_session(
        tmp_path / "scratch",
        "/work/app",
        start=START,
        seed="x",
        events=[Bash("make test", output_chars=5000, exit_code=2), Filler(5), Reply()],
    )
    (rollout,) = written.paths
    full = rollout.read_bytes().splitlines(keepends=True)
    target = tmp_path / "codex" / rollout.relative_to(tmp_path / "scratch")
    target.parent.mkdir(parents=True)
    env = claude_env(tmp_path)
    for cut in (3, len(full) // 2, len(full)):
        target.write_bytes(b"".join(full[:cut]))
        assert listing(env)["sessions"] == fresh_parse(env)["sessions"], cut


def test_truncated_and_rewritten_logs_are_read_again_whole(tmp_path: Path) -> None:
    log = tmp_path / "claude" / "projects" / "-work-app" / "s1.jsonl"
    calls = [
        claude_call(n, f"2026-02-10T12:0{n}:00.000Z", "claude-sonnet-4-5", read=1000 * n)
        for n in range(1, 6)
    ]
    write_jsonl(log, [line for call in calls for line in call])
    env = claude_env(tmp_path)
    assert listing(env)["totals"]["requests"] == 5
    write_jsonl(log, [line for call in calls[:3] for line in call])  # truncated
    doc = listing(env)
    assert doc["totals"]["requests"] == 3 and doc["totals"]["cache_read_tokens"] == 6000
    replacement = tmp_path / "new.jsonl"  # a new file renamed over it (a new inode)
    write_jsonl(replacement, [line for call in calls[3:] for line in call])
    replacement.replace(log)
    doc = listing(env)
    assert doc["totals"]["requests"] == 2 and doc["totals"]["cache_read_tokens"] == 9000


def test_same_size_and_mtime_is_not_read_again(tmp_path: Path) -> None:
    log = tmp_path / "claude" / "projects" / "-work-app" / "s1.jsonl"
    write_jsonl(log, claude_call(1, "2026-02-10T12:00:00.000Z", "claude-sonnet-4-5", read=1000))
    env = claude_env(tmp_path)
    first = listing(env)
    st = log.stat()
    log.write_bytes(
        log.read_bytes().replace(
            b'"cache_read_input_tokens": 1000', b'"cache_read_input_tokens": 9999'
        )
    )
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = listing(env)
    assert second["sessions"] == first["sessions"]
    assert second["sessions"][0]["cache_read_tokens"] == 1000


# -- deleted logs ---------------------------------------------------------------------------


def test_deleted_logs_keep_their_rows_until_told_otherwise(tmp_path: Path) -> None:
    env = claude_env(tmp_path)
    logs = []
    for n, cwd in enumerate(("/work/app", "/work/other")):
        logs.append(
            write_jsonl(
                tmp_path / "claude" / "projects" / cwd.replace("/", "-") / f"s{n}.jsonl",
                claude_call(
                    n + 1,
                    f"2026-02-1{n}T12:00:00.000Z",
                    "claude-sonnet-4-5",
                    read=1000,
                    cwd=cwd,
                    session=f"s{n}",
                ),
            )
        )
    before = listing(env)
    logs[0].unlink()  # the agent's 30-day cleanup
    after = listing(env)
    assert after["sessions"] == before["sessions"] and after["totals"] == before["totals"]
    assert after["kept_after_deletion"] == 1
    text = tokentrail("sessions", env=env).stdout
    assert "1 session(s) kept after their logs were deleted" in text
    scoped = listing(env, "--repo", "/work/app")
    assert [s["id"] for s in scoped["sessions"]] == ["s0"] and scoped["kept_after_deletion"] == 1
    # another log folder is another machine's history: not ours to show
    other = {**env, "CLAUDE_CONFIG_DIR": str(tmp_path / "elsewhere")}
    assert listing(other)["sessions"] == []
    # turned off: dropped from the index for good
    off = listing({**env, "TOKENTRAIL_KEEP_DELETED": "0"})
    assert [s["id"] for s in off["sessions"]] == ["s1"] and off["kept_after_deletion"] == 0
    assert [s["id"] for s in listing(env)["sessions"]] == ["s1"]


def test_cache_clear_forgets_deleted_sessions_and_config_turns_keeping_off(
    tmp_path: Path,
) -> None:
    env = claude_env(tmp_path)
    log = write_jsonl(
        tmp_path / "claude" / "projects" / "-work-app" / "s1.jsonl",
        claude_call(1, "2026-02-10T12:00:00.000Z", "claude-sonnet-4-5"),
    )
    listing(env)
    log.unlink()
    assert listing(env)["kept_after_deletion"] == 1
    cleared = tokentrail_json("cache", "clear", env=env)
    assert any(p.endswith("index.sqlite3") for p in cleared["removed"])
    assert listing(env)["sessions"] == []
    info = tokentrail_json("cache", "info", env=env)
    assert info["sessions"] == 0
    # the setting in .tokentrail.yml
    log = write_jsonl(log, claude_call(1, "2026-02-10T12:00:00.000Z", "claude-sonnet-4-5"))
    listing(env)
    log.unlink()
    config = tmp_path / "cfg.yml"
    config.write_text("history:\n  keep_deleted: false\n")
    assert listing({**env, "TOKENTRAIL_CONFIG": str(config)})["sessions"] == []


# -- the index file itself ----------------------------------------------------------------


def small_home(tmp: Path) -> dict[str, str]:
    for n in range(3):
        write_jsonl(
            tmp / "claude" / "projects" / "-work-app" / f"s{n}.jsonl",
            [
                line
                for k in range(4)
                for line in claude_call(
                    10 * n + k,
                    f"2026-02-1{n}T12:0{k}:00.000Z",
                    "claude-sonnet-4-5",
                    read=1000 * (k + 1),
                    session=f"s{n}",
                )
            ],
        )
    return claude_env(tmp)


def test_a_schema_change_rebuilds_the_index(tmp_path: Path) -> None:
    env = small_home(tmp_path)
    good = listing(env)
    db = sqlite3.connect(tmp_path / "cache" / "index.sqlite3")
    with db:
        db.execute("UPDATE meta SET v = 'an older tokentrail' WHERE k = 'shape'")
        db.execute("UPDATE sessions SET sid = 'from-the-old-schema'")  # shows if trusted
    db.close()
    assert listing(env) == good
    db = sqlite3.connect(tmp_path / "cache" / "index.sqlite3")
    assert db.execute("SELECT count(*) FROM sessions WHERE sid LIKE 'from%'").fetchone()[0] == 0
    db.close()


@pytest.mark.parametrize("damage", ["flip", "rows", "truncate", "garbage", "empty"])
def test_a_corrupt_index_is_rebuilt_never_trusted(tmp_path: Path, damage: str) -> None:
    env = small_home(tmp_path)
    good = listing(env)
    detail = tokentrail_json("session", "s1", env=env)
    path = tmp_path / "cache" / "index.sqlite3"
    blob = path.read_bytes()
    if damage == "flip":  # same length, different data: only our checksums can tell
        assert b"claude-sonnet-4-5" in blob
        path.write_bytes(blob.replace(b"claude-sonnet-4-5", b"claude-sonnet-9-9"))
    elif damage == "rows":  # one request's output changed, inside a valid record array
        db = sqlite3.connect(path)
        with db:
            for sid, blob in db.execute("SELECT id, requests FROM contents").fetchall():
                records = json.loads(blob)
                records[0][7] += 1
                db.execute(
                    "UPDATE contents SET requests = ? WHERE id = ?",
                    (json.dumps(records).encode(), sid),
                )
        db.close()
    elif damage == "truncate":
        path.write_bytes(blob[: len(blob) // 3])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(blob)))
    else:
        path.write_bytes(b"")
    assert tokentrail_json("session", "s1", env=env) == detail
    assert listing(env) == good
    assert listing(env) == good


def test_concurrent_runs_share_the_index_safely(tmp_path: Path) -> None:
    """Real processes (hooks of parallel worktrees) racing to fill one index."""
    import subprocess

    from tests.cli_run import INSTALLED_CLI

    env = small_home(tmp_path)
    procs = [
        subprocess.Popen(
            [INSTALLED_CLI, "sessions", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outputs]
    docs = [json.loads(out)["sessions"] for out, _ in outputs]
    assert all(d == docs[0] for d in docs) and len(docs[0]) == 3
    assert tokentrail_json("cache", "info", env=env)["sessions"] == 3


def test_no_cache_leaves_nothing_behind(tmp_path: Path) -> None:
    env = {**small_home(tmp_path), "TOKENTRAIL_NO_CACHE": "1"}
    assert len(listing(env)["sessions"]) == 3
    assert not (tmp_path / "cache").exists()
    doc = tokentrail("cache", "info", "--json", env=env, check=False)
    assert doc.returncode == 1 and json.loads(doc.stdout)["error"]["code"] == "cache_disabled"


def test_cache_info_says_where_and_how_big(tmp_path: Path) -> None:
    env = small_home(tmp_path)
    assert "not created yet" in tokentrail("cache", "info", env=env).stdout
    listing(env)
    text = tokentrail("cache", "info", env=env).stdout
    assert str(tmp_path / "cache" / "index.sqlite3") in text
    assert "3 session(s)" in text and "12 request row(s)" in text


def test_stored_detector_results_give_the_report_a_fresh_analysis_gives(
    tmp_path: Path,
) -> None:
    """The demo branch (real findings of several detectors): the report from stored
    detector results is the report from running the detectors, and a config change that
    detectors read (thresholds) is not answered from the stored results."""
    from tokentrail.demo.repo import build_demo

    demo = build_demo(tmp_path / "demo")
    env = isolated_env(
        tmp_path / "home",
        CLAUDE_CONFIG_DIR=demo.claude_dir,
        CODEX_HOME=demo.codex_home,
        TOKENTRAIL_CACHE_DIR=tmp_path / "cache",
        GIT_CONFIG_NOSYSTEM="1",
    )

    def report(**extra: str) -> dict[str, Any]:
        doc: dict[str, Any] = tokentrail_json("report", env={**env, **extra}, cwd=demo.repo)
        return doc

    fresh = report(TOKENTRAIL_NO_CACHE="1")
    assert len({f["detector"] for f in fresh["findings"]}) >= 3
    first, stored = report(), report()
    assert first == fresh and stored == fresh
    info = tokentrail_json("cache", "info", env=env)
    assert info["detector_results"] >= 2
    config = tmp_path / "strict.yml"
    config.write_text("thresholds:\n  generated_min_tokens: 100000\n")
    stricter = report(TOKENTRAIL_CONFIG=str(config))
    assert stricter == report(TOKENTRAIL_CONFIG=str(config), TOKENTRAIL_NO_CACHE="1")
    assert stricter["findings"] != fresh["findings"]


def test_calls_copied_into_a_resumed_session_count_once(tmp_path: Path) -> None:
    """A resumed session's file starts with copies of the earlier session's calls: the
    listing (from stored key hashes) drops exactly what a fresh parse drops."""
    env = claude_env(tmp_path)
    folder = tmp_path / "claude" / "projects" / "-work-app"
    calls = [
        claude_call(
            n, f"2026-02-10T12:0{n}:00.000Z", "claude-sonnet-4-5", read=1000 * n, session="first"
        )
        for n in range(1, 5)
    ]
    write_jsonl(folder / "first.jsonl", [line for c in calls for line in c])
    resumed = [line for c in calls[:3] for line in c] + [
        line
        for n in (5, 6)
        for line in claude_call(
            n, f"2026-02-10T13:0{n}:00.000Z", "claude-sonnet-4-5", read=5000, session="second"
        )
    ]
    write_jsonl(folder / "second.jsonl", resumed)
    for _ in range(2):  # cold, then from the index
        doc = listing(env)
        expected = fresh_parse(env)
        assert doc["sessions"] == expected["sessions"]
        assert doc["totals"] == expected["totals"]
        assert doc["skipped"]["duplicate_requests"] == 3
        assert [s["requests"] for s in doc["sessions"]] == [4, 2]


def test_rows_stored_ready_for_output_are_still_redacted_when_they_need_it(
    tmp_path: Path,
) -> None:
    """Rows are checked for output once, when stored: a clean row is passed through as is;
    one holding a secret (here in a branch name) is redacted on every listing, cold or
    warm, exactly as a fresh parse would show it."""
    env = claude_env(tmp_path)
    folder = tmp_path / "claude" / "projects" / "-work-app"
    secret = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    write_jsonl(folder / "clean.jsonl", claude_call(1, "2026-01-05T10:00:00Z", "claude-sonnet-4-5"))
    write_jsonl(
        folder / "leaky.jsonl",
        claude_call(2, "2026-01-05T11:00:00Z", "claude-sonnet-4-5", branch=secret, session="s2"),
    )
    for run in ("cold", "warm"):
        rows = {row["id"]: row for row in listing(env)["sessions"]}
        assert rows["clean"]["branches"] == ["main"], run
        assert secret not in json.dumps(rows["leaky"]), run
        assert "[REDACTED]" in rows["leaky"]["branches"][0], run
    db = sqlite3.connect(tmp_path / "cache" / "index.sqlite3")
    flags = dict(db.execute("SELECT sid, ready FROM sessions").fetchall())
    assert flags == {"clean": 1, "leaky": 0}


def test_the_overlap_of_sessions_follows_new_and_grown_logs(tmp_path: Path) -> None:
    """Which sessions share calls is worked out again only for the sessions stored since
    it was last known: a new session with copies of an older one's calls, then the older
    one growing a copy of the new one's call, both count each call once, as a fresh parse
    does, and the kept set covers the exact one."""
    env = claude_env(tmp_path)
    folder = tmp_path / "claude" / "projects" / "-work-app"

    def call(n: int, session: str) -> list[dict[str, Any]]:
        return claude_call(n, f"2026-02-10T12:0{n}:00.000Z", "claude-sonnet-4-5", session=session)

    write_jsonl(folder / "first.jsonl", [line for n in (1, 2, 3) for line in call(n, "first")])
    assert listing(env)["skipped"]["duplicate_requests"] == 0
    second = [line for n in (1, 2, 4, 5) for line in call(n, "second")]
    write_jsonl(folder / "second.jsonl", second)
    doc = listing(env)
    assert doc["sessions"] == fresh_parse(env)["sessions"]
    assert doc["skipped"]["duplicate_requests"] == 2
    with (folder / "first.jsonl").open("a") as log:  # the older log grows
        log.writelines(json.dumps(line) + "\n" for line in call(5, "first"))
    doc = listing(env)
    assert doc["sessions"] == fresh_parse(env)["sessions"]
    assert doc["skipped"]["duplicate_requests"] == 3
    index = Index(tmp_path / "cache" / "index.sqlite3")
    try:
        kept = index.overlapping()
        assert kept >= index._overlapping_all() and len(kept) == 2
        assert index.db is not None
        assert not index.db.execute("SELECT 1 FROM memo WHERE kind = 'dirty'").fetchall()
    finally:
        index.close()
