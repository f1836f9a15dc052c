"""Gemini CLI chats: `${GEMINI_CLI_HOME:-~}/.gemini/tmp/<project>/chats/session-*.json[l]`.

`<project>` is the sha256 of the project root path (older builds) or a short name whose
`.project_root` file (and `~/.gemini/projects.json`) names the root (newer builds); the
chat itself records no working directory and no git branch. A discovery scoped to a
repository only opens the folder whose hash or marker names that repository.

Accounting (formats.md §3): one `type: "gemini"` message is one API call. `tokens.input`
is the whole prompt, cached part included (`tokens.cached`, checked against `total` when
it is there); `thoughts` are billed as output; `tool` is tool-use prompt input. The JSONL
variant may write a message again as it is updated: the last copy of an id counts.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tokentrail.hookspecs import Adapter, hookimpl
from tokentrail.logfile import RecordKinds, as_dict, as_int, as_str, parse_ts, read_jsonl
from tokentrail.model import (
    AgentCommit,
    ParseIssues,
    Prompt,
    Request,
    Session,
    SessionRef,
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

AGENT = "gemini"
KNOWN_RECORD_TYPES = frozenset({"header", "$set", "user", "gemini", "info", "error", "warning"})
_HASH_DIR = re.compile(r"[0-9a-f]{64}")
_SESSION_ID = re.compile(rb'"sessionId"\s*:\s*"([^"]{1,200})"')


def gemini_dir() -> Path:
    """`.gemini` under `$GEMINI_CLI_HOME` (the CLI's own home override), else under ~."""
    home = os.environ.get("GEMINI_CLI_HOME")
    return (Path(home).expanduser() if home else Path.home()) / ".gemini"


def project_hash(root: Path | str) -> str:
    """The folder name older Gemini CLI builds give a project: sha256 of its root path."""
    return hashlib.sha256(str(root).encode()).hexdigest()


def _registry(gemini: Path) -> dict[str, str]:
    """Newer builds' `projects.json`: short project name -> project root."""
    try:
        data = orjson.loads((gemini / "projects.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    projects = as_dict(as_dict(data).get("projects"))
    return {str(v): str(k) for k, v in projects.items() if isinstance(v, str)}


def _project_root(folder: Path, registry: dict[str, str]) -> str | None:
    try:
        marker = (folder / ".project_root").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        marker = ""
    return marker or registry.get(folder.name)


def _session_id(path: Path) -> str:
    """The chat's `sessionId` from its first few kilobytes (it is written first)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return path.stem
    match = _SESSION_ID.search(head)
    return match.group(1).decode("utf-8", "replace") if match else path.stem


class GeminiAdapter:
    name = AGENT
    env_var = "GEMINI_CLI_HOME"  # moves the logs (tokentrail doctor, missing-folder warning)
    parser_version = "gemini/1"  # bump when parse() output changes (cache key)

    def roots(self) -> list[Path]:
        return [gemini_dir() / "tmp"]

    def discover(self, repo: Path | None) -> Iterable[SessionRef]:
        tmp = gemini_dir() / "tmp"
        registry = _registry(gemini_dir())
        wanted = project_hash(repo) if repo is not None else None
        try:
            folders = sorted(p for p in tmp.iterdir() if (p / "chats").is_dir())
        except OSError:
            return
        for folder in folders:
            cwd = _project_root(folder, registry)
            if cwd is None and folder.name == wanted:
                cwd = str(repo)  # the folder is named by this repository's hash
            if repo is not None and not (cwd and cwd_inside(cwd, repo)):
                continue
            yield from _chats(folder / "chats", cwd)

    def parse(self, ref: SessionRef) -> Session:
        return _Parser(ref).run()


def _chats(chats: Path, cwd: str | None) -> Iterator[SessionRef]:
    files = sorted(p for p in chats.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file())
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        yield SessionRef(
            agent=AGENT,
            id=_session_id(path),
            path=path,
            cwd_hint=cwd,
            size=st.st_size,
            mtime=st.st_mtime,
        )


def gemini_usage(tokens: dict[str, Any]) -> Usage:
    """Our split of one message's `tokens` (see the module docstring)."""
    inp, out = as_int(tokens.get("input")), as_int(tokens.get("output"))
    cached, thoughts = as_int(tokens.get("cached")), as_int(tokens.get("thoughts"))
    tool = as_int(tokens.get("tool"))
    # The API counts the cached part inside the prompt; a total that only adds up with
    # `cached` on top says this log counted it apart.
    exclusive = (
        cached > 0
        and tokens.get("total") is not None
        and as_int(tokens.get("total")) == inp + cached + out + thoughts + tool
    )
    cache_read = cached if exclusive else min(cached, inp)
    uncached = inp if exclusive else inp - cache_read
    return Usage(
        input=uncached + tool,
        cache_read=cache_read,
        output=out + thoughts,
        reasoning=thoughts,
    )


def _text_len(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(str(as_dict(p).get("text") or "")) for p in content)
    return 0


def _result_text(result: Any) -> tuple[str, bool]:
    """The text a tool call's result put into the context, and whether it is an error."""
    texts: list[str] = []
    failed = False
    for part in result if isinstance(result, list) else [result]:
        response = as_dict(as_dict(as_dict(part).get("functionResponse")).get("response"))
        if "error" in response:
            failed = True
        for key in ("output", "error", "llmContent"):
            value = response.get(key)
            if isinstance(value, str):
                texts.append(value)
            elif value is not None:
                texts.append(orjson.dumps(value).decode())
    return "\n".join(texts), failed


class _Parser:
    def __init__(self, ref: SessionRef) -> None:
        self.ref = ref
        self.session = Session(agent=AGENT, id=ref.id, paths=ref.paths)
        self.session.note_place(ref.cwd_hint, None)
        self.kinds = RecordKinds(AGENT, KNOWN_RECORD_TYPES)
        self.by_id: dict[str, int] = {}
        self.model = "unknown"

    def run(self) -> Session:
        issues = self.session.issues
        if self.ref.path.suffix == ".jsonl":
            records: Iterable[dict[str, Any]] = read_jsonl(self.ref.path, issues)
        else:
            records = _messages_of(self.ref.path, issues)
        for rec in records:
            self._record(rec)
        self.kinds.report(self.ref.path, issues)
        return self.session

    def _record(self, rec: dict[str, Any]) -> None:
        kind: Any = rec.get("type")
        if "$set" in rec:
            kind = "$set"
        elif "type" not in rec and "sessionId" in rec:
            kind = "header"
        if not self.kinds.see(kind):
            return
        ts = parse_ts(rec.get("timestamp"))
        if kind == "header":
            self.session.note_time(parse_ts(rec.get("startTime")))
        elif kind == "user":
            self.session.note_time(ts)
            self.session.prompts.append(Prompt(ts, _text_len(rec.get("content"))))
        elif kind == "gemini":
            self.session.note_time(ts)
            self._reply(rec, ts)

    def _reply(self, rec: dict[str, Any], ts: datetime | None) -> None:
        self.model = as_str(rec.get("model")) or self.model
        tokens = rec.get("tokens")
        message_id = as_str(rec.get("id"))
        key = f"{self.session.id}:{message_id}" if message_id else None
        if isinstance(tokens, dict):
            request = Request(
                key=key,
                timestamp=ts,
                model=self.model,
                usage=gemini_usage(tokens),
                cwd=self.session.cwd,
                provider="google",
            )
            if key is not None and key in self.by_id:  # an updated copy: the last one counts
                index = self.by_id[key]
                self.session.requests[index] = request
                self.session.tool_calls = [
                    c for c in self.session.tool_calls if c.request_index != index
                ]
                self.session.commits = [c for c in self.session.commits if c.request_index != index]
            else:
                index = len(self.session.requests)
                self.session.requests.append(request)
                if key is not None:
                    self.by_id[key] = index
        else:
            index = max(len(self.session.requests) - 1, 0)
        for call in rec.get("toolCalls") or []:
            if isinstance(call, dict):
                self._tool(call, index, ts)

    def _tool(self, raw: dict[str, Any], index: int, ts: datetime | None) -> None:
        name = as_str(raw.get("name")) or "?"
        text, failed = _result_text(raw.get("result"))
        when = parse_ts(raw.get("timestamp")) or ts
        call = tool_call(
            as_str(raw.get("id")) or f"{self.session.id}:{len(self.session.tool_calls)}",
            name,
            as_dict(raw.get("args")),
            index,
            when,
            result_chars=len(text),
            result_tokens=estimate_result_tokens(len(text)),
            is_error=failed or raw.get("status") == "error",
        )
        if call.is_error:
            call.error_head = first_line_of(text)
        self.session.tool_calls.append(call)
        if is_git_commit(call.command):
            for branch, sha in commits_in_output(text):
                self.session.commits.append(AgentCommit(sha, branch, when, index, call.id))


def _messages_of(path: Path, issues: ParseIssues) -> Iterator[dict[str, Any]]:
    """The records of a one-document chat (`.json`): its header, then its messages."""
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        issues.warnings.append(f"{path}: cannot open ({exc.strerror or exc})")
        return
    except orjson.JSONDecodeError:
        issues.truncated_lines += 1
        issues.warnings.append(f"{path}: not valid JSON (being written?); skipped")
        return
    messages = doc.get("messages") if isinstance(doc, dict) else None
    if not isinstance(messages, list):
        yield doc if isinstance(doc, dict) else {"type": type(doc).__name__}
        return
    yield {"sessionId": "", **{k: v for k, v in doc.items() if k not in ("messages", "type")}}
    for message in messages:
        if isinstance(message, dict):
            yield message


@hookimpl
def register_adapters(register: Callable[[Adapter], None]) -> None:
    register(GeminiAdapter())
