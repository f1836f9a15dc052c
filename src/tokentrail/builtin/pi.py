"""Pi (pi-coding-agent) sessions: `${PI_AGENT_DIR:-~/.pi/agent/sessions}/<cwd>/<id>.jsonl`.

The first line (`type: session`) names the session and its working directory; each
assistant `message` is one API call with `usage{input, output, cacheRead, cacheWrite,
totalTokens, cost{..., total}}` computed by pi itself. A session is a tree (rewinds leave
abandoned branches in the file): every assistant message was billed, so all count. Pi
records no git branch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.logfile import (
    RecordKinds,
    as_dict,
    as_float,
    as_int,
    as_str,
    first_line,
    parse_ts,
    read_jsonl,
)
from tokentrail.model import (
    AgentCommit,
    Compaction,
    Prompt,
    Request,
    Session,
    SessionRef,
    ToolCall,
    Usage,
    cwd_inside,
    estimate_result_tokens,
)
from tokentrail.toolcalls import (
    commits_in_output,
    first_line_of,
    is_git_commit,
    tool_call,
)

AGENT = "pi"
KNOWN_RECORD_TYPES = frozenset(
    {
        "session",
        "message",
        "model_change",
        "thinking_level_change",
        "compaction",
        "branch_summary",
        "custom",
        "custom_message",
        "label",
        "session_info",
    }
)
_FOLDER = re.compile(r"^--(.*)--$")


def sessions_dir() -> Path:
    return Path(os.environ.get("PI_AGENT_DIR") or Path.home() / ".pi" / "agent" / "sessions")


def folder_name(cwd: Path | str) -> str:
    """Pi's folder for a working directory: `/home/u/app` -> `--home-u-app--` (lossy)."""
    return "--" + re.sub(r"[/\\:]", "-", str(cwd).lstrip("/\\")) + "--"


def _may_hold(folder: str, repo: Path) -> bool:
    """Whether a folder named the way pi names them can belong to `repo` or a folder in
    it; a folder not named that way may hold anything (its files are asked)."""
    match = _FOLDER.match(folder)
    if not match:
        return True
    wanted = folder_name(repo)[2:-2]
    return match.group(1) == wanted or match.group(1).startswith(wanted + "-")


class PiAdapter:
    name = AGENT
    env_var = "PI_AGENT_DIR"  # moves the logs (tokentrail doctor, missing-folder warning)
    parser_version = "pi/1"  # bump when parse() output changes (cache key)

    def roots(self) -> list[Path]:
        return [sessions_dir()]

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        root = sessions_dir()
        try:
            folders = sorted(p for p in root.iterdir() if p.is_dir())
        except OSError:
            return
        for folder in folders:
            if repo is not None and not _may_hold(folder.name, repo):
                continue
            for path in sorted(folder.glob("*.jsonl")):
                head = first_line(path) or {}
                cwd = as_str(head.get("cwd")) if head.get("type") == "session" else None
                if repo is not None and not (cwd and cwd_inside(cwd, repo)):
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                session_id = as_str(head.get("id")) if head.get("type") == "session" else None
                yield SessionRef(
                    agent=AGENT,
                    id=session_id or path.stem.rsplit("_", 1)[-1],
                    path=path,
                    cwd_hint=cwd,
                    size=st.st_size,
                    mtime=st.st_mtime,
                )

    def parse(self, ref: SessionRef) -> Session:
        return _Parser(ref).run()


def pi_usage(raw: dict[str, Any]) -> Usage:
    """`input` is uncached input; a `totalTokens` that only adds up with `cacheRead`
    inside `input` says this provider counted it there."""
    inp, out = as_int(raw.get("input")), as_int(raw.get("output"))
    read, write = as_int(raw.get("cacheRead")), as_int(raw.get("cacheWrite"))
    total = raw.get("totalTokens")
    if read and total is not None and as_int(total) == inp + out + write and read <= inp:
        inp -= read
    return Usage(input=inp, cache_read=read, cache_write_5m=write, output=out)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text") or "")
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


class _Parser:
    def __init__(self, ref: SessionRef) -> None:
        self.ref = ref
        self.session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
        self.kinds = RecordKinds(AGENT, KNOWN_RECORD_TYPES)
        self.cwd = ref.cwd_hint
        self.model = "unknown"
        self.provider: str | None = None
        self.calls: dict[str, ToolCall] = {}

    def run(self) -> Session:
        for rec in read_jsonl(self.ref.path, self.session.issues):
            kind = rec.get("type")
            if not self.kinds.see(kind):
                continue
            ts = parse_ts(rec.get("timestamp"))
            self.session.note_time(ts)
            if kind == "session":
                self.cwd = as_str(rec.get("cwd")) or self.cwd
                self.session.note_place(self.cwd, None)
            elif kind == "model_change":
                self.model = as_str(rec.get("modelId")) or self.model
                self.provider = as_str(rec.get("provider")) or self.provider
            elif kind == "compaction":
                before = rec.get("tokensBefore")
                self.session.compactions.append(
                    Compaction(
                        ts,
                        "",
                        as_int(before) if before is not None else None,
                        len(self.session.requests),
                    )
                )
            elif kind == "message":
                self._message(rec, as_dict(rec.get("message")), ts)
        self.kinds.report(self.ref.path, self.session.issues)
        return self.session

    def _message(self, rec: dict[str, Any], msg: dict[str, Any], ts: datetime | None) -> None:
        role = msg.get("role")
        if role == "user":
            self.session.prompts.append(Prompt(ts, len(_text(msg.get("content")))))
        elif role == "assistant":
            self._assistant(rec, msg, ts)
        elif role == "toolResult":
            self._result(msg, ts)

    def _assistant(self, rec: dict[str, Any], msg: dict[str, Any], ts: datetime | None) -> None:
        usage = msg.get("usage")
        if isinstance(usage, dict):
            self.model = as_str(msg.get("model")) or self.model
            self.provider = as_str(msg.get("provider")) or self.provider
            cost = as_float(as_dict(usage.get("cost")).get("total"))
            entry = as_str(rec.get("id"))
            self.session.requests.append(
                Request(
                    key=f"pi:{self.session.id}:{entry}" if entry else None,
                    timestamp=ts,
                    model=self.model,
                    usage=pi_usage(usage),
                    cwd=self.cwd,
                    provider=self.provider,
                    agent_cost_usd=cost or None,  # 0: pi did not know the price
                )
            )
        index = max(len(self.session.requests) - 1, 0)
        content = msg.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "toolCall":
                call_id = as_str(block.get("id"))
                if call_id is None or call_id in self.calls:
                    continue
                name = as_str(block.get("name")) or "?"
                call = tool_call(call_id, name, as_dict(block.get("arguments")), index, ts)
                self.calls[call_id] = call
                self.session.tool_calls.append(call)

    def _result(self, msg: dict[str, Any], ts: datetime | None) -> None:
        call = self.calls.get(str(msg.get("toolCallId")))
        if call is None:
            return
        text = _text(msg.get("content"))
        call.result_chars = len(text)
        call.result_tokens = estimate_result_tokens(len(text))
        call.is_error = msg.get("isError") is True
        if call.is_error:
            call.error_head = first_line_of(text)
        if is_git_commit(call.command):
            for branch, sha in commits_in_output(text):
                self.session.commits.append(
                    AgentCommit(sha, branch, ts or call.timestamp, call.request_index, call.id)
                )


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    register(PiAdapter())
