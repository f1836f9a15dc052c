"""A deterministic writer of realistic Claude Code logs (formats.md §1.2-1.6), with every
trap a parser can fall into: split response lines repeating `usage`, subagent usage
copied into `progress` records, streaming placeholders for output.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tokentrail.builtin.claude_code import project_slug
from tokentrail.demo.script import (
    CACHE_5M,
    CLAUDE_VERSION,
    OPUS,
    PATHS,
    WORDS,
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
    new_uuid,
    rand_text,
)
from tokentrail.model import estimate_result_tokens

# Sizes (output counts, context growth) are computed as if the session ran in a folder
# with this name, so the demo's numbers are the same whatever folder it is built in.
SIZING_CWD = "/home/dev/projects/shop-api"

# --- Claude Code ---------------------------------------------------------------------------


@dataclass
class _Usage:
    input: int
    cache_read: int
    cache_write: int
    output: int
    one_hour: bool

    def raw(self, output: int) -> dict[str, Any]:
        five, hour = (0, self.cache_write) if self.one_hour else (self.cache_write, 0)
        return {
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": five,
                "ephemeral_1h_input_tokens": hour,
            },
            "output_tokens": output,
            "service_tier": "standard",
            "inference_geo": "global",
        }

    def totals(self) -> Totals:
        return Totals(
            requests=1,
            input_tokens=self.input,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            cache_write_1h_tokens=self.cache_write if self.one_hour else 0,
            output_tokens=self.output,
        )


class _ClaudeFile:
    """One JSONL file being written: envelope fields and the uuid chain."""

    def __init__(
        self,
        path: Path,
        session_id: str,
        cwd: str,
        branch: str,
        slug: str,
        rng: random.Random,
        agent_id: str | None = None,
    ) -> None:
        self.path = path
        self.rng = rng
        self.agent_id = agent_id
        self.parent: str | None = None
        self.base: dict[str, Any] = {
            "parentUuid": None,
            "isSidechain": agent_id is not None,
            "userType": "external",
            "cwd": cwd,
            "sessionId": session_id,
            "version": CLAUDE_VERSION,
            "gitBranch": branch,
        }
        if agent_id:
            self.base["agentId"] = agent_id
        else:
            self.base["slug"] = slug
        self.out: list[bytes] = []
        self.last: datetime | None = None  # latest record a parser reads (not progress)

    def record(self, kind: str, ts: datetime, body: dict[str, Any], chain: bool = True) -> str:
        uid = new_uuid(self.rng)
        rec = {**self.base, "parentUuid": self.parent, "type": kind, **body}
        rec["uuid"] = uid
        rec["timestamp"] = iso_ms(ts)
        self.out.append(dump_line(rec))
        if kind != "progress" and (self.last is None or ts > self.last):
            self.last = ts
        if chain:
            self.parent = uid
        return uid

    def progress(
        self, ts: datetime, data: dict[str, Any], tool_use_id: str, parent_id: str
    ) -> None:
        self.record(
            "progress",
            ts,
            {"data": data, "toolUseID": tool_use_id, "parentToolUseID": parent_id},
        )

    def raw(self, rec: dict[str, Any]) -> None:
        self.out.append(dump_line(rec))

    def flush(self) -> tuple[int, int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(self.out)
        self.path.write_bytes(data)
        return len(self.out), len(data)


class _ClaudeWriter:
    def __init__(
        self,
        claude_dir: Path,
        cwd: str,
        branch: str,
        start: datetime,
        spacing: timedelta,
        model: str,
        seed: int | str,
        cache_ttl: str,
        progress: bool,
        placeholder_bug: float,
    ) -> None:
        self.rng = random.Random(f"claude|{seed}|{start.isoformat()}")
        self.session_id = new_uuid(self.rng)
        self.cwd = cwd
        self.branch = branch
        self.start = start
        self.spacing = spacing
        self.model = model
        self.one_hour = cache_ttl == "1h"
        self.with_progress = progress
        self.placeholder_bug = placeholder_bug
        self.folder = claude_dir / "projects" / project_slug(cwd)
        nickname = "-".join(self.rng.choices(WORDS, k=3))
        self.main = _ClaudeFile(
            self.folder / f"{self.session_id}.jsonl",
            self.session_id,
            cwd,
            branch,
            nickname,
            self.rng,
        )
        self.nickname = nickname
        self.files = [self.main]
        self.totals = Totals()
        self.models: dict[str, int] = {}
        self.commits: list[str] = []
        self.subagents: list[str] = []
        self.context = 0  # tokens cached so far in the main thread
        self.pending = 0  # tokens added since the last request (results, prompts)
        self.last_output = 0
        self.cold = True  # next request writes the whole context (start, idle, compaction)
        self.end = start

    def _size(self, text: str) -> int:
        """Characters of `text` as if the session ran in SIZING_CWD (see there)."""
        return len(text.replace(self.cwd, SIZING_CWD)) if self.cwd else len(text)

    # usage of one request: context grows, the new part is written to the cache
    def _usage(self, output: int, state: dict[str, int], fresh: int) -> _Usage:
        new = state["pending"] + state["last_output"]
        if state["cold"]:
            cache_read = self.rng.choice((0, 11442)) if state["context"] == 0 else 0
            cache_write = max(fresh, state["context"] + new - cache_read)
        else:
            cache_read = state["context"]
            cache_write = max(new, 1)
        state["context"] = cache_read + cache_write
        state["pending"] = 0
        state["last_output"] = output
        state["cold"] = 0
        return _Usage(self.rng.randint(1, 3), cache_read, cache_write, output, self.one_hour)

    def _count(self, usage: _Usage, model: str) -> None:
        self.totals.add(usage.totals())
        self.models[model] = self.models.get(model, 0) + 1

    def _response(
        self,
        f: _ClaudeFile,
        ts: datetime,
        model: str,
        blocks: list[dict[str, Any]],
        usage: _Usage,
        mirror: _ClaudeFile | None = None,
        mirror_ids: tuple[str, str] | None = None,
    ) -> list[str]:
        """One API response, one line per content block, each repeating usage; the
        placeholder output count on all lines but the last (unless the upstream bug hits,
        then the last one is a placeholder too and that is what gets counted)."""
        message_id = "msg_01" + rand_text(self.rng, 22)
        request_id = "req_011C" + rand_text(self.rng, 20)
        placeholder = self.rng.randint(1, 12)
        if self.rng.random() < self.placeholder_bug:
            usage.output = placeholder
        uids = []
        for i, block in enumerate(blocks):
            last = i == len(blocks) - 1
            message = {
                "model": model,
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": "tool_use" if last and block["type"] == "tool_use" else None,
                "stop_sequence": None,
                "usage": usage.raw(usage.output if last else placeholder),
            }
            line_ts = ts + timedelta(milliseconds=900 * i + self.rng.randint(0, 400))
            uids.append(
                f.record("assistant", line_ts, {"message": message, "requestId": request_id})
            )
            if mirror is not None and mirror_ids is not None:
                # the trap: the parent file carries a copy of the subagent's usage
                mirror.progress(
                    line_ts,
                    {
                        "message": {
                            "type": "assistant",
                            "timestamp": iso_ms(line_ts),
                            "message": {**message, "context_management": None},
                            "requestId": request_id,
                            "uuid": uids[-1],
                        },
                        "normalizedMessages": [],
                        "type": "agent_progress",
                        "prompt": "",
                        "agentId": f.agent_id,
                    },
                    mirror_ids[0],
                    mirror_ids[1],
                )
        self._count(usage, model)
        return uids

    def _hooks(self, f: _ClaudeFile, ts: datetime, event: str, tool: str, tool_id: str) -> None:
        if not self.with_progress:
            return
        for script in ("pre-tool-capture.sh", "guard.sh")[: 1 + self.rng.randint(0, 1)]:
            f.progress(
                ts,
                {
                    "type": "hook_progress",
                    "hookEvent": event,
                    "hookName": f"{event}:{tool}",
                    "command": f"${{CLAUDE_PLUGIN_ROOT}}/scripts/{script}",
                },
                tool_id,
                tool_id,
            )

    def _prefix_blocks(self, rng: random.Random) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if rng.random() < 0.5:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": chunk(rng, rng.randint(80, 600)),
                    "signature": rand_text(rng, 64),
                }
            )
        if rng.random() < 0.5:
            blocks.append({"type": "text", "text": chunk(rng, rng.randint(40, 300))})
        return blocks

    def _tool(
        self, event: Event, ts: datetime
    ) -> tuple[dict[str, Any], str, dict[str, Any] | str | None, bool]:
        """(tool_use block, result text, toolUseResult, is_error) for a call event."""
        rng = self.rng
        tool_id = "toolu_01" + rand_text(rng, 22)
        if isinstance(event, Commit):
            msg = f"git add -A && git commit -m {event.subject!r}"
            out = (
                f"[{self.branch} {event.sha[:7]}] {event.subject}\n"
                f" {rng.randint(1, 5)} files changed, {rng.randint(5, 120)} insertions(+), "
                f"{rng.randint(0, 30)} deletions(-)"
            )
            self.commits.append(event.sha[:7])
            event = Bash(msg, output=out)
        if isinstance(event, Bash):
            text = event.output if event.output is not None else chunk(rng, event.output_chars)
            block = {
                "type": "tool_use",
                "id": tool_id,
                "name": "Bash",
                "input": {"command": event.command, "description": f"Run {event.command[:40]}"},
            }
            if event.exit_code:
                text = f"Exit code {event.exit_code}\n{text}"
                return block, text, f"Error: {text[:200]}", True
            result = {
                "stdout": text,
                "stderr": "",
                "interrupted": False,
                "isImage": False,
                "noOutputExpected": False,
            }
            return block, text, result, False
        if isinstance(event, Read):
            content = chunk(rng, event.chars)
            block = {
                "type": "tool_use",
                "id": tool_id,
                "name": "Read",
                "input": {"file_path": event.path},
            }
            lines = content.count("\n") + 1
            result = {
                "type": "text",
                "file": {
                    "filePath": event.path,
                    "content": content,
                    "numLines": lines,
                    "startLine": 1,
                    "totalLines": lines,
                },
            }
            return block, content, result, False
        if isinstance(event, Edit):
            old, new = chunk(rng, rng.randint(40, 200)), chunk(rng, rng.randint(40, 300))
            block = {
                "type": "tool_use",
                "id": tool_id,
                "name": "Edit",
                "input": {"file_path": event.path, "old_string": old, "new_string": new},
            }
            text = f"The file {event.path} has been updated."
            result = {"filePath": event.path, "oldString": old, "newString": new}
            return block, text, result, False
        raise TypeError(event)

    def write(self, script: Sequence[Event]) -> WrittenSession:
        rng = self.rng
        f = self.main
        times = call_times(script, self.start, self.spacing)
        state = {"context": 0, "pending": 0, "last_output": 0, "cold": 1}
        f.raw(
            {
                "type": "file-history-snapshot",
                "messageId": new_uuid(rng),
                "snapshot": {
                    "messageId": new_uuid(rng),
                    "trackedFileBackups": {},
                    "timestamp": iso_ms(self.start),
                },
                "isSnapshotUpdate": False,
            }
        )
        if self.with_progress:
            hook_id = new_uuid(rng)
            f.progress(
                self.start - timedelta(seconds=2),
                {
                    "type": "hook_progress",
                    "hookEvent": "SessionStart",
                    "hookName": "SessionStart:startup",
                    "command": "${CLAUDE_PLUGIN_ROOT}/scripts/session-start.sh",
                },
                hook_id,
                hook_id,
            )
        call = 0
        prompted = False
        last_ts = self.start
        for event in expand_fillers(script, rng, self.cwd):
            if isinstance(event, Idle):
                if event.minutes * 60 > (3600 if self.one_hour else CACHE_5M.total_seconds()):
                    state["cold"] = 1
                continue
            if isinstance(event, UserPrompt):
                ts = (times[call] if call < len(times) else last_ts) - timedelta(seconds=1)
                f.record("user", ts, {"message": {"role": "user", "content": event.text}})
                state["pending"] += len(event.text) // 4 + 5
                prompted = True
                continue
            if isinstance(event, Compact):
                self._compact(event, last_ts + timedelta(seconds=2), state)
                continue
            if not prompted:  # every session starts with something typed
                text = f"Please work on the {rng.choice(WORDS)} {rng.choice(WORDS)} code."
                f.record(
                    "user",
                    self.start - timedelta(seconds=1),
                    {"message": {"role": "user", "content": text}},
                )
                prompted = True
            ts = times[call]
            call += 1
            last_ts = ts
            fresh = 15000 + rng.randint(0, 4000)
            blocks = self._prefix_blocks(rng)
            if isinstance(event, Reply):
                blocks.append({"type": "text", "text": chunk(rng, event.chars)})
                usage = self._usage(max(40, event.chars // 3), state, fresh)
                self._response(f, ts, self.model, blocks, usage)
                continue
            if isinstance(event, Task):
                self._task(event, ts, blocks, state, fresh)
                continue
            tool_block, text, result, is_error = self._tool(event, ts)
            blocks.append(tool_block)
            output = rng.randint(60, 700) + sum(self._size(str(b)) for b in blocks) // 4
            usage = self._usage(output, state, fresh)
            uids = self._response(f, ts, self.model, blocks, usage)
            tool_id = tool_block["id"]
            self._hooks(f, ts + timedelta(seconds=3), "PreToolUse", tool_block["name"], tool_id)
            result_ts = ts + timedelta(seconds=4 + rng.randint(0, 3))
            self._hooks(f, result_ts, "PostToolUse", tool_block["name"], tool_id)
            f.parent = uids[-1]
            body: dict[str, Any] = {
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": tool_id,
                            "type": "tool_result",
                            "content": text,
                            "is_error": is_error,
                        }
                    ],
                },
            }
            if result is not None:
                body["toolUseResult"] = result
            body["sourceToolAssistantUUID"] = uids[-1]
            f.record("user", result_ts, body)
            state["pending"] += estimate_result_tokens(self._size(text))
            self.end = max(self.end, result_ts)
        lines = size = 0
        for file in self.files:
            n, b = file.flush()
            lines += n
            size += b
        self.end = max(x.last for x in self.files if x.last is not None)
        return WrittenSession(
            agent="claude-code",
            id=self.session_id,
            paths=[x.path for x in self.files],
            cwd=self.cwd,
            branch=self.branch,
            start=self.start - timedelta(seconds=1),
            end=self.end,
            totals=self.totals,
            models=self.models,
            commits=self.commits,
            subagents=self.subagents,
            lines=lines,
            bytes=size,
        )

    def _subfile(self, agent_id: str) -> _ClaudeFile:
        sub = _ClaudeFile(
            self.folder / self.session_id / "subagents" / f"agent-{agent_id}.jsonl",
            self.session_id,
            self.cwd,
            self.branch,
            self.nickname,
            self.rng,
            agent_id=agent_id,
        )
        self.files.append(sub)
        self.subagents.append(agent_id)
        return sub

    def _task(
        self,
        event: Task,
        ts: datetime,
        blocks: list[dict[str, Any]],
        state: dict[str, int],
        fresh: int,
    ) -> None:
        rng = self.rng
        f = self.main
        tool_id = "toolu_01" + rand_text(rng, 22)
        prompt = f"{event.description}: find where {rng.choice(WORDS)} is handled."
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id,
                "name": "Task",
                "input": {
                    "subagent_type": "Explore",
                    "description": event.description,
                    "prompt": prompt,
                    "model": "haiku",
                },
            }
        )
        usage = self._usage(rng.randint(80, 300), state, fresh)
        uids = self._response(f, ts, self.model, blocks, usage)
        agent_id = "a" + "".join(rng.choices("0123456789abcdef", k=6))
        sub = self._subfile(agent_id)
        t = ts + timedelta(seconds=2)
        sub.record("user", t, {"message": {"role": "user", "content": prompt}})
        sub_state = {"context": 0, "pending": 0, "last_output": 0, "cold": 1}
        step = min(
            timedelta(seconds=8), (self.spacing - timedelta(seconds=12)) / max(1, event.requests)
        )
        step = max(step, timedelta(milliseconds=500))
        last_usage: _Usage | None = None
        for j in range(event.requests):
            t = ts + timedelta(seconds=3) + step * j
            if j == event.requests - 1:
                sub_blocks: list[dict[str, Any]] = [
                    {"type": "text", "text": chunk(rng, rng.randint(400, 2000))}
                ]
                sub_usage = self._usage(rng.randint(200, 900), sub_state, 13000)
                self._response(
                    sub, t, event.model, sub_blocks, sub_usage, f, (f"agent_msg_{tool_id}", tool_id)
                )
                last_usage = sub_usage
                break
            path = f"{self.cwd}/{rng.choice(PATHS)}"
            read_id = "toolu_01" + rand_text(rng, 22)
            sub_blocks = [
                {"type": "tool_use", "id": read_id, "name": "Read", "input": {"file_path": path}}
            ]
            sub_usage = self._usage(rng.randint(40, 200), sub_state, 13000)
            sub_uids = self._response(
                sub, t, event.model, sub_blocks, sub_usage, f, (f"agent_msg_{tool_id}", tool_id)
            )
            content = chunk(rng, rng.randint(800, 5000))
            sub.parent = sub_uids[-1]
            sub.record(
                "user",
                t + timedelta(milliseconds=300),
                {
                    "message": {
                        "role": "user",
                        "content": [
                            {"tool_use_id": read_id, "type": "tool_result", "content": content}
                        ],
                    }
                },
            )
            sub_state["pending"] += estimate_result_tokens(len(content))
            last_usage = sub_usage
        report = chunk(rng, rng.randint(800, 3000))
        done = ts + timedelta(seconds=4) + step * event.requests
        f.parent = uids[-1]
        f.record(
            "user",
            done,
            {
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": tool_id,
                            "type": "tool_result",
                            "content": [{"type": "text", "text": report}],
                        }
                    ],
                },
                "toolUseResult": {
                    "status": "completed",
                    "prompt": prompt,
                    "agentId": agent_id,
                    "content": [{"type": "text", "text": report}],
                    "totalDurationMs": int((done - ts).total_seconds() * 1000),
                    "totalTokens": 0,
                    "totalToolUseCount": event.requests - 1,
                    # a copy of the subagent's last call: must not be counted again
                    "usage": last_usage.raw(last_usage.output) if last_usage else {},
                },
            },
        )
        state["pending"] += estimate_result_tokens(len(report))
        self.end = max(self.end, done)

    def _compact(self, event: Compact, ts: datetime, state: dict[str, int]) -> None:
        rng = self.rng
        f = self.main
        agent_id = "acompact-" + "".join(rng.choices("0123456789abcdef", k=6))
        sub = self._subfile(agent_id)
        sub.record(
            "user", ts, {"message": {"role": "user", "content": "Summarise the conversation."}}
        )
        pre = state["context"] + state["pending"] + state["last_output"]
        usage = _Usage(
            3, state["context"], max(1, pre - state["context"]), rng.randint(6, 8), self.one_hour
        )
        self._response(
            sub,
            ts + timedelta(seconds=1),
            self.model,
            [{"type": "text", "text": chunk(rng, 3000)}],
            usage,
        )
        boundary = f.parent
        f.parent = None
        f.record(
            "system",
            ts + timedelta(seconds=30),
            {
                "logicalParentUuid": boundary,
                "subtype": "compact_boundary",
                "content": "Conversation compacted",
                "isMeta": False,
                "level": "info",
                "compactMetadata": {"trigger": event.trigger, "preTokens": pre},
            },
        )
        f.record(
            "user",
            ts + timedelta(seconds=30),
            {
                "message": {"role": "user", "content": "Summary: " + chunk(rng, 4000)},
                "isCompactSummary": True,
                "isVisibleInTranscriptOnly": True,
            },
        )
        state.update(context=0, pending=18000, last_output=0, cold=1)
        self.end = max(self.end, ts + timedelta(seconds=30))


def write_claude_session(
    claude_dir: Path,
    cwd: str | Path,
    *,
    branch: str = "main",
    start: datetime,
    spacing: timedelta = timedelta(seconds=45),
    requests: int = 12,
    model: str = OPUS,
    seed: int | str = 0,
    events: Sequence[Event] | None = None,
    cache_ttl: str = "5m",
    progress: bool = True,
    placeholder_bug: float = 0.0,
) -> WrittenSession:
    """Write one Claude Code session (and its subagent files) under `claude_dir/projects/`.

    `events` is the script; without it the session is a prompt, `requests - 1` ordinary
    calls and a closing reply. `placeholder_bug` is the share of calls whose last line
    keeps the streaming placeholder for output (formats.md §1.5); the returned totals count
    what is written, as a parser must.
    """
    script: Sequence[Event] = (
        events if events is not None else [Filler(max(0, requests - 1)), Reply()]
    )
    writer = _ClaudeWriter(
        claude_dir,
        str(cwd),
        branch,
        start,
        spacing,
        model,
        seed,
        cache_ttl,
        progress,
        placeholder_bug,
    )
    return writer.write(script)
