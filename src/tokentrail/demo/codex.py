"""A deterministic writer of realistic Codex rollouts (formats.md §2.3-2.4), including
re-emitted cumulative `token_count` snapshots.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from tokentrail.demo.script import (
    CODEX_VERSION,
    GPT_CODEX,
    Bash,
    Commit,
    Compact,
    Edit,
    Event,
    Filler,
    Idle,
    Read,
    Reply,
    Task,
    Totals,
    UserPrompt,
    WrittenSession,
    call_times,
    chunk,
    dump_line,
    expand_fillers,
    iso_ms,
    rand_text,
)
from tokentrail.model import estimate_result_tokens

# --- Codex ---------------------------------------------------------------------------------


def uuid7(ts: datetime, rng: random.Random) -> str:
    ms = int(ts.timestamp() * 1000)
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62)
    value |= rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def write_codex_session(
    codex_home: Path,
    cwd: str | Path,
    *,
    branch: str = "main",
    start: datetime,
    spacing: timedelta = timedelta(seconds=30),
    requests: int = 10,
    model: str = GPT_CODEX,
    seed: int | str = 0,
    events: Sequence[Event] | None = None,
    commit_hash: str = "0" * 40,
    repository_url: str = "https://github.com/example/app.git",
    reemit: float = 0.5,
) -> WrittenSession:
    """Write one Codex rollout under `codex_home/sessions/YYYY/MM/DD/`.

    Each call logs a cumulative `token_count`; a share `reemit` of them is written again
    1-5 s later with a byte-identical payload, as Codex does (formats.md §2.4). Turns start
    with an `info: null` rate-limit event. Events understood: Bash, Commit, Read (as a
    `sed -n` command), UserPrompt, Filler, Reply, Idle.
    """
    cwd = str(cwd)
    rng = random.Random(f"codex|{seed}|{start.isoformat()}")
    session_id = uuid7(start, rng)
    day = start.astimezone(timezone.utc)
    folder = codex_home / "sessions" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    path = folder / f"rollout-{day:%Y-%m-%dT%H-%M-%S}-{session_id}.jsonl"
    out: list[bytes] = []
    totals = Totals()
    commits: list[str] = []
    end = start

    def line(ts: datetime, kind: str, payload: dict[str, Any]) -> None:
        nonlocal end
        end = max(end, ts)
        out.append(dump_line({"timestamp": iso_ms(ts), "type": kind, "payload": payload}))

    rate_limits = {
        "limit_id": "codex",
        "limit_name": None,
        "primary": {"used_percent": 1.0, "window_minutes": 300, "resets_at": 1771864834},
        "secondary": {"used_percent": 1.0, "window_minutes": 10080, "resets_at": 1772355702},
        "credits": {"has_credits": False, "unlimited": False, "balance": None},
        "plan_type": None,
    }
    line(
        start,
        "session_meta",
        {
            "id": session_id,
            "timestamp": iso_ms(start),
            "cwd": cwd,
            "originator": "codex_cli_rs",
            "cli_version": CODEX_VERSION,
            "instructions": None,
            "source": "cli",
            "model_provider": "openai",
            "git": {"commit_hash": commit_hash, "branch": branch, "repository_url": repository_url},
        },
    )
    line(
        start,
        "response_item",
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "<permissions instructions>"}],
        },
    )
    script: Sequence[Event] = (
        events if events is not None else [Filler(max(0, requests - 1)), Reply()]
    )
    times = call_times(script, start + timedelta(seconds=3), spacing)
    cumulative = [0, 0, 0, 0]  # input, cached, output, reasoning
    context = 9000 + rng.randint(0, 3000)
    call = 0
    turn_open = False
    prompt_text: str | None = None

    def open_turn(ts: datetime, text: str) -> None:
        turn_id = uuid7(ts, rng)
        line(
            ts,
            "event_msg",
            {"type": "task_started", "turn_id": turn_id, "model_context_window": 258400},
        )
        line(
            ts,
            "event_msg",
            {
                "type": "user_message",
                "message": text,
                "images": [],
                "local_images": [],
                "text_elements": [],
            },
        )
        line(
            ts,
            "turn_context",
            {
                "turn_id": turn_id,
                "cwd": cwd,
                "approval_policy": "on-request",
                "sandbox_policy": {"type": "workspace-write", "network_access": False},
                "model": model,
                "effort": "high",
                "summary": "auto",
                "truncation_policy": {"mode": "tokens", "limit": 10000},
            },
        )
        line(
            ts + timedelta(seconds=1),
            "event_msg",
            {"type": "token_count", "info": None, "rate_limits": rate_limits},
        )

    for event in expand_fillers(script, rng, cwd):
        if isinstance(event, UserPrompt):
            prompt_text = event.text
            continue
        if isinstance(event, (Idle, Compact, Task, Edit)):
            continue  # not modelled for Codex
        ts = times[call]
        call += 1
        if not turn_open or prompt_text is not None:
            open_turn(ts - timedelta(seconds=2), prompt_text or "Fix the failing tests, please.")
            turn_open = True
            context += 200
            prompt_text = None
        # the model's answer: reasoning, then a tool call or the final message
        output = rng.randint(60, 600)
        reasoning = rng.randint(0, output)
        cached = (context // 256) * 256 if call > 1 else rng.choice((0, 3456))
        inp = context + rng.randint(50, 400)
        cumulative[0] += inp
        cumulative[1] += cached
        cumulative[2] += output
        cumulative[3] += reasoning
        totals.add(
            Totals(
                requests=1,
                input_tokens=inp - cached,
                cache_read_tokens=cached,
                output_tokens=output,
                reasoning_tokens=reasoning,
            )
        )
        context = inp + output
        line(
            ts,
            "response_item",
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "Checking the code"}],
                "content": None,
                "encrypted_content": rand_text(rng, 200),
            },
        )
        result_text: str | None = None
        if isinstance(event, Reply):
            line(ts, "event_msg", {"type": "agent_message", "message": chunk(rng, event.chars)})
        else:
            if isinstance(event, Commit):
                command = f"git add -A && git commit -m {event.subject!r}"
                body = f"[{branch} {event.sha[:7]}] {event.subject}\n 2 files changed"
                commits.append(event.sha[:7])
                code = 0
            elif isinstance(event, Read):
                command = f"sed -n '1,200p' {event.path}"
                body, code = chunk(rng, event.chars), 0
            else:
                assert isinstance(event, Bash)
                command = event.command
                body = event.output if event.output is not None else chunk(rng, event.output_chars)
                code = event.exit_code
            call_id = "call_" + rand_text(rng, 24)
            args = {"cmd": command, "workdir": cwd, "yield_time_ms": 10000}
            line(
                ts,
                "response_item",
                {
                    "type": "function_call",
                    "name": "exec_command",
                    "arguments": orjson.dumps(args).decode(),
                    "call_id": call_id,
                },
            )
            result_text = (
                f"Chunk ID: {rand_text(rng, 6)}\nWall time: 0.{rng.randint(1, 9)} seconds\n"
                f"Process exited with code {code}\nOriginal token count: {len(body) // 4}\n"
                f"Output:\n{body}"
            )
            context += estimate_result_tokens(len(body))
        info = {
            "total_token_usage": {
                "input_tokens": cumulative[0],
                "cached_input_tokens": cumulative[1],
                "output_tokens": cumulative[2],
                "reasoning_output_tokens": cumulative[3],
                "total_tokens": cumulative[0] + cumulative[2],
            },
            "last_token_usage": {
                "input_tokens": inp,
                "cached_input_tokens": cached,
                "output_tokens": output,
                "reasoning_output_tokens": reasoning,
                "total_tokens": inp + output,
            },
            "model_context_window": 258400,
        }
        count = {"type": "token_count", "info": info, "rate_limits": rate_limits}
        line(ts + timedelta(milliseconds=1), "event_msg", count)
        if result_text is not None:
            line(
                ts + timedelta(milliseconds=200),
                "response_item",
                {"type": "function_call_output", "call_id": call_id, "output": result_text},
            )
        if rng.random() < reemit:
            again = ts + timedelta(milliseconds=rng.randint(1000, 5000))
            line(again, "event_msg", count)  # the re-emitted snapshot
        if isinstance(event, Reply):
            line(
                ts + timedelta(seconds=1),
                "event_msg",
                {"type": "task_complete", "turn_id": None, "last_agent_message": None},
            )
            turn_open = False
    folder.mkdir(parents=True, exist_ok=True)
    data = b"".join(out)
    path.write_bytes(data)
    return WrittenSession(
        agent="codex",
        id=session_id,
        paths=[path],
        cwd=cwd,
        branch=branch,
        start=start,
        end=end,
        totals=totals,
        models={model: totals.requests},
        commits=commits,
        lines=len(out),
        bytes=len(data),
    )
