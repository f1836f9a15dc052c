"""Claude Code transcripts: `<config>/projects/<slug>/<session>.jsonl` plus subagent files.

Accounting rules (formats.md §1.5): one API response is written as one line per content
block, each repeating `usage`; it is counted once per (message.id, requestId), keeping the
line with the largest token total. Usage nested in `progress` records or `toolUseResult`
are copies of subagent calls and are never read.

Every field is read through the typed accessors of `tokentrail.logfile`: a wrong type or
an implausible number loses that field only, and a record the parser cannot use at all is
counted and skipped without costing its session. `cost-state` (the agent's own running
cost) and `pr-link` records are kept on the Session as a cross-check and for attribution.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.logfile import (
    FileState,
    JsonlReader,
    RecordKinds,
    as_dict,
    as_str,
    checkpoint,
    count_or_none,
    display,
    first_line,
    is_live,
    money,
    parse_ts,
    regular_state,
    resume,
    scan_dir,
    scan_entries,
    stat_state,
    suffix,
    text_len,
    tokens,
)
from tokentrail.model import (
    PROMPT_TASK_NOTIFICATION,
    PROMPT_USER,
    AgentCommit,
    Compaction,
    ParseIssues,
    PrLink,
    Prompt,
    Request,
    Session,
    SessionRef,
    ToolCall,
    Usage,
    estimate_result_tokens,
)
from tokentrail.toolcalls import (
    commits_in_output,
    error_line,
    is_git_commit,
    read_range,
    tool_call,
)

AGENT = "claude-code"
# Streaming placeholders are 1-30 tokens (formats.md §1.5); a call that wrote more than
# this many characters of content cannot have produced that little output.
PLACEHOLDER_MAX_OUTPUT = 30
PLACEHOLDER_MIN_CHARS = 400
_SLUG_CHARS = re.compile(r"[^A-Za-z0-9]")
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
        "cost-state",
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
    parser_version = "claude-code/6"  # bump when parse() output changes (cache key)

    def __init__(self) -> None:
        self.skipped: list[str] = []  # entries discovery could not use, "path: why"

    def roots(self) -> list[Path]:
        return config_roots()

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        wanted = project_slug(repo) if repo else None
        for root in self.roots():
            for folder in scan_dir(root, self.skipped):
                name = project_slug(folder.name)
                if wanted and name != wanted and not name.startswith(wanted + "-"):
                    continue
                if folder.is_dir():
                    yield from _sessions_in(folder, self.skipped)

    def parse(self, ref: SessionRef) -> Session:
        return _Parser(ref).run()[0]

    def parse_resumable(
        self, ref: SessionRef, previous: Session | None, token: bytes | None
    ) -> tuple[Session, bytes | None]:
        """`parse`, going on from where a resume point left off when the session's last
        file only grew since (a live session: its main file, when it has no subagent files);
        a resume point for next time when the session may still be growing."""
        keep = is_live(ref.mtime)
        resumed = resume(ref.paths, token) if token else None
        if resumed is None or not isinstance(resumed.parser, _Parser):
            return _Parser(ref).run(keep=keep)
        parser = resumed.parser
        parser.ref = ref
        last = len(ref.paths) - 1
        return parser.run(last, resumed.offset, resumed.carried, keep=keep)


def _ref(session_id: str, files: list[tuple[Path, FileState | None]]) -> SessionRef:
    paths = [path for path, _ in files]
    states = [state for _, state in files]
    known = [state for state in states if state is not None]
    return SessionRef(
        agent=AGENT,
        id=session_id,
        path=paths[0],
        extra_paths=tuple(paths[1:]),
        size=sum(state[2] for state in known),
        mtime=max((state[3] / 1e9 for state in known), default=0.0),
        states=tuple(known) if len(known) == len(states) else None,
    )


def _sessions_in(folder: Path, skipped: list[str]) -> Iterator[SessionRef]:
    """Main files with their `<id>/subagents/` files; 2.0-style flat `agent-*.jsonl` files
    join the session named by their own `sessionId`; orphans become sessions of their own.
    A main file that is not a readable regular file (a dangling link, a FIFO) is named in
    `skipped`; a broken subagent file stays in its session, whose parse names it. One stat
    per file: a home holds thousands, and this runs on every hook."""
    mains: dict[str, list[tuple[Path, FileState | None]]] = {}
    flat_agents: list[tuple[Path, FileState | None]] = []
    entries = scan_entries(folder, skipped)
    for entry in entries:
        name = entry.name
        if suffix(name) != ".jsonl":
            continue
        why, state = regular_state(entry.path)
        if why is not None:
            if why != "a folder":
                skipped.append(f"{display(entry.path)}: {why}")
            continue
        if name.startswith("agent-"):
            flat_agents.append((folder / name, state))
        else:
            mains.setdefault(name[: -len(".jsonl")], []).insert(0, (folder / name, state))
    for entry in entries:
        if not _is_dir(entry):
            continue
        listed = scan_entries(os.path.join(entry.path, "subagents"), skipped)
        logs = [sub for sub in listed if _is_subagent_log(sub.name)]
        if not logs:
            continue
        subagents = folder / entry.name / "subagents"
        files = [(subagents / sub.name, stat_state(sub.path)) for sub in logs]
        mains.setdefault(entry.name, []).extend(files)
    for path, state in flat_agents:
        head = first_line(path) or {}
        mains.setdefault(as_str(head.get("sessionId")) or path.stem, []).append((path, state))
    for session_id, files in mains.items():
        yield _ref(session_id, files)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_subagent_log(name: str) -> bool:
    return name.startswith("agent-") and name.endswith(".jsonl")


def _block_chars(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return text_len(block.get("text"))
    if kind == "thinking":
        return text_len(block.get("thinking"))
    if kind == "tool_use":
        return len(str(block.get("input") or ""))
    return 0


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
    return ""


def _usage(raw: dict[str, Any], issues: ParseIssues) -> Usage:
    split = raw.get("cache_creation")
    if isinstance(split, dict):
        cw5 = tokens(split.get("ephemeral_5m_input_tokens"), issues)
        cw1 = tokens(split.get("ephemeral_1h_input_tokens"), issues)
    else:
        cw5, cw1 = tokens(raw.get("cache_creation_input_tokens"), issues), 0
    server = raw.get("server_tool_use")
    web = tokens(server.get("web_search_requests"), issues) if isinstance(server, dict) else 0
    return Usage(
        input=tokens(raw.get("input_tokens"), issues),
        cache_read=tokens(raw.get("cache_read_input_tokens"), issues),
        cache_write_5m=cw5,
        cache_write_1h=cw1,
        output=tokens(raw.get("output_tokens"), issues),
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
        if rec.get("isSidechain") is not True or rec.get("agentId") or not isinstance(uuid, str):
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


def _ids(raw_message: Any, raw_request: Any) -> tuple[str | None, str | None, bool]:
    """(message id, request id, whether either is garbled: present but of the wrong type,
    or holding bytes that lenient decoding replaced)."""
    garbled = False
    message_id = raw_message if type(raw_message) is str and raw_message else None
    if message_id is None:
        garbled = raw_message not in (None, "")
    elif "\ufffd" in message_id:
        message_id, garbled = None, True
    request_id = raw_request if type(raw_request) is str and raw_request else None
    if request_id is None:
        garbled = garbled or raw_request not in (None, "")
    elif "\ufffd" in request_id:
        request_id, garbled = None, True
    return message_id, request_id, garbled


_Handler = Callable[[dict[str, Any], datetime | None, str | None], None]


class _Parser:
    """One pass over a session's files, main file first."""

    def __init__(self, ref: SessionRef) -> None:
        self.ref = ref
        self.session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
        self.issues = self.session.issues
        self.by_key: dict[str, int] = {}  # "message:request" (or one of them) -> index
        self.by_message: dict[str, int] = {}
        self.by_request: dict[str, int] = {}
        self.provisional: set[int] = set()  # requests first seen on a line with a garbled id
        self.chars: list[int] = []  # content characters per request, for the placeholder check
        self.calls: dict[str, ToolCall] = {}
        self.pr_urls: set[str] = set()
        self.file_index = 0
        self.sidechains = SidechainThreads()
        self.last_user: dict[str | None, datetime] = {}  # per thread: when a request was sent
        self.handlers: dict[str, _Handler] = {
            "assistant": self._assistant,
            "user": self._user,
            "system": self._system,
        }
        self.meta_handlers: dict[str, _Handler] = {
            "cost-state": self._cost_state,
            "pr-link": self._pr_link,
        }
        self.kinds = RecordKinds(AGENT, KNOWN_RECORD_TYPES)

    def run(
        self,
        first: int = 0,
        start: int = 0,
        carried: tuple[int, int, int] = (0, 0, 0),
        keep: bool = False,
    ) -> tuple[Session, bytes | None]:
        """Read the files from `first` on (the first of them from byte `start`, its reader
        carrying what an earlier read skipped); with `keep`, also a resume point taken at the
        last whole line of the last file, before anything is added up."""
        token = None
        paths = self.ref.paths
        for index in range(first, len(paths)):
            path = paths[index]
            self.file_index = index
            file_agent = path.stem[len("agent-") :] if path.name.startswith("agent-") else None
            if file_agent:
                self.session.subagent_files[file_agent] = display(path)
            bad, repaired, oversized = carried if index == first else (0, 0, 0)
            reader = JsonlReader(
                path,
                self.issues,
                start=start if index == first else 0,
                skip=b'"type":"progress"',
                bad=bad,
                repaired=repaired,
                oversized=oversized,
            )
            see, record = self.kinds.see, self._record
            for rec in reader.records():
                see(rec.get("type"))
                try:
                    record(rec, file_agent)
                except Exception:  # a shape no accessor foresaw: lose the record, not the session
                    self.issues.bad_records += 1
            if keep and index == len(paths) - 1:
                token = checkpoint(paths, reader, self)
            reader.account()
            self.kinds.report(path, self.issues)
        return self._finish(), token

    def _finish(self) -> Session:
        for request, chars in zip(self.session.requests, self.chars):
            u = request.usage
            request.output_lower_bound = (
                u.output <= PLACEHOLDER_MAX_OUTPUT and chars > PLACEHOLDER_MIN_CHARS
            )
        self.issues.field_warning(display(self.ref.path))
        return self.session

    def _record(self, rec: dict[str, Any], file_agent: str | None) -> None:
        if file_agent is None:
            self.sidechains.see(rec)
        kind = rec.get("type")
        if not isinstance(kind, str):
            return
        handler = self.handlers.get(kind)
        if handler is None:
            meta = self.meta_handlers.get(kind)
            if meta is not None:
                meta(rec, parse_ts(rec.get("timestamp")), file_agent)
            return  # summary, progress, snapshots, queue operations and unknown types
        s = self.session
        ts = parse_ts(rec.get("timestamp"))
        s.note_time(ts)
        cwd, branch = as_str(rec.get("cwd")), as_str(rec.get("gitBranch"))
        if (rec.get("isSidechain") is not True and file_agent is None) or (s.cwd is None and cwd):
            s.note_place(cwd, branch)
        handler(rec, ts, file_agent)

    def _subagent(self, rec: dict[str, Any], file_agent: str | None) -> str | None:
        if file_agent:
            return file_agent
        if rec.get("isSidechain") is True:
            return as_str(rec.get("agentId")) or self.sidechains.thread(rec)
        return None

    def _assistant(self, rec: dict[str, Any], ts: datetime | None, file_agent: str | None) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return
        raw = msg.get("usage")
        index = len(self.session.requests) - 1
        content: list[Any] = msg["content"] if isinstance(msg.get("content"), list) else []
        if isinstance(raw, dict):
            index = self._request(rec, ts, msg, raw, file_agent)
            self.chars[index] += sum(_block_chars(b) for b in content if isinstance(b, dict))
        if index < 0:
            return
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self._tool_use(block, index, rec, ts, file_agent)

    def _seen(self, message_id: str | None, request_id: str | None, key: str | None) -> int | None:
        """The request this line belongs to. Sound ids follow the reference rule: the exact
        key (message id, request id), either alone when the other is absent. A line one of
        whose ids is garbled (a wrong type, bytes lenient decoding replaced) joins by the
        other id, and a later sound line of that response joins it back, so a corrupted
        line never counts its response twice (one API call has one of each id)."""
        if key is not None and key in self.by_key:
            return self.by_key[key]
        if message_id:
            found = self.by_message.get(message_id)
            if found is not None and (key is None or found in self.provisional):
                return found
        if request_id:
            found = self.by_request.get(request_id)
            if found is not None and (key is None or found in self.provisional):
                return found
        return None

    def _request(
        self,
        rec: dict[str, Any],
        ts: datetime | None,
        msg: dict[str, Any],
        raw: dict[str, Any],
        file_agent: str | None,
    ) -> int:
        usage = _usage(raw, self.issues)
        message_id, request_id, garbled = _ids(msg.get("id"), rec.get("requestId"))
        key: str | None = None
        if not garbled:
            if message_id and request_id:
                key = f"{message_id}:{request_id}"
            else:
                key = message_id or (f"req:{request_id}" if request_id else None)
            seen = self.by_key.get(key) if key else None  # the common case: one lookup
            if seen is None and self.provisional:
                seen = self._seen(message_id, request_id, key)
        else:
            seen = self._seen(message_id, request_id, None)
        if seen is not None:
            request = self.session.requests[seen]
            if usage.total > request.usage.total:
                request.usage = usage
            if key is not None and seen in self.provisional:  # the sound ids name it now
                self.provisional.discard(seen)
                request.key = key
                self.by_key[key] = seen
                self._index(message_id, request_id, seen)
            return seen
        thread = self._subagent(rec, file_agent)
        self.session.requests.append(
            Request(
                key=key,
                timestamp=ts,
                model=as_str(msg.get("model")) or "unknown",
                usage=usage,
                branch=as_str(rec.get("gitBranch")),
                cwd=as_str(rec.get("cwd")),
                subagent=thread,
                file_index=self.file_index,
                sent=self.last_user.get(thread),
            )
        )
        self.chars.append(0)
        index = len(self.session.requests) - 1
        if key:
            self.by_key[key] = index
        if garbled:
            self.provisional.add(index)
        self._index(message_id, request_id, index)
        return index

    def _index(self, message_id: str | None, request_id: str | None, index: int) -> None:
        if message_id:
            self.by_message.setdefault(message_id, index)
        if request_id:
            self.by_request.setdefault(request_id, index)

    def _tool_use(
        self,
        block: dict[str, Any],
        index: int,
        rec: dict[str, Any],
        ts: datetime | None,
        file_agent: str | None,
    ) -> None:
        call_id = as_str(block.get("id"))
        if call_id is None or call_id in self.calls:
            return
        name = as_str(block.get("name")) or "?"
        args = as_dict(block.get("input"))
        call = tool_call(
            call_id,
            name,
            args,
            index,
            ts,
            subagent=self._subagent(rec, file_agent),
            read_range=read_range(name, args),
        )
        self.calls[call_id] = call
        self.session.tool_calls.append(call)

    def _is_typed(self, rec: dict[str, Any], file_agent: str | None) -> bool:
        """Whether a user record's text was typed by the user (not meta, a summary or a
        subagent's prompt)."""
        return not (
            rec.get("isMeta") is True
            or rec.get("isCompactSummary") is True
            or file_agent
            or rec.get("isSidechain") is True
        )

    def _user(self, rec: dict[str, Any], ts: datetime | None, file_agent: str | None) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            return
        if ts is not None:
            self.last_user[self._subagent(rec, file_agent)] = ts
        content = msg.get("content")
        if isinstance(content, str):
            if self._is_typed(rec, file_agent):
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
                text = block.get("text")
                if isinstance(text, str):
                    typed += len(text)
                    kind = _prompt_kind(text) if kind == PROMPT_USER else kind
        if typed and self._is_typed(rec, file_agent):
            self.session.prompts.append(Prompt(ts, typed, kind))

    def _tool_result(self, block: dict[str, Any], ts: datetime | None) -> None:
        call_id = as_str(block.get("tool_use_id"))
        call = self.calls.get(call_id) if call_id else None
        if call is None:
            return
        text = _result_text(block.get("content"))
        call.result_chars = len(text)
        call.result_tokens = estimate_result_tokens(len(text))
        call.is_error = block.get("is_error") is True
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
        self.session.compactions.append(
            Compaction(
                timestamp=ts,
                trigger=as_str(meta.get("trigger")) or "",
                pre_tokens=count_or_none(meta.get("preTokens"), self.issues),
                request_index=len(self.session.requests),
            )
        )

    def _cost_state(self, rec: dict[str, Any], ts: datetime | None, file_agent: str | None) -> None:
        """Claude Code's own running cost of the session; the latest one in the main file
        wins (each is a snapshot of the whole session so far)."""
        if file_agent:
            return
        total = money(rec.get("totalCostUSD"), self.issues)
        if total is None:
            return
        by_model: dict[str, float] = {}
        for model, usage in as_dict(rec.get("modelUsage")).items():
            cost = money(as_dict(usage).get("costUSD"), self.issues)
            if cost is not None:
                by_model[model] = cost
        s = self.session
        s.agent_cost_usd = total
        s.agent_cost_by_model = by_model
        s.agent_cost_unknown_models = rec.get("hasUnknownModelCost") is True

    def _pr_link(self, rec: dict[str, Any], ts: datetime | None, file_agent: str | None) -> None:
        """A PR the session was linked to; re-emitted on every resume, so kept once per URL."""
        url = as_str(rec.get("prUrl"))
        if url is None or url in self.pr_urls:
            return
        self.pr_urls.add(url)
        number = rec.get("prNumber")
        self.session.pr_links.append(
            PrLink(
                url=url,
                number=number if type(number) is int and number > 0 else None,
                repository=as_str(rec.get("prRepository")),
                timestamp=ts,
            )
        )


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    register(ClaudeCodeAdapter())
