"""The OpenCode adapter through the CLI: the corpus file-storage sessions where OpenCode
keeps them, the same data in an SQLite store built here from them (the schema current
builds use), per-step accounting, read-only access, and a session found in both stores."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import genai_prices
import orjson

from tests.cli_inprocess import run_json
from tests.cli_run import CORPUS

STORAGE = CORPUS / "opencode" / "jazzyalex-agent-sessions-synthetic" / "storage_v2"
MODEL = "gpt-4o-mini"
# Read off the fixture: s_stage0_large has one priced step (step-finish 120 in / 16 out,
# the same numbers as its message's own tokens, counted once), a failed `ls`, an automatic
# compaction and two prompts; s_stage0_small has a tool call and a prompt but no tokens.
LARGE_CALL_TIME = datetime.fromtimestamp(1730000102, tz=timezone.utc)

SCHEMA = """
CREATE TABLE project (id TEXT PRIMARY KEY, worktree TEXT NOT NULL,
                      time_created INTEGER, time_updated INTEGER);
CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, parent_id TEXT, slug TEXT,
                      directory TEXT NOT NULL, title TEXT, version TEXT,
                      time_created INTEGER, time_updated INTEGER);
CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL,
                      time_created INTEGER, time_updated INTEGER, data TEXT NOT NULL);
CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL, session_id TEXT NOT NULL,
                   time_created INTEGER, time_updated INTEGER, data TEXT NOT NULL);
"""


def gpt_price(prompt: int, out: int) -> float:
    usage = genai_prices.Usage(input_tokens=prompt, output_tokens=out)
    price = genai_prices.calc_price(usage, MODEL, genai_request_timestamp=LARGE_CALL_TIME)
    return float(price.total_price)


def strip(doc: dict[str, Any], *keys: str) -> str:
    return json.dumps({k: v for k, v in doc.items() if k not in keys})


def build_db(db: Path, storage: Path = STORAGE) -> sqlite3.Connection:
    """An `opencode.db` holding the file-storage fixture's sessions, messages and parts:
    ids in their columns, the rest of each document in `data`."""
    con = sqlite3.connect(db)
    con.executescript(SCHEMA)
    for info_path in sorted((storage / "session").glob("*/*.json")):
        info = orjson.loads(info_path.read_bytes())
        times = info.get("time", {})
        con.execute(
            "INSERT INTO session VALUES (?,?,?,?,?,?,?,?,?)",
            (
                info["id"],
                info["projectID"],
                info.get("parentID"),
                info.get("slug"),
                info["directory"],
                info.get("title"),
                info.get("version"),
                times.get("created"),
                times.get("updated"),
            ),
        )
        for message_path in sorted((storage / "message" / info["id"]).glob("*.json")):
            message = orjson.loads(message_path.read_bytes())
            created = message["time"]["created"]
            con.execute(
                "INSERT INTO message VALUES (?,?,?,?,?)",
                (message["id"], info["id"], created, created, strip(message, "id", "sessionID")),
            )
            for n, part_path in enumerate(sorted((storage / "part" / message["id"]).glob("*"))):
                part = orjson.loads(part_path.read_bytes())
                con.execute(
                    "INSERT INTO part VALUES (?,?,?,?,?,?)",
                    (
                        part["id"],
                        message["id"],
                        info["id"],
                        created + n,
                        created + n,
                        strip(part, "id", "sessionID", "messageID"),
                    ),
                )
    con.commit()
    return con


def check_fixture_sessions(doc: dict[str, Any]) -> None:
    rows = {row["id"]: row for row in doc["sessions"] if row["id"].startswith("s_stage0")}
    assert set(rows) == {"s_stage0_small", "s_stage0_large"}
    small, large = rows["s_stage0_small"], rows["s_stage0_large"]
    assert small["requests"] == 0 and small["cwd"] == "/tmp/repo"
    assert large["agent"] == "opencode" and large["cwd"] == "/tmp/large"
    assert large["requests"] == 1 and large["models"] == {MODEL: 1}
    assert (large["input_tokens"], large["output_tokens"]) == (120, 16)
    assert large["cache_read_tokens"] == large["cache_write_tokens"] == 0
    assert large["cost_usd"] == round(gpt_price(120, 16), 6)
    # the fixture's `cost` fields are not dollar amounts: nothing is taken from them
    assert large["agent_cost_usd"] is None


def check_fixture_detail(detail: dict[str, Any]) -> None:
    assert detail["tool_calls"] == 1 and detail["tool_errors"] == 1  # `ls` exited 1
    assert detail["compactions"] == 1 and detail["prompts"] == 2


def test_file_storage_in_the_default_place(isolated_home: Path) -> None:
    data = isolated_home / ".local" / "share" / "opencode"
    data.mkdir(parents=True)
    (data / "storage").symlink_to(STORAGE, target_is_directory=True)
    doc = run_json("sessions", "--agent", "opencode")
    check_fixture_sessions(doc)
    assert doc["warnings"] == []
    check_fixture_detail(run_json("session", "s_stage0_large"))
    assert run_json("session", "s_stage0_small")["tool_calls"] == 1


def test_sqlite_store_under_opencode_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "oc"
    data.mkdir()
    db = data / "opencode.db"
    build_db(db).close()
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    env = {"OPENCODE_DATA_DIR": str(data)}
    doc = run_json("sessions", env=env)
    check_fixture_sessions(doc)
    assert doc["sessions"][0]["paths"] == [str(db)]
    check_fixture_detail(run_json("session", "s_stage0_large", env=env))
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before  # opened read-only


def test_steps_are_the_calls_and_the_message_total_is_not_added(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    con = build_db(db)
    con.execute(
        "INSERT INTO session VALUES ('ses_steps','p',NULL,NULL,?,NULL,'1.3',1,2)",
        (str(tmp_path),),
    )
    message = {
        "role": "assistant",
        "time": {"created": 1760000000000, "completed": 1760000009000},
        "modelID": "claude-sonnet-4-5",
        "providerID": "anthropic",
        "path": {"cwd": str(tmp_path), "root": str(tmp_path)},
        # OpenCode keeps only the last step's tokens on the message, and the summed cost
        "tokens": {"input": 50, "output": 5, "reasoning": 0, "cache": {"read": 0, "write": 0}},
        "cost": 0.003,
    }
    con.execute("INSERT INTO message VALUES ('msg_1','ses_steps',1,1,?)", (json.dumps(message),))
    steps = [
        {
            "type": "step-finish",
            "tokens": {
                "input": 100,
                "output": 10,
                "reasoning": 4,
                "cache": {"read": 1000, "write": 200},
            },
            "cost": 0.002,
        },
        {
            "type": "tool",
            "callID": "c1",
            "tool": "read",
            "state": {
                "status": "completed",
                "input": {"filePath": "src/a.py"},
                "output": "x" * 300,
            },
        },
        {
            "type": "step-finish",
            "tokens": {"input": 50, "output": 5, "reasoning": 0, "cache": {"read": 0, "write": 0}},
            "cost": 0.001,
        },
    ]
    for n, part in enumerate(steps):
        con.execute(
            "INSERT INTO part VALUES (?,?,?,?,?,?)",
            (f"prt_{n}", "msg_1", "ses_steps", n, n, json.dumps(part)),
        )
    con.commit()
    con.close()
    detail = run_json("session", "ses_steps", env={"OPENCODE_DATA_DIR": str(tmp_path)})
    row = detail["session"]
    assert row["requests"] == 2
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (
        150,
        1000,
        200,
    )
    # reasoning is billed as output and reported apart
    assert (row["output_tokens"], row["reasoning_tokens"]) == (10 + 4 + 5, 4)
    assert row["agent_cost_usd"] == 0.003 and row["agent_cost_requests"] == 2
    assert row["cost_usd_same_requests"] == row["cost_usd"]
    assert detail["tool_calls"] == 1 and detail["tool_errors"] == 0


def test_a_session_in_both_stores_counts_once(isolated_home: Path) -> None:
    data = isolated_home / ".local" / "share" / "opencode"
    data.mkdir(parents=True)
    (data / "storage").symlink_to(STORAGE, target_is_directory=True)
    build_db(data / "opencode.db").close()
    doc = run_json("sessions", "--agent", "opencode")
    assert sorted(row["id"] for row in doc["sessions"]) == ["s_stage0_large", "s_stage0_small"]
    assert {row["paths"][0] for row in doc["sessions"]} == {str(data / "opencode.db")}
    assert doc["totals"]["requests"] == 1
