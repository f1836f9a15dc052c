"""OTLP JSON logs with the OpenTelemetry GenAI attribute names, so an OTel collector can
forward tokentrail's figures to any backend (no server of our own).

From logs, one log record per billed request (event `gen_ai.client.inference.operation.details`);
from notes, one per session per commit (event `tokentrail.commit.session`, the same usage
attributes summed). `gen_ai.usage.input_tokens` includes cached input, as the conventions
ask; cache reads and writes are also given on their own. Cost is `tokentrail.cost_usd`
(absent when the model has no known price, never 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tokentrail import __version__
from tokentrail.errors import TokentrailError

REQUEST_EVENT = "gen_ai.client.inference.operation.details"
COMMIT_EVENT = "tokentrail.commit.session"
PROVIDERS = {"claude-code": "anthropic", "codex": "openai"}
SEVERITY_INFO = 9


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 as a decimal string (proto3 JSON)
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def attributes(pairs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in pairs.items() if v is not None]


def _nanos(value: Any) -> str:
    if isinstance(value, str):
        from tokentrail.rollup import parse_time

        value = parse_time(value)
    if isinstance(value, datetime):
        return str(int(value.timestamp() * 1_000_000) * 1000)
    return "0"


def usage_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    prompt = sum(
        int(row.get(k) or 0) for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens")
    )
    return {
        "gen_ai.usage.input_tokens": prompt,
        "gen_ai.usage.cache_read.input_tokens": int(row.get("cache_read_tokens") or 0),
        "gen_ai.usage.cache_creation.input_tokens": int(row.get("cache_write_tokens") or 0),
        "gen_ai.usage.output_tokens": int(row.get("output_tokens") or 0),
        "gen_ai.usage.reasoning.output_tokens": int(row.get("reasoning_tokens") or 0),
        "tokentrail.usage.cache_creation_1h.input_tokens": int(
            row.get("cache_write_1h_tokens") or 0
        ),
        "tokentrail.cost_usd": None if row.get("cost_usd") is None else float(row["cost_usd"]),
    }


def request_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A requests-table row (tokentrail.export) as a log record."""
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDERS.get(str(row.get("agent"))),
        "gen_ai.request.model": row.get("model"),
        "gen_ai.conversation.id": row.get("session_id"),
        **usage_attributes(row),
        "tokentrail.agent": row.get("agent"),
        "tokentrail.repo": row.get("repo"),
        "tokentrail.branch": row.get("branch"),
        "tokentrail.commit": row.get("commit"),
        "tokentrail.link": row.get("link"),
        "tokentrail.subagent": row.get("subagent"),
        "tokentrail.request_key": row.get("request_key"),
    }
    return _record(row.get("time"), REQUEST_EVENT, attrs)


def commit_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A commits-table row as a log record (figures summed over the session's requests)."""
    attrs = {
        "gen_ai.provider.name": PROVIDERS.get(str(row.get("agent"))),
        "gen_ai.request.model": row.get("model"),
        "gen_ai.conversation.id": row.get("session_id"),
        **usage_attributes(row),
        "tokentrail.requests": int(row.get("requests") or 0),
        "tokentrail.unpriced_requests": int(row.get("unpriced_requests") or 0),
        "tokentrail.agent": row.get("agent"),
        "tokentrail.repo": row.get("repo"),
        "tokentrail.branch": row.get("branch"),
        "tokentrail.commit": row.get("commit"),
        "tokentrail.pr": row.get("pr"),
        "tokentrail.link": row.get("link"),
    }
    return _record(row.get("last"), COMMIT_EVENT, attrs)


def _record(when: Any, event: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    nanos = _nanos(when)
    return {
        "timeUnixNano": nanos,
        "observedTimeUnixNano": nanos,
        "severityNumber": SEVERITY_INFO,
        "severityText": "INFO",
        "eventName": event,
        "body": {"stringValue": event},
        "attributes": attributes(attrs),
    }


def logs_request(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """An OTLP ExportLogsServiceRequest in its JSON encoding."""
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": attributes(
                        {"service.name": "tokentrail", "service.version": __version__}
                    )
                },
                "scopeLogs": [
                    {
                        "scope": {"name": "tokentrail", "version": __version__},
                        "logRecords": list(records),
                    }
                ],
            }
        ]
    }


def build(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """Per-request records when the requests table exists (logs), else per commit row."""
    if "requests" in tables:
        return logs_request(request_record(r) for r in tables["requests"])
    return logs_request(commit_record(r) for r in tables["commits"])


def write(path: Path, payload: Mapping[str, Any]) -> None:
    try:
        path.write_bytes(orjson.dumps(payload))
    except OSError as exc:
        raise TokentrailError("write_failed", f"cannot write {path}: {exc.strerror}") from None


def post(url: str, payload: Mapping[str, Any], timeout: float = 30.0) -> int:
    """POST to a collector's OTLP/HTTP logs endpoint (e.g. http://localhost:4318/v1/logs)."""
    import requests

    try:
        response = requests.post(
            url,
            data=orjson.dumps(payload),
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise TokentrailError("otlp_post_failed", f"cannot reach {url}: {exc}") from None
    if response.status_code >= 300:
        raise TokentrailError(
            "otlp_post_failed", f"{url} answered HTTP {response.status_code}: {response.text[:200]}"
        )
    return response.status_code
