"""Claude Code transcripts: `<config>/projects/<slug>/<session>.jsonl` plus subagent files.

Accounting rules (formats.md §1.5): one API response is written as one line per content
block, each repeating `usage`; it is counted once per (message.id, requestId), keeping the
line with the largest token total. Usage nested in `progress` records or `toolUseResult`
are copies of subagent calls and are never read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.logfile import (
    FileMark,
    JsonlReader,
    RecordKinds,
    as_dict,
    as_int,
    as_str,
    first_line,
    list_dir,
    note,
    parse_ts,
)
from tokentrail.model import (
    PROMPT_TASK_NOTIFICATION,
    PROMPT_USER,
    AgentCommit,
    Compaction,
    ParseIssues,
    Prompt,
    Request,
    Session,
    SessionRef,
    ToolCall,
    Usage,
    estimate_result_tokens,
)
from tokentrail.toolcalls import (
    added_lines,
    commits_in_output,
    describe_call,
    error_line,
    is_git_commit,
    read_range,
)

AGENT = "claude-code"
# Streaming placeholders are 1-30 tokens (formats.md §1.5); a call that wrote more than
# this many characters of content cannot have produced that little output.
PLACEHOLDER_MAX_OUTPUT = 30
PLACEHOLDER_MIN_CHARS = 400
_SLUG_CHARS = re.compile(r"[^A-Za-z0-9]")
SKIP = b'"type":"progress"'  # copies of subagent usage: never decoded
# Content characters only matter as "more than PLACEHOLDER_MIN_CHARS": counting stops there.
CHARS_CAP = PLACEHOLDER_MIN_CHARS + 1
RESUME_VERSION = 2
# Record types this parser knows (formats.md §1.3); anything else is schema drift and warned.
KNOWN_RECORD_TYPES = frozenset(
    {
        "user",
        "assistant",
        "system",
        "summary",
        "progress",
        "file-history-snapshot",
        "queue-operation",
        "attachment",
        "permission-mode",
        "mode",
        "agent-name",
        "custom-title",
        "ai-title",
        "last-prompt",
        "pr-link",
        "worktree-state",
        "relocated",
        "bridge-session",
    }
)


def project_slug(path: Path | str) -> str:
    """Claude Code's folder name for a working directory (lossy: every non-alphanumeric
    character becomes `-`)."""
    return _SLUG_CHARS.sub("-", str(path))


def config_roots() -> list[Path]:
    raw = os.environ.get("CLAUDE_CONFIG_DIR")
    if raw:
        return [Path(p).expanduser() / "projects" for p in raw.split(",") if p.strip()]
    home = Path.home()
    return [home / ".claude" / "projects", home / ".config" / "claude" / "projects"]


class ClaudeCodeAdapter:
    name = AGENT
    env_var = "CLAUDE_CONFIG_DIR"  # moves the logs (tokentrail doctor, missing-folder warning)
    parser_version = "claude-code/4"  # bump when parse() output changes (cache key)

    def roots(self) -> list[Path]:
        return config_roots()

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        wanted = project_slug(repo) if repo else None
        for root in self.roots():
            if not note(root):
                continue
            try:
                folders = [e.name for e in list_dir(root) if e.is_dir()]  # d_type: no stat
            except OSError:
                continue
            for folder in folders:
                name = project_slug(folder)
                if wanted and name != wanted and not name.startswith(wanted + "-"):
                    continue
                yield from _sessions_in(root / folder)

    def parse(self, ref: SessionRef) -> Session:
        return _Parser(ref).run()

    def parse_resumable(
        self, ref: SessionRef, previous: Session | None, token: bytes | None
    ) -> tuple[Session, bytes]:
        """Read only what was appended since `previous` (parsed with `token`) when the
        session's files only grew at the end of their reading order; else read them all.
        The result is the same as `parse` either way."""
        parser = _Parser.resumed(ref, previous, token) if previous and token else None
        if parser is None:
            parser = _Parser(ref)
        session = parser.run()
        return session, parser.token()


def _file_stat(path: Path) -> list[int]:
    try:
        st = os.stat(path)
    except OSError:
        return []
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _stat(path: Path) -> tuple[int, float]:
    try:
        st = path.stat()
    except OSError:
        return 0, 0.0
    return st.st_size, st.st_mtime


def _ref(session_id: str, paths: list[Path], cwd: str | None = None) -> SessionRef:
    stats = [_stat(p) for p in paths]
    return SessionRef(
        agent=AGENT,
        id=session_id,
        path=paths[0],
        extra_paths=tuple(paths[1:]),
        cwd_hint=cwd,
        size=sum(s for s, _ in stats),
        mtime=max((m for _, m in stats), default=0.0),
    )


def _sessions_in(folder: Path) -> Iterator[SessionRef]:
    """Main files with their `<id>/subagents/` files; 2.0-style flat `agent-*.jsonl` files
    join the session named by their own `sessionId`; orphans become sessions of their own."""
    mains: dict[str, list[Path]] = {}
    flat_agents: list[Path] = []
    try:
        entries = list_dir(folder)
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.endswith(".jsonl") and name != ".jsonl" and entry.is_file():
            path = folder / name
            if name.startswith("agent-"):
                flat_agents.append(path)
            else:
                mains.setdefault(name[: -len(".jsonl")], []).insert(0, path)
    for entry in entries:
        if not entry.is_dir():
            continue
        sub = folder / entry.name / "subagents"
        if not note(sub):
            note(sub.parent)  # where a subagents folder would appear
            continue
        try:
            files = [
                sub / e.name
                for e in list_dir(sub)
                if e.name.startswith("agent-") and e.name.endswith(".jsonl")
            ]
        except OSError:
            continue
        if files:
            mains.setdefault(entry.name, []).extend(files)
    for path in flat_agents:
        head = first_line(path) or {}
        parent = head.get("sessionId")
        mains.setdefault(as_str(parent) or path.stem, []).append(path)
    for session_id, paths in mains.items():
        yield _ref(session_id, paths)


def _block_chars(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return len(block.get("text") or "")
    if kind == "thinking":
        return len(block.get("thinking") or "")
    if kind == "tool_use":
        arguments = block.get("input") or ""
        if isinstance(arguments, dict):  # its text as str() gives it: at least its strings
            strings = sum(len(v) for v in arguments.values() if isinstance(v, str))
            if strings >= CHARS_CAP:
                return strings
        return len(str(arguments))
    return 0


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text") or "")
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _usage(raw: dict[str, Any]) -> Usage:
    split = raw.get("cache_creation")
    if isinstance(split, dict):
        cw5 = as_int(split.get("ephemeral_5m_input_tokens"))
        cw1 = as_int(split.get("ephemeral_1h_input_tokens"))
    else:
        cw5, cw1 = as_int(raw.get("cache_creation_input_tokens")), 0
    server = raw.get("server_tool_use")
    web = as_int(server.get("web_search_requests")) if isinstance(server, dict) else 0
    return Usage(
        input=as_int(raw.get("input_tokens")),
        cache_read=as_int(raw.get("cache_read_input_tokens")),
        cache_write_5m=cw5,
        cache_write_1h=cw1,
        output=as_int(raw.get("output_tokens")),
        web_search_requests=web,
    )


def _prompt_kind(text: str) -> str:
    """A background task's notification is injected as a user turn; nobody typed it."""
    notice = text.lstrip().startswith("<task-notification>")
    return PROMPT_TASK_NOTIFICATION if notice else PROMPT_USER


class SidechainThreads:
    """Threads of inline sidechains (Claude Code 1.0.x writes Task subagent turns into the
    main file with `isSidechain: true` and no `agentId`): each Task's turns form their own
    thread, named by the root of their `parentUuid` chain (the Task prompt record), so one
    Task's results are never counted as carried by another Task's requests."""

    def __init__(self) -> None:
        self.root_of: dict[str, str] = {}

    def see(self, rec: dict[str, Any]) -> None:
        uuid = rec.get("uuid")
        if not rec.get("isSidechain") or rec.get("agentId") or not isinstance(uuid, str):
            return
        parent = rec.get("parentUuid")
        if isinstance(parent, str) and parent:
            self.root_of[uuid] = self.root_of.get(parent, parent)
        else:
            self.root_of[uuid] = uuid

    def thread(self, rec: dict[str, Any]) -> str:
        """`sidechain-<root uuid prefix>`; plain `sidechain` when the record has no uuid."""
        root = self.root_of.get(str(rec.get("uuid")))
        return f"sidechain-{root[:8]}" if root else "sidechain"


class _Parser:
    """One pass over a session's files, main file first."""

    def __init__(self, ref: SessionRef) -> None:
        self.ref = ref
        self.session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
        self.by_key: dict[str, int] = {}
        self.chars: list[int] = []  # content characters per request, for the placeholder check
        self.calls: dict[str, ToolCall] = {}
        self.file_index = 0
        self.sidechains = SidechainThreads()
        self.last_user: dict[str | None, datetime] = {}  # per thread: when a request was sent
        self.handlers: dict[str, Callable[[dict[str, Any], datetime | None, str | None], None]]
        self.handlers = {"assistant": self._assistant, "user": self._user, "system": self._system}
        self.resume_at = (0, 0, 0)  # (file index, byte offset, garbled lines so far there)
        self.stats: list[list[int]] = []  # files before the last one, as read
        self.before_last: tuple[int, int, list[str]] = (0, 0, [])
        self.last: JsonlReader | None = None
        self.last_kinds: list[Any] = [0, 0, {}]  # the last file's record types, as counted
        self.kinds = RecordKinds(AGENT, KNOWN_RECORD_TYPES)

    def run(self) -> Session:
        paths, (first, offset, bad) = self.ref.paths, self.resume_at
        for index in range(first, len(paths)):
            path = paths[index]
            self.file_index = index
            file_agent = path.stem[len("agent-") :] if path.name.startswith("agent-") else None
            if file_agent:
                self.session.subagent_files[file_agent] = str(path)
            last = index == len(paths) - 1
            if last:  # where a later read of the appended lines would start from
                issues = self.session.issues
                self.before_last = (issues.bad_lines, issues.truncated_lines, [*issues.warnings])
            else:
                self.stats.append(_file_stat(path))
            reader = JsonlReader(
                path,
                self.session.issues,
                start=offset if index == first else 0,
                skip=SKIP,
                count_partial=not last,
                bad=bad if index == first else 0,
            )
            for rec in reader:
                self.kinds.see(rec.get("type"))
                self._record(rec, file_agent)
            if last:
                self.last = reader
                if reader.partial:  # counted as read_jsonl counts it
                    self.session.issues.truncated_lines += 1
                    self.session.issues.warnings.append(f"{path}: skipped a truncated last line")
                kinds = self.kinds
                self.last_kinds = [kinds.lines, kinds.recognised, dict(kinds.unknown)]
            self.kinds.report(path, self.session.issues)
        for request, chars in zip(self.session.requests, self.chars):
            u = request.usage
            request.output_lower_bound = (
                u.output <= PLACEHOLDER_MAX_OUTPUT and chars > PLACEHOLDER_MIN_CHARS
            )
        return self.session

    def token(self) -> bytes:
        """What `resumed` needs to go on from here (no log content: sizes and offsets)."""
        assert self.last is not None
        return orjson.dumps(
            {
                "v": RESUME_VERSION,
                "paths": [str(p) for p in self.ref.paths],
                "stats": self.stats,
                "last": self.last.mark().to_json(),
                "last_bad": self.last.bad,
                "before_last": self.before_last,
                "chars": self.chars,
                "threads": self.sidechains.root_of,
                "sent": [[thread, ts.isoformat()] for thread, ts in self.last_user.items()],
                "kinds": self.last_kinds,
            }
        )

    @classmethod
    def resumed(cls, ref: SessionRef, previous: Session, token: bytes) -> _Parser | None:
        """A parser in the state it was in after reading `previous`, positioned at the end
        of the last file it read, or None when the files changed in any other way."""
        try:
            state = orjson.loads(token)
            if state.get("v") != RESUME_VERSION:
                return None
            old = [str(p) for p in state["paths"]]
            new = [str(p) for p in ref.paths]
            if new[: len(old)] != old or len(state["chars"]) != len(previous.requests):
                return None
            if [_file_stat(Path(p)) for p in old[:-1]] != [list(s) for s in state["stats"]]:
                return None
            mark = FileMark.from_json(state["last"])
            if mark.path != old[-1] or not mark.only_grew():
                return None
            bad, truncated, warnings = state["before_last"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        parser = cls(ref)
        session = parser.session = previous
        session.paths = ref.paths
        session.issues = ParseIssues(bad, truncated, list(warnings))
        parser.by_key = {r.key: i for i, r in enumerate(session.requests) if r.key}
        parser.chars = list(state["chars"])
        parser.calls = {c.id: c for c in session.tool_calls}
        parser.stats = [list(s) for s in state["stats"]]
        parser.resume_at = (len(old) - 1, mark.offset, int(state["last_bad"]))
        try:
            parser.sidechains.root_of = dict(state["threads"])
            parser.last_user = {t: datetime.fromisoformat(ts) for t, ts in state["sent"]}
            lines, recognised, unknown = state["kinds"]
            parser.kinds.lines, parser.kinds.recognised = int(lines), int(recognised)
            parser.kinds.unknown.update(unknown)
        except (KeyError, TypeError, ValueError):
            return None
        return parser

    def _record(self, rec: dict[str, Any], file_agent: str | None) -> None:
        if file_agent is None:
            self.sidechains.see(rec)
        handler = self.handlers.get(rec.get("type"))  # type: ignore[arg-type]
        if handler is None:
            return  # summary, progress, snapshots, queue operations and unknown types
        s = self.session
        ts = parse_ts(rec.get("timestamp"))
        s.note_time(ts)
        cwd, branch = as_str(rec.get("cwd")), as_str(rec.get("gitBranch"))
        if (not rec.get("isSidechain") and file_agent is None) or (s.cwd is None and cwd):
            s.note_place(cwd, branch or None)
        handler(rec, ts, file_agent)

    def _subagent(self, rec: dict[str, Any], file_agent: str | None) -> str | None:
        if file_agent:
            return file_agent
        if rec.get("isSidechain"):
            agent_id = rec.get("agentId")
            if isinstance(agent_id, str) and agent_id:
                return agent_id
            return self.sidechains.thread(rec)
        return None

    def _assistant(self, rec: dict[str, Any], ts: datetime | None, file_agent: str | None) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return
        raw = msg.get("usage")
        index = len(self.session.requests) - 1
        content = msg.get("content")
        if not isinstance(content, list):
            content = []
        if isinstance(raw, dict):
            index = self._request(rec, ts, msg, raw, file_agent)
            chars = self.chars[index]
            if chars < CHARS_CAP:
                for block in content:
                    if chars >= CHARS_CAP:
                        break
                    if isinstance(block, dict):
                        chars += _block_chars(block)
                self.chars[index] = min(chars, CHARS_CAP)
        if index < 0:
            return
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self._tool_use(block, index, rec, ts, file_agent)

    def _request(
        self,
        rec: dict[str, Any],
        ts: datetime | None,
        msg: dict[str, Any],
        raw: dict[str, Any],
        file_agent: str | None,
    ) -> int:
        usage = _usage(raw)
        message_id = as_str(msg.get("id"))
        key = None
        if message_id:
            request_id = as_str(rec.get("requestId"))
            key = f"{message_id}:{request_id}" if request_id else message_id
            seen = self.by_key.get(key)
            if seen is not None:
                earlier = self.session.requests[seen]
                if usage.total > earlier.usage.total:
                    earlier.usage = usage
                return seen
        model = as_str(msg.get("model")) or "unknown"
        thread = self._subagent(rec, file_agent)
        requests = self.session.requests
        requests.append(
            Request(
                key,
                ts,
                model,
                usage,
                as_str(rec.get("gitBranch")),
                as_str(rec.get("cwd")),
                thread,
                self.file_index,
                sent=self.last_user.get(thread),
            )
        )
        self.chars.append(0)
        index = len(requests) - 1
        if key:
            self.by_key[key] = index
        return index

    def _tool_use(
        self,
        block: dict[str, Any],
        index: int,
        rec: dict[str, Any],
        ts: datetime | None,
        file_agent: str | None,
    ) -> None:
        call_id = block.get("id")
        if not isinstance(call_id, str) or call_id in self.calls:
            return
        name = str(block.get("name") or "?")
        args = as_dict(block.get("input"))
        summary, command, files, writes = describe_call(name, args)
        call = ToolCall(
            id=call_id,
            name=name,
            request_index=index,
            timestamp=ts,
            summary=summary,
            command=command,
            files=files,
            writes=writes,
            added=added_lines(name, args) if writes else (),
            subagent=self._subagent(rec, file_agent),
            read_range=read_range(name, args),
        )
        self.calls[call_id] = call
        self.session.tool_calls.append(call)

    def _user(self, rec: dict[str, Any], ts: datetime | None, file_agent: str | None) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return
        if ts is not None:
            self.last_user[self._subagent(rec, file_agent)] = ts
        content = msg.get("content")
        if isinstance(content, str):
            if not (
                rec.get("isMeta")
                or rec.get("isCompactSummary")
                or file_agent
                or rec.get("isSidechain")
            ):
                self.session.prompts.append(Prompt(ts, len(content), _prompt_kind(content)))
            return
        if not isinstance(content, list):
            return
        typed = 0
        kind = PROMPT_USER
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                self._tool_result(block, ts)
            elif block.get("type") == "text":
                text = str(block.get("text") or "")
                typed += len(text)
                kind = _prompt_kind(text) if kind == PROMPT_USER else kind
        if typed and not (
            rec.get("isMeta") or rec.get("isCompactSummary") or file_agent or rec.get("isSidechain")
        ):
            self.session.prompts.append(Prompt(ts, typed, kind))

    def _tool_result(self, block: dict[str, Any], ts: Any) -> None:
        call = self.calls.get(str(block.get("tool_use_id")))
        if call is None:
            return
        text = _result_text(block.get("content"))
        call.result_chars = len(text)
        call.result_tokens = estimate_result_tokens(len(text))
        call.is_error = bool(block.get("is_error"))
        if call.is_error:
            call.error_head = error_line(text)
        if is_git_commit(call.command):
            for branch, sha in commits_in_output(text):
                self.session.commits.append(
                    AgentCommit(
                        sha=sha,
                        branch=branch,
                        timestamp=ts or call.timestamp,
                        request_index=call.request_index,
                        tool_call_id=call.id,
                    )
                )

    def _system(self, rec: dict[str, Any], ts: datetime | None, file_agent: str | None) -> None:
        if rec.get("subtype") != "compact_boundary" or file_agent:
            return
        meta = as_dict(rec.get("compactMetadata"))
        pre = meta.get("preTokens")
        self.session.compactions.append(
            Compaction(
                timestamp=ts,
                trigger=str(meta.get("trigger") or ""),
                pre_tokens=as_int(pre) if pre is not None else None,
                request_index=len(self.session.requests),
            )
        )


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    register(ClaudeCodeAdapter())
