"""JSONL traces of a team's own agent: one JSON object per line, per model call.

The fields of TokenCause's trace format (`session_id` / `run_id`, `model`, `input_tokens`,
`output_tokens`, `cost_usd`, `timestamp`, `tool`, `command`, `status`, `error`, `cwd`)
with the common aliases: OpenAI's `prompt_tokens` / `completion_tokens` (with
`prompt_tokens_details.cached_tokens` inside the prompt), camelCase `inputTokens`, and the
same names nested under `usage`. Cached input is counted apart from `input_tokens`
(Anthropic's and TokenCause's convention) unless the field came from OpenAI's
`prompt_tokens`, or `total_tokens` only adds up with it inside.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from tokentrail.ingest import Imported, Place, iso, tool_records
from tokentrail.logfile import as_dict, as_float, as_int, as_str, parse_ts
from tokentrail.store import is_agent_name, record_key

SESSION_KEYS = ("session_id", "sessionId", "run_id", "runId", "trace_id", "traceId")
INPUT_KEYS = ("input_tokens", "inputTokens", "prompt_tokens", "promptTokens")
OPENAI_INPUT_KEYS = ("prompt_tokens", "promptTokens")
OUTPUT_KEYS = ("output_tokens", "outputTokens", "completion_tokens", "completionTokens")
CACHE_READ_KEYS = (
    "cache_read_input_tokens",
    "cacheReadInputTokens",
    "cache_read_tokens",
    "cacheReadTokens",
    "cached_input_tokens",
    "cachedInputTokens",
    "cached_tokens",
)
CACHE_WRITE_KEYS = (
    "cache_creation_input_tokens",
    "cacheCreationInputTokens",
    "cache_write_input_tokens",
    "cacheWriteInputTokens",
    "cache_write_tokens",
    "cache_creation_tokens",
)
REASONING_KEYS = ("reasoning_tokens", "reasoningTokens", "reasoning_output_tokens")
TOTAL_KEYS = ("total_tokens", "totalTokens")
OK_STATUS = ("", "ok", "success", "succeeded", "completed")
NO_TOOL = ("", "none", "assistant", "llm")


def _first(sources: Iterable[dict[str, Any]], keys: tuple[str, ...]) -> tuple[Any, str | None]:
    for source in sources:
        for key in keys:
            value = source.get(key)
            if value not in (None, ""):
                return value, key
    return None, None


def _when(value: Any) -> datetime | None:
    """ISO text, or epoch seconds / milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_ts(value)


def trace_tokens(raw: dict[str, Any]) -> dict[str, int] | None:
    """Our token fields for one line, or None when it carries no token count."""
    usage = as_dict(raw.get("usage"))
    sources = (raw, usage)
    details = as_dict(usage.get("prompt_tokens_details") or raw.get("prompt_tokens_details"))
    details = details or as_dict(usage.get("input_tokens_details"))
    out_details = as_dict(
        usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    )
    inp, input_key = _first(sources, INPUT_KEYS)
    out, _ = _first(sources, OUTPUT_KEYS)
    cached, _ = _first(sources, CACHE_READ_KEYS)
    inside = input_key in OPENAI_INPUT_KEYS
    if cached is None and details.get("cached_tokens") is not None:
        cached, inside = details["cached_tokens"], True
    write, _ = _first(sources, CACHE_WRITE_KEYS)
    reasoning, _ = _first(sources, REASONING_KEYS)
    if reasoning is None:
        reasoning = out_details.get("reasoning_tokens")
    total, _ = _first(sources, TOTAL_KEYS)
    n_in, n_out, n_read = as_int(inp), as_int(out), as_int(cached)
    n_write, n_reasoning = as_int(write), as_int(reasoning)
    if not any((n_in, n_out, n_read, n_write)):
        return None
    if total is not None and n_read:
        if as_int(total) == n_in + n_out + n_write:
            inside = True
        elif as_int(total) == n_in + n_read + n_write + n_out:
            inside = False
    if inside:
        n_read = min(n_read, n_in)
        n_in -= n_read
    return {
        "input_tokens": n_in,
        "cache_read_tokens": n_read,
        "cache_write_tokens": n_write,
        "output_tokens": n_out,
        "reasoning_tokens": min(n_reasoning, n_out),
    }


def read_trace(paths: Iterable[Path], place: Place, agent: str) -> Imported:
    result = Imported()
    for path in paths:
        before = len(result.records)
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith(b"#"):
                continue
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError:
                result.bad_lines += 1
                continue
            if not isinstance(raw, dict):
                result.unknown["not a JSON object"] += 1
                continue
            _line(result, raw, number, path, place, agent)
        if len(result.records) == before:
            result.warnings.append(
                f"{path}: no line with token counts or a tool recognised; nothing was imported"
            )
    return result


def _line(
    result: Imported, raw: dict[str, Any], number: int, path: Path, place: Place, agent: str
) -> None:
    session = as_str(_first((raw,), SESSION_KEYS)[0]) or path.stem
    line_agent = (as_str(raw.get("agent")) or as_str(raw.get("agent_name")) or agent).lower()
    if not is_agent_name(line_agent):
        result.unknown[f"agent name {line_agent[:40]!r} (counted as {agent})"] += 1
        line_agent = agent
    ts = _when(_first((raw,), ("timestamp", "time", "created_at", "ts", "start_time"))[0])
    key = record_key("trace", line_agent, session, number, raw)
    base = {
        "agent": line_agent,
        "session": session,
        "key": key,
        "ts": iso(ts),
        "cwd": as_str(raw.get("cwd")) or as_str(raw.get("working_directory")) or place.cwd,
        "branch": as_str(raw.get("branch")) or as_str(raw.get("git_branch")) or place.branch,
    }
    tokens = trace_tokens(raw)
    tool = str(_first((raw,), ("tool", "tool_name", "toolName"))[0] or "").strip()
    command = as_str(raw.get("command")) or as_str(raw.get("cmd"))
    if tokens is None and tool.lower() in NO_TOOL and not command:
        result.unknown["line without token counts or a tool"] += 1
        return
    result.sessions.add((line_agent, session))
    if tokens is not None:
        cost, _ = _first((raw, as_dict(raw.get("usage"))), ("cost_usd", "cost", "spend"))
        model, _ = _first((raw,), ("model", "model_name", "modelName"))
        result.records.append(
            {
                **base,
                "kind": "call",
                "source": "trace",
                "model": as_str(model) or "unknown",
                "provider": as_str(raw.get("provider")) or as_str(raw.get("provider_id")),
                **tokens,
                "cost_usd": as_float(cost) if cost is not None else None,
            }
        )
        result.used["call"] += 1
    if tool.lower() not in NO_TOOL or command:
        status = str(raw.get("status") or raw.get("outcome") or "").lower()
        error = as_str(raw.get("error")) or as_str(raw.get("error_message"))
        path_value, _ = _first((raw,), ("file_path", "path", "file"))
        args = {"file_path": path_value} if isinstance(path_value, str) else {}
        if command:
            args["command"] = command
        output = as_str(raw.get("output")) or as_str(raw.get("stdout"))
        result.records.extend(
            tool_records(
                {**base, "key": f"{key}:tool"},
                tool or "shell",
                args,
                output=output,
                failed=status not in OK_STATUS or error is not None,
                error=error,
            )
        )
        result.used["tool"] += 1
