"""Small hand-written agent logs for tests, in the shape the real agents write them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def claude_call(
    n: int,
    ts: str,
    model: str,
    *,
    inp: int = 3,
    read: int = 0,
    w5: int = 0,
    w1: int = 0,
    out: int = 10,
    cwd: str = "/work/app",
    branch: str = "main",
    session: str = "s1",
    blocks: int = 2,
    **extra: Any,
) -> list[dict[str, Any]]:
    """One API response as Claude Code writes it: a line per content block, each repeating
    usage; output grows from a placeholder to the final count on the last line."""
    lines = []
    for b in range(blocks):
        usage = {
            "input_tokens": inp,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": w5 + w1,
            "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1},
            "output_tokens": out if b == blocks - 1 else 1,
        }
        lines.append(
            {
                "parentUuid": None,
                "isSidechain": False,
                "userType": "external",
                "cwd": cwd,
                "sessionId": session,
                "version": "2.1.39",
                "gitBranch": branch,
                "type": "assistant",
                "uuid": f"u{n}-{b}",
                "timestamp": ts,
                "requestId": f"req_{n}",
                "message": {
                    "model": model,
                    "id": f"msg_{n}",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "text", "text": "ok"}],
                    "stop_reason": None,
                    "usage": usage,
                },
                **extra,
            }
        )
    return lines


def write_jsonl(path: Path, records: list[dict[str, Any]], tail: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")
    return path


def codex_rollout(
    path: Path,
    totals: list[tuple[int, int, int, int]],
    *,
    model: str,
    cwd: str = "/work/app",
    branch: str = "main",
    start: str = "2026-02-01T10:00:00.000Z",
) -> Path:
    """A rollout whose token_count events carry the given cumulative (input, cached, output,
    reasoning) totals, each re-emitted once byte-identical (as Codex does)."""
    day = start[:10]
    recs: list[dict[str, Any]] = [
        {
            "timestamp": start,
            "type": "session_meta",
            "payload": {
                "id": path.stem[-36:],
                "timestamp": start,
                "cwd": cwd,
                "cli_version": "0.104.0",
                "git": {"branch": branch},
            },
        },
        {"timestamp": start, "type": "turn_context", "payload": {"cwd": cwd, "model": model}},
    ]
    for i, (inp, cached, out, reasoning) in enumerate(totals):
        info = {
            "total_token_usage": {
                "input_tokens": inp,
                "cached_input_tokens": cached,
                "output_tokens": out,
                "reasoning_output_tokens": reasoning,
                "total_tokens": inp + out,
            }
        }
        for repeat in range(2):
            recs.append(
                {
                    "timestamp": f"{day}T10:{i + 1:02d}:0{repeat}.000Z",
                    "type": "event_msg",
                    "payload": {"type": "token_count", "info": info},
                }
            )
    return write_jsonl(path, recs)
