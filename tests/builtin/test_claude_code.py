"""The Claude Code adapter through the CLI: dedup, subagents, sidechains, bad lines."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import CORPUS, invoke, isolated_env, tokentrail, tokentrail_json
from tests.logs import claude_call, write_jsonl
from tokentrail.builtin.claude_code import ClaudeCodeAdapter, _sessions_in, project_slug
from tokentrail.logfile import resume
from tokentrail.model import Session, SessionRef

TS = "2026-02-10T12:0{}:00.000Z"


def env_for(tmp: Path) -> dict[str, str]:
    return isolated_env(tmp / "home", CLAUDE_CONFIG_DIR=tmp / "claude", CODEX_HOME=tmp / "codex")


def project(tmp: Path, cwd: str = "/work/app") -> Path:
    return tmp / "claude" / "projects" / project_slug(cwd)


def test_split_lines_count_once_keeping_the_largest(tmp_path: Path) -> None:
    records = claude_call(
        1, TS.format(0), "claude-sonnet-4-5", inp=5, read=1000, w5=200, out=441, blocks=6
    )
    write_jsonl(project(tmp_path) / "s1.jsonl", records)
    row = tokentrail_json("sessions", env=env_for(tmp_path))["sessions"][0]
    assert (
        row["requests"],
        row["input_tokens"],
        row["cache_read_tokens"],
        row["cache_write_tokens"],
        row["output_tokens"],
    ) == (1, 5, 1000, 200, 441)


def test_progress_copies_and_tool_result_usage_are_not_counted(tmp_path: Path) -> None:
    call = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=50)
    progress = {
        "type": "progress",
        "cwd": "/work/app",
        "sessionId": "s1",
        "timestamp": TS.format(1),
        "data": {
            "type": "agent_progress",
            "message": {"message": {"id": "msg_sub", "usage": {"input_tokens": 999_999}}},
        },
    }
    tool_result = {
        "type": "user",
        "cwd": "/work/app",
        "sessionId": "s1",
        "timestamp": TS.format(2),
        "toolUseResult": {"usage": {"input_tokens": 77}},
        "message": {"role": "user", "content": "hi"},
    }
    write_jsonl(project(tmp_path) / "s1.jsonl", [*call, progress, tool_result])
    row = tokentrail_json("sessions", env=env_for(tmp_path))["sessions"][0]
    assert row["requests"] == 1 and row["input_tokens"] == 3


def test_subagent_files_and_inline_sidechains_belong_to_the_session(tmp_path: Path) -> None:
    folder = project(tmp_path)
    main = claude_call(1, TS.format(0), "claude-opus-4-6", read=5000, out=100)
    inline = claude_call(2, TS.format(1), "claude-sonnet-4-5", read=100, out=5, isSidechain=True)
    for rec in inline:
        rec["isSidechain"] = True
    write_jsonl(folder / "s1.jsonl", [*main, *inline])
    sub = claude_call(
        3, TS.format(2), "claude-haiku-4-5-20251001", read=700, out=7, agentId="a1b2c3"
    )
    for rec in sub:
        rec["isSidechain"] = True
    write_jsonl(folder / "s1" / "subagents" / "agent-a1b2c3.jsonl", sub)
    (folder / "s1" / "subagents" / "agent-a1b2c3.meta.json").write_text('{"agentType":"x"}')
    env = env_for(tmp_path)
    listing = tokentrail_json("sessions", env=env)
    assert [s["id"] for s in listing["sessions"]] == ["s1"]
    detail = tokentrail_json("session", "s1", env=env)
    by_sub = {r["subagent"]: r["cache_read_tokens"] for r in detail["by_subagent"]}
    assert by_sub == {"main": 5000, "sidechain-u2-0": 100, "a1b2c3": 700}
    assert len(detail["by_file"]) == 2


def test_summary_only_file_is_not_a_session(tmp_path: Path) -> None:
    write_jsonl(
        project(tmp_path) / "s0.jsonl", [{"type": "summary", "summary": "x", "leafUuid": "u"}]
    )
    assert tokentrail_json("sessions", env=env_for(tmp_path))["sessions"] == []


def test_garbled_and_truncated_lines_are_skipped_counted_and_reported(tmp_path: Path) -> None:
    first = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=10)
    second = claude_call(2, TS.format(1), "claude-sonnet-4-5", read=2000, out=20)
    path = project(tmp_path) / "s1.jsonl"
    lines = (
        [json.dumps(r) for r in first]
        + ['{"type": "assistant", "message": {oops']
        + [json.dumps(r) for r in second]
    )
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + '\n{"type":"assistant","message":{"usage":{"input_to')
    env = env_for(tmp_path)
    doc = tokentrail_json("sessions", env=env)
    assert doc["skipped"]["bad_lines"] == 1 and doc["skipped"]["truncated_lines"] == 1
    assert doc["sessions"][0]["cache_read_tokens"] == 3000
    assert any("garbled" in w for w in doc["warnings"])
    proc = tokentrail("sessions", env=env)
    assert "1 garbled and 1 truncated" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_record_types_are_ignored(tmp_path: Path) -> None:
    odd: list[dict[str, Any]] = [{"type": "worktree-state", "x": 1}, {"type": "tool_use"}, [1], 5]
    path = project(tmp_path) / "s1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        "\n".join(
            json.dumps(r) for r in odd + claude_call(1, TS.format(0), "claude-sonnet-4-5", out=5)
        )
        + "\n"
    )
    row = tokentrail_json("sessions", env=env_for(tmp_path))["sessions"][0]
    assert row["requests"] == 1


def test_agent_commit_and_placeholder_output_are_reported(tmp_path: Path) -> None:
    call = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=8, blocks=1)
    call[0]["message"]["content"] = [
        {"type": "text", "text": "x" * 900},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "Bash",
            "input": {"command": "git add -A && git commit -m 'Fix retry'"},
        },
    ]
    result = {
        "type": "user",
        "cwd": "/work/app",
        "sessionId": "s1",
        "gitBranch": "main",
        "timestamp": TS.format(1),
        "message": {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "[feature/retry 1a2b3c4] Fix retry\n 1 file changed",
                }
            ],
        },
    }
    write_jsonl(project(tmp_path) / "s1.jsonl", [*call, result])
    env = env_for(tmp_path)
    detail = tokentrail_json("session", "s1", env=env)
    assert detail["agent_commits"] == [{"sha": "1a2b3c4", "branch": "feature/retry"}]
    assert detail["session"]["output_lower_bound_requests"] == 1
    assert "≥8" in tokentrail("sessions", env=env).stdout


def test_empty_and_missing_directories_say_where_they_looked(tmp_path: Path) -> None:
    (tmp_path / "claude" / "projects").mkdir(parents=True)
    env = {**env_for(tmp_path), "COLUMNS": "200"}  # long temp paths stay on one line
    doc = tokentrail_json("sessions", env=env)
    assert doc["sessions"] == [] and doc["totals"]["requests"] == 0
    text = tokentrail("sessions", env=env).stdout
    assert "No agent sessions found" in text
    assert f"{tmp_path}/codex/sessions (missing)" in text
    assert "tokentrail demo" in text
    missing = isolated_env(
        tmp_path / "home",
        CLAUDE_CONFIG_DIR=tmp_path / "nope",
        CODEX_HOME=tmp_path / "codex",
        COLUMNS="200",
    )
    text = tokentrail("sessions", env=missing).stdout
    assert f"{tmp_path}/nope/projects (missing)" in text


def test_session_lookup_errors_are_json_documents(tmp_path: Path) -> None:
    write_jsonl(
        project(tmp_path) / "abc1.jsonl",
        claude_call(1, TS.format(0), "claude-sonnet-4-5", session="abc1"),
    )
    write_jsonl(
        project(tmp_path) / "abc2.jsonl",
        claude_call(2, TS.format(1), "claude-sonnet-4-5", session="abc2"),
    )
    env = env_for(tmp_path)
    for ident, code in (("zzz", "session_not_found"), ("abc", "ambiguous_session")):
        proc = tokentrail("session", ident, "--json", env=env, check=False)
        assert proc.returncode == 1
        doc = json.loads(proc.stdout)
        assert doc == {
            "schema_version": 1,
            "tool_version": doc["tool_version"],
            "kind": "error",
            "error": {"code": code, "message": doc["error"]["message"]},
        }
    assert tokentrail_json("session", "abc2", env=env)["session"]["id"] == "abc2"
    proc = tokentrail("session", "zzz", env=env, check=False)
    assert proc.returncode == 1 and "no session with id 'zzz'" in proc.stderr


def test_filters_by_agent_time_and_repo(tmp_path: Path) -> None:
    write_jsonl(
        project(tmp_path, "/work/app") / "a.jsonl",
        claude_call(1, "2026-01-05T10:00:00.000Z", "claude-sonnet-4-5", session="a"),
    )
    write_jsonl(
        project(tmp_path, "/work/other") / "b.jsonl",
        claude_call(
            2, "2026-02-05T10:00:00.000Z", "claude-sonnet-4-5", session="b", cwd="/work/other"
        ),
    )
    env = env_for(tmp_path)

    def ids(*args: str) -> list[str]:
        return [s["id"] for s in tokentrail_json("sessions", *args, env=env)["sessions"]]

    assert ids() == ["a", "b"]
    assert ids("--since", "2026-02-01") == ["b"]
    assert ids("--until", "2026-01-05") == ["a"]
    assert ids("--agent", "codex") == []
    assert ids("--repo", "/work/other") == ["b"]
    proc = tokentrail("sessions", "--since", "last tuesday", "--json", env=env, check=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)["error"]["code"] == "bad_time"


def test_repo_filter_accepts_a_relative_path(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    write_jsonl(
        project(tmp_path, str(app)) / "a.jsonl",
        claude_call(1, TS.format(0), "claude-sonnet-4-5", session="a", cwd=str(app)),
    )
    env = env_for(tmp_path)
    for repo, cwd in ((".", app), ("app", tmp_path)):
        doc = tokentrail_json("sessions", "--repo", repo, env=env, cwd=cwd)
        assert [row["id"] for row in doc["sessions"]] == ["a"]


# --- hostile values: a wrong type or an absurd number loses one field, never more ---------


def parse_one(folder: Path) -> Session:
    """The one session of a project folder, through the adapter's own discovery."""
    adapter = ClaudeCodeAdapter()
    refs = list(_sessions_in(folder, adapter.skipped))
    assert len(refs) == 1, refs
    return adapter.parse(refs[0])


def lines(*records: dict[str, Any]) -> list[dict[str, Any]]:
    return list(records)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("output_tokens", 2**64),
        ("output_tokens", 1e21),
        ("output_tokens", 10**30),
        ("output_tokens", -7),
        ("output_tokens", "many"),
        ("output_tokens", [5]),
        ("output_tokens", None),
    ],
)
def test_an_absurd_token_field_is_skipped_counted_and_the_rest_kept(
    tmp_path: Path, field: str, value: Any
) -> None:
    bad = claude_call(1, TS.format(0), "claude-sonnet-4-5", inp=5, read=900, w5=40, out=70)
    for rec in bad:
        rec["message"]["usage"][field] = value
    good = claude_call(2, TS.format(1), "claude-sonnet-4-5", inp=3, read=1000, out=20)
    write_jsonl(project(tmp_path) / "s1.jsonl", [*bad, *good])
    session = parse_one(project(tmp_path))
    u = session.usage()
    assert (len(session.requests), u.input, u.cache_read, u.cache_write, u.output) == (
        2,
        8,
        1900,
        40,
        20,
    )
    skipped = session.issues.implausible_values + session.issues.wrong_types
    assert skipped == (0 if value is None else 2)  # one per line of the response
    if value is not None:
        assert "totals exclude them" in session.issues.warnings[-1]


def test_wrong_types_in_records_and_blocks_do_not_drop_the_session(tmp_path: Path) -> None:
    call = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=50, blocks=1)
    call[0]["message"]["content"] = [
        {"type": "text", "text": 12345},
        {"type": "thinking", "thinking": True},
        {"type": "tool_use", "id": ["x"], "name": {"n": 1}, "input": "not a dict"},
        {"type": "tool_use", "id": "toolu_1", "name": 7, "input": {"command": ["ls", 5]}},
        "a bare string block",
    ]
    odd = [
        {"type": ["assistant"], "message": {"usage": {"input_tokens": 10**9}}},
        {"type": {"kind": "user"}},
        {"type": "user", "message": {"content": [{"type": "text", "text": 5}]}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": 5}]}},
        {"type": "system", "subtype": "compact_boundary", "compactMetadata": {"preTokens": "x"}},
        {"type": "assistant", "message": {"id": 5, "usage": "none", "content": {"a": 1}}},
        {"type": "assistant", "timestamp": "0001-01-01T00:00:00+05:00", "message": 5},
    ]
    write_jsonl(project(tmp_path) / "s1.jsonl", [*odd, *call])
    session = parse_one(project(tmp_path))
    assert [r.usage.cache_read for r in session.requests] == [1000]
    assert [c.name for c in session.tool_calls] == ["?"]
    assert session.compactions[0].pre_tokens is None
    assert session.issues.bad_records == 0  # the accessors foresaw all of it


def test_a_line_that_lost_one_id_joins_its_response(tmp_path: Path) -> None:
    """A line of a response whose message id or request id is garbled (a wrong type, bytes
    lenient decoding replaced) must not count the response a second time, even when it is
    the response's first line."""
    for garble in ({"message": ["x"]}, {"request": 7}, {"message": "msg_\ufffd1"}):
        call = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=90, blocks=3)
        for line in (call[0], call[2]):
            if "message" in garble:
                line["message"]["id"] = garble["message"]
            else:
                line["requestId"] = garble["request"]
        write_jsonl(project(tmp_path) / "s1.jsonl", call)
        session = parse_one(project(tmp_path))
        assert len(session.requests) == 1, garble
        assert session.requests[0].usage.output == 90
        assert session.requests[0].key == "msg_1:req_1"  # the sound ids name it


def test_a_line_without_a_request_id_is_its_own_request(tmp_path: Path) -> None:
    """The reference rule (formats.md §1.5, MANIFEST): an absent request id keys a line by
    its message id alone, apart from lines that carry both."""
    call = claude_call(1, TS.format(0), "claude-sonnet-4-5", read=1000, out=90, blocks=2)
    call[0].pop("requestId")
    write_jsonl(project(tmp_path) / "s1.jsonl", call)
    assert [r.key for r in parse_one(project(tmp_path)).requests] == ["msg_1", "msg_1:req_1"]


def test_subagent_fifo_and_dangling_main_file_are_named_not_hung(tmp_path: Path) -> None:
    folder = project(tmp_path)
    write_jsonl(folder / "s1.jsonl", claude_call(1, TS.format(0), "claude-sonnet-4-5", out=5))
    subagents = folder / "s1" / "subagents"
    subagents.mkdir(parents=True)
    os.mkfifo(subagents / "agent-a1.jsonl")
    (folder / "s2.jsonl").symlink_to(folder / "gone.jsonl")
    (folder / "s3.jsonl").symlink_to(folder / "s3.jsonl")
    result = invoke("sessions", "--json", env={"CLAUDE_CONFIG_DIR": tmp_path / "claude"})
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["id"] for s in doc["sessions"]] == ["s1"]
    files = doc["skipped"]["files"]
    assert f"{subagents / 'agent-a1.jsonl'}: a FIFO" in files
    assert f"{folder / 's2.jsonl'}: missing or a dangling symlink" in files
    assert f"{folder / 's3.jsonl'}: a symlink loop" in files
    assert any(
        "agent-a1.jsonl: not read (a FIFO); its requests are not counted" in w
        for w in doc["warnings"]
    )


# --- 2026 records: cost-state and pr-link -------------------------------------------------


def test_cost_state_is_kept_as_a_cross_check_and_pr_links_once_per_url(tmp_path: Path) -> None:
    calls = claude_call(1, TS.format(0), "claude-sonnet-4-5", inp=10, read=1000, out=100)
    cost = {
        "type": "cost-state",
        "sessionId": "s1",
        "totalCostUSD": 0.5,
        "hasUnknownModelCost": True,
        "modelUsage": {
            "claude-sonnet-4-5": {"inputTokens": 10, "costUSD": 0.25},
            "claude-haiku-4-5": {"costUSD": "NaN"},
        },
    }
    earlier = {**cost, "totalCostUSD": 0.1, "hasUnknownModelCost": False}
    link = {
        "type": "pr-link",
        "sessionId": "s1",
        "prNumber": 42,
        "prUrl": "https://github.com/org/repo/pull/42",
        "prRepository": "org/repo",
        "timestamp": TS.format(1),
    }
    other = {**link, "prNumber": "7", "prUrl": "https://github.com/org/repo/pull/7"}
    write_jsonl(project(tmp_path) / "s1.jsonl", [earlier, *calls, link, cost, link, other, link])
    session = parse_one(project(tmp_path))
    assert session.agent_cost_usd == 0.5  # the latest snapshot
    assert session.agent_cost_by_model == {"claude-sonnet-4-5": 0.25}
    assert session.agent_cost_unknown_models is True
    assert [(p.number, p.url, p.repository) for p in session.pr_links] == [
        (42, "https://github.com/org/repo/pull/42", "org/repo"),
        (None, "https://github.com/org/repo/pull/7", "org/repo"),
    ]
    assert session.issues.wrong_types == 2  # the "NaN" string cost, in each snapshot


def test_corpus_pr_link_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "small.jsonl").symlink_to(
        CORPUS / "claude-code/jazzyalex-agent-sessions-synthetic/small.jsonl"
    )
    session = parse_one(folder)
    assert [(p.number, p.url, p.repository) for p in session.pr_links] == [
        (1, "https://example.invalid/org/repo/pull/1", "org/repo")
    ]


def test_a_file_name_that_is_not_utf8_is_read_and_shown_safely(tmp_path: Path) -> None:
    folder = project(tmp_path)
    name = os.fsdecode(b"s\xff\xfe-1.jsonl")  # undecodable bytes, as a file system holds them
    write_jsonl(folder / name, claude_call(1, TS.format(0), "claude-sonnet-4-5", out=5))
    env: dict[str, str | Path] = {"CLAUDE_CONFIG_DIR": tmp_path / "claude"}
    listing = invoke("sessions", "--json", env=env)
    assert listing.exit_code == 0, listing.output
    [row] = json.loads(listing.stdout)["sessions"]
    assert row["id"] == "s\ufffd\ufffd-1" and row["requests"] == 1
    text = invoke("sessions", env=env)
    assert text.exit_code == 0 and "s\\xff\\xfe-1" in text.stdout
    detail = invoke("session", os.fsdecode(b"s\xff"), env=env)
    assert detail.exit_code == 0, detail.output


def _corpus_sessions(tmp: Path) -> list[tuple[Path, list[Path]]]:
    """Every Claude Code corpus session, copied (its project folder) so its files can be
    cut and grown: (folder, its files in parse order)."""
    out = []
    for source in sorted({p.parent for p in (CORPUS / "claude-code").rglob("*.jsonl")}):
        if source.name == "subagents":
            continue
        folder = tmp / source.relative_to(CORPUS).as_posix().replace("/", "__")
        shutil.copytree(source, folder)
        out.extend((folder, list(ref.paths)) for ref in _sessions_in(folder, []))
    return out


def _ref_of(folder: Path, main: Path) -> SessionRef:
    [ref] = [r for r in _sessions_in(folder, []) if r.path == main]
    return ref


def test_a_grown_log_read_from_its_resume_point_equals_a_whole_read(tmp_path: Path) -> None:
    """Every real session, its last file cut part way (at a line end, and inside a line the
    agent was still writing), read, then grown back and read from the resume point: the
    same session, issues and warnings included, as one read of the whole."""
    adapter = ClaudeCodeAdapter()
    sessions = _corpus_sessions(tmp_path)
    assert len(sessions) >= 20
    resumed_reads = 0
    for folder, paths in sessions:
        last = paths[-1]
        whole = last.read_bytes()
        expected = adapter.parse(_ref_of(folder, paths[0]))
        line_end = whole.find(b"\n", len(whole) // 4) + 1
        for cut in sorted({line_end, len(whole) // 2, len(whole)} - {0}):
            last.write_bytes(whole[:cut])
            first, token = adapter.parse_resumable(_ref_of(folder, paths[0]), None, None)
            assert token is not None, last  # written just now: may still grow
            last.write_bytes(whole)
            ref = _ref_of(folder, paths[0])
            assert resume(ref.paths, token) is not None, (last, cut)
            again, token = adapter.parse_resumable(ref, first, token)
            assert again == expected, (last, cut)
            resumed_reads += 1
    assert resumed_reads >= 50


def test_a_rewritten_log_is_read_whole_not_resumed(tmp_path: Path) -> None:
    folder = project(tmp_path)
    log = folder / "s.jsonl"
    write_jsonl(log, claude_call(1, TS.format(0), "claude-sonnet-4-5", out=5))
    adapter = ClaudeCodeAdapter()
    _, token = adapter.parse_resumable(_ref_of(folder, log), None, None)
    assert token is not None
    # same length and more, but an earlier byte changed: not the file the point was taken in
    text = log.read_bytes().replace(b'"output_tokens": 5', b'"output_tokens": 7')
    log.write_bytes(text + log.read_bytes())
    ref = _ref_of(folder, log)
    assert resume(ref.paths, token) is None
    session, _ = adapter.parse_resumable(ref, None, token)
    assert session == adapter.parse(ref)
    # a resume point is kept only for logs that may still grow
    os.utime(log, (1_000_000_000, 1_000_000_000))
    assert adapter.parse_resumable(_ref_of(folder, log), None, None)[1] is None


def test_a_resumed_read_counts_what_the_earlier_part_skipped(tmp_path: Path) -> None:
    """Garbled and leniently read lines before the resume point are reported as a whole
    read reports them, and a truncated last line is read once it is complete."""
    folder = project(tmp_path)
    log = folder / "s.jsonl"
    write_jsonl(log, claude_call(1, TS.format(0), "claude-sonnet-4-5", out=5))
    first = log.read_bytes()
    write_jsonl(log, claude_call(2, TS.format(1), "claude-sonnet-4-5", out=6))
    lenient = log.read_bytes().replace(b"claude-sonnet-4-5", b"claude-sonnet-4-5\xff", 1)
    write_jsonl(log, claude_call(3, TS.format(2), "claude-sonnet-4-5", out=7))
    third = log.read_bytes()
    whole = first + b"{not json\n" + lenient + third
    cut = len(whole) - 10  # inside the last line
    log.write_bytes(whole[:cut])
    adapter = ClaudeCodeAdapter()
    partial, token = adapter.parse_resumable(_ref_of(folder, log), None, None)
    assert partial.issues.truncated_lines == 1 and partial.issues.bad_lines == 1
    log.write_bytes(whole)
    ref = _ref_of(folder, log)
    assert resume(ref.paths, token) is not None
    resumed, _ = adapter.parse_resumable(ref, partial, token)
    assert resumed == adapter.parse(ref)
    assert resumed.issues.bad_lines == 1 and resumed.issues.repaired_lines == 1
    assert resumed.issues.truncated_lines == 0 and len(resumed.requests) == 3
