"""Claude Code and Codex OpenTelemetry exports (OTLP/JSON documents, or JSONL of them).

Per-request detail comes from log events (formats.md §4): Claude Code's
`claude_code.api_request` (tokens and Claude Code's own `cost_usd`) and
`claude_code.tool_result`; Codex's `codex.sse_event` of kind `response.completed` (token
counts; `codex.api_request` only when it carries them and no SSE event does) and
`codex.tool_result`. The `claude_code.token.usage` / `claude_code.cost.usage` metrics are
used only for a session with no such event: they are totals per model and export interval,
not per request (counters are delta by default; cumulative series are differenced).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from tokentrail.ingest import Imported, Place, iso, tool_records
from tokentrail.logfile import as_dict, as_float, as_int, as_str, parse_ts
from tokentrail.store import record_key

CLAUDE, CODEX = "claude-code", "codex"
PREFIXES = {"claude_code.": CLAUDE, "codex.": CODEX}
API_REQUEST = "claude_code.api_request"
TOOL_RESULT = "claude_code.tool_result"
CODEX_SSE = "codex.sse_event"
CODEX_API = "codex.api_request"
CODEX_TOOL = "codex.tool_result"
TOKEN_METRIC = "claude_code.token.usage"
COST_METRIC = "claude_code.cost.usage"
# `type` of a token.usage data point -> our field.
METRIC_TYPES = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cacheRead": "cache_read_tokens",
    "cacheCreation": "cache_write_tokens",
}
CUMULATIVE = (2, "AGGREGATION_TEMPORALITY_CUMULATIVE")


def documents(path: Path, result: Imported) -> Iterator[dict[str, Any]]:
    """The OTLP export documents of a file: one JSON document, or one per line."""
    data = path.read_bytes()
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        yield whole
        return
    if isinstance(whole, list):
        yield from (d for d in whole if isinstance(d, dict))
        return
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            result.bad_lines += 1
            continue
        if isinstance(doc, dict):
            yield doc


def value_of(value: Any) -> Any:
    """An OTLP AnyValue as a plain value."""
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return as_int(value["intValue"])
    if "arrayValue" in value:
        return [value_of(v) for v in as_dict(value["arrayValue"]).get("values") or []]
    if "kvlistValue" in value:
        return attributes(as_dict(value["kvlistValue"]).get("values"))
    return None


def attributes(raw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = value_of(item.get("value"))
    return out


def _nanos(value: Any) -> datetime | None:
    nanos = as_int(value)
    if nanos <= 0:
        return None
    return datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc)


def _event_name(attrs: dict[str, Any], body: Any, service: str) -> str:
    """`claude_code.api_request` whether the exporter put it in the body or in
    `event.name`, with or without the prefix (then the service name says whose)."""
    candidates = [as_str(attrs.get("event.name")), as_str(value_of(body))]
    for name in candidates:
        if name and any(name.startswith(p) for p in PREFIXES):
            return name
    prefix = "codex." if "codex" in service else "claude_code." if "claude" in service else ""
    for name in candidates:
        if name and prefix and "\n" not in name and " " not in name:
            return prefix + name
    return next((n for n in candidates if n), "(unnamed log record)")[:80]


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            return as_dict(orjson.loads(value))
        except orjson.JSONDecodeError:
            return {}
    return {}


class _Reader:
    def __init__(self, place: Place) -> None:
        self.place = place
        self.result = Imported()
        self.codex_api: list[tuple[str, dict[str, Any]]] = []
        self.codex_sse_sessions: set[str] = set()
        self.event_sessions: set[tuple[str, str]] = set()
        self.points: list[dict[str, Any]] = []

    def base(self, agent: str, session: str, key: str, ts: datetime | None) -> dict[str, Any]:
        self.result.sessions.add((agent, session))
        return {
            "agent": agent,
            "session": session,
            "key": key,
            "ts": iso(ts),
            "cwd": self.place.cwd,
            "branch": self.place.branch,
        }

    def logs(self, doc: dict[str, Any]) -> None:
        for resource_logs in doc.get("resourceLogs") or []:
            resource = attributes(as_dict(as_dict(resource_logs).get("resource")).get("attributes"))
            service = str(resource.get("service.name") or "")
            for scope in as_dict(resource_logs).get("scopeLogs") or []:
                for record in as_dict(scope).get("logRecords") or []:
                    if isinstance(record, dict):
                        self.log_record(record, resource, service)

    def log_record(self, record: dict[str, Any], resource: dict[str, Any], service: str) -> None:
        attrs = attributes(record.get("attributes"))
        name = _event_name(attrs, record.get("body"), service)
        agent = next((a for p, a in PREFIXES.items() if name.startswith(p)), None)
        if agent is None:
            self.result.unknown[name] += 1
            return
        session = as_str(attrs.get("session.id"))
        if agent == CODEX:
            session = as_str(attrs.get("conversation.id")) or session
        if session is None:
            self.result.unknown[f"{name} without a session id"] += 1
            return
        ts = (
            parse_ts(attrs.get("event.timestamp"))
            or _nanos(record.get("timeUnixNano"))
            or _nanos(record.get("observedTimeUnixNano"))
        )
        key = record_key("otel", agent, session, name, attrs, iso(ts))
        if name == API_REQUEST:
            self.call(self.base(agent, session, key, ts), attrs, claude=True)
            self.event_sessions.add((agent, session))
        elif name == CODEX_SSE and _has_codex_tokens(attrs):
            self.call(self.base(agent, session, key, ts), attrs, claude=False)
            self.codex_sse_sessions.add(session)
            self.event_sessions.add((agent, session))
        elif name == CODEX_API and _has_codex_tokens(attrs):
            self.codex_api.append((session, {**self.base(agent, session, key, ts), "_a": attrs}))
        elif name in (TOOL_RESULT, CODEX_TOOL):
            self.tool(self.base(agent, session, key, ts), name, attrs)
        else:
            self.result.ignored[name] += 1
            return
        self.result.used[name] += 1

    def call(self, base: dict[str, Any], attrs: dict[str, Any], *, claude: bool) -> None:
        if claude:
            tokens = {
                "input_tokens": as_int(attrs.get("input_tokens")),
                "cache_read_tokens": as_int(attrs.get("cache_read_tokens")),
                "cache_write_tokens": as_int(attrs.get("cache_creation_tokens")),
                "output_tokens": as_int(attrs.get("output_tokens")),
                "reasoning_tokens": 0,
            }
            provider = "anthropic"
        else:
            total_in = as_int(attrs.get("input_token_count"))
            cached = min(as_int(attrs.get("cached_token_count")), total_in)
            out = as_int(attrs.get("output_token_count"))
            tokens = {
                "input_tokens": total_in - cached,
                "cache_read_tokens": cached,
                "cache_write_tokens": 0,
                "output_tokens": out,
                "reasoning_tokens": min(as_int(attrs.get("reasoning_token_count")), out),
            }
            provider = "openai"
        self.result.records.append(
            {
                **base,
                "kind": "call",
                "source": "otel",
                "model": as_str(attrs.get("model")) or "unknown",
                "provider": provider,
                **tokens,
                "cost_usd": as_float(attrs.get("cost_usd")) if claude else None,
            }
        )

    def tool(self, base: dict[str, Any], name: str, attrs: dict[str, Any]) -> None:
        tool_name = as_str(attrs.get("tool_name")) or as_str(attrs.get("tool.name")) or "?"
        failed = _truthy(attrs.get("success")) is False
        if name == CODEX_TOOL:
            args = _json_object(attrs.get("arguments"))
            output = as_str(attrs.get("output"))
            records = tool_records(
                base,
                tool_name,
                args,
                output=output,
                failed=failed,
                error=as_str(attrs.get("error.message")),
            )
        else:
            params = _json_object(attrs.get("tool_parameters"))
            command = as_str(params.get("full_command")) or as_str(params.get("bash_command"))
            path = as_str(attrs.get("file_path")) or as_str(attrs.get("file.path"))
            args = {**params, **({"command": command} if command else {})}
            if path:
                args["file_path"] = path
            size = attrs.get("tool_result_size_bytes")
            records = tool_records(
                base,
                tool_name,
                args,
                size=as_int(size) if size is not None else 0,
                failed=failed,
                error=as_str(attrs.get("error")),
            )
        self.result.records.extend(records)

    def metrics(self, doc: dict[str, Any]) -> None:
        for resource_metrics in doc.get("resourceMetrics") or []:
            resource = attributes(
                as_dict(as_dict(resource_metrics).get("resource")).get("attributes")
            )
            for scope in as_dict(resource_metrics).get("scopeMetrics") or []:
                for metric in as_dict(scope).get("metrics") or []:
                    self.metric(as_dict(metric), resource)

    def metric(self, metric: dict[str, Any], resource: dict[str, Any]) -> None:
        name = str(metric.get("name") or "(unnamed metric)")
        if name not in (TOKEN_METRIC, COST_METRIC):
            ours = name.startswith(tuple(PREFIXES))
            (self.result.ignored if ours else self.result.unknown)[f"metric {name}"] += 1
            return
        data = as_dict(metric.get("sum"))
        cumulative = data.get("aggregationTemporality") in CUMULATIVE
        for point in data.get("dataPoints") or []:
            point = as_dict(point)
            attrs = {**resource, **attributes(point.get("attributes"))}
            value = point.get("asDouble", point.get("asInt"))
            field = "cost_usd" if name == COST_METRIC else METRIC_TYPES.get(str(attrs.get("type")))
            session = as_str(attrs.get("session.id"))
            if field is None or session is None or value is None:
                self.result.unknown[f"metric {name} point without session/type"] += 1
                continue
            self.points.append(
                {
                    "session": session,
                    "model": as_str(attrs.get("model")) or "unknown",
                    "field": field,
                    "start": as_int(point.get("startTimeUnixNano")),
                    "end": as_int(point.get("timeUnixNano")),
                    "value": float(value) if field == "cost_usd" else as_int(value),
                    "cumulative": cumulative,
                }
            )
        self.result.used[f"metric {name}"] += 1

    def finish(self) -> Imported:
        for session, rec in self.codex_api:
            if session not in self.codex_sse_sessions:
                attrs = rec.pop("_a")
                self.call(rec, attrs, claude=False)
                self.event_sessions.add((CODEX, session))
        self.metric_calls()
        return self.result

    def metric_calls(self) -> None:
        """Metric points of sessions without events, as one call per model and interval."""
        windows: dict[tuple[str, str, int, int], dict[str, Any]] = defaultdict(dict)
        for point in _deltas(self.points):
            if (CLAUDE, point["session"]) in self.event_sessions:
                continue
            window = windows[(point["session"], point["model"], point["start"], point["end"])]
            window[point["field"]] = window.get(point["field"], 0) + point["value"]
        for (session, model, start, end), values in sorted(windows.items()):
            ts = _nanos(end)
            key = record_key("otel-metrics", CLAUDE, session, model, start, end, values)
            self.result.metrics_only.add((CLAUDE, session))
            self.result.records.append(
                {
                    **self.base(CLAUDE, session, key, ts),
                    "kind": "call",
                    "source": "otel-metrics",
                    "model": model,
                    "provider": "anthropic",
                    **{f: int(values.get(f, 0)) for f in METRIC_TYPES.values()},
                    "reasoning_tokens": 0,
                    "cost_usd": round(values["cost_usd"], 6) if "cost_usd" in values else None,
                }
            )


def _has_codex_tokens(attrs: dict[str, Any]) -> bool:
    kind = attrs.get("event.kind")
    has = any(k in attrs for k in ("input_token_count", "output_token_count"))
    return has and kind in (None, "response.completed")


def _deltas(points: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Delta points as they are; cumulative series as the increase since their previous
    point (a drop is a restart: the new value counts whole)."""
    series: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for point in points:
        if not point["cumulative"]:
            yield point
        else:
            series[(point["session"], point["model"], point["field"], point["start"])].append(point)
    for group in series.values():
        previous: dict[str, Any] | None = None
        for point in sorted(group, key=lambda p: p["end"]):
            value = point["value"]
            if previous is not None and value >= previous["value"]:
                yield {**point, "start": previous["end"], "value": value - previous["value"]}
            else:
                yield point
            previous = point


def read_otel(paths: Iterable[Path], place: Place) -> Imported:
    reader = _Reader(place)
    for path in paths:
        events_before = sum(reader.result.used.values())
        for doc in documents(path, reader.result):
            reader.logs(doc)
            reader.metrics(doc)
        if sum(reader.result.used.values()) == events_before:
            reader.result.warnings.append(
                f"{path}: no Claude Code or Codex usage event or metric recognised; "
                "nothing was imported from it"
            )
    return reader.finish()
