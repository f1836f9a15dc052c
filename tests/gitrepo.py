"""Real git repositories and matching agent logs for tests (and anyone else who needs them).

`GitRepo` makes commits with fixed author/committer dates; `ClaudeLog` and `CodexLog` write
small, realistic logs whose timestamps, cwd and branch line up with those commits. `Env`
points CLAUDE_CONFIG_DIR / CODEX_HOME / HOME at temp folders and runs the real CLI
(in-process unless a test asks for the process boundary).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests.cli_run import INSTALLED_CLI, tokentrail

CLI = INSTALLED_CLI
T0 = datetime(2026, 2, 23, 9, 0, tzinfo=timezone.utc)
_SLUG = re.compile(r"[^A-Za-z0-9]")


def at(minutes: float) -> datetime:
    """A fixed time, `minutes` after T0."""
    return T0 + timedelta(minutes=minutes)


def stamp(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        TOKENTRAIL_SKIP_HOOKS=env.get("TOKENTRAIL_SKIP_HOOKS", ""),
    )
    return env


@dataclass
class Env:
    """Isolated HOME and agent log roots for one test."""

    base: Path
    host: str = "host-a"
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("home", "claude", "codex"):
            (self.base / name).mkdir(parents=True, exist_ok=True)

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def claude_dir(self) -> Path:
        return self.base / "claude"

    @property
    def codex_home(self) -> Path:
        return self.base / "codex"

    def environ(self) -> dict[str, str]:
        env = git_env(self.home)
        env.update(
            CLAUDE_CONFIG_DIR=str(self.claude_dir),
            CODEX_HOME=str(self.codex_home),
            TOKENTRAIL_HOST_ID=self.host,
            **self.extra,
        )
        env.pop("TOKENTRAIL_CONFIG", None)
        return env

    def run(
        self,
        cwd: Path,
        *args: str,
        check: bool = True,
        input: str | None = None,
        process: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """The CLI in this process; `process=True` runs the installed entry point instead."""
        return tokentrail(
            *args, env=self.environ(), cwd=cwd, check=check, input=input, process=process
        )

    def json(self, cwd: Path, *args: str) -> Any:
        return json.loads(self.run(cwd, *args, "--json").stdout)


class GitRepo:
    """A real repository with a local identity and commits at fixed times."""

    def __init__(self, path: Path, env: Env, branch: str = "main", init: bool = True) -> None:
        self.path = path
        self.env = env
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", branch)
            self.git("config", "user.name", "Test Dev")
            self.git("config", "user.email", "dev@example.com")
            self.git("config", "commit.gpgsign", "false")

    def git(
        self,
        *args: str,
        when: datetime | None = None,
        input: str | None = None,
        check: bool = True,
    ) -> str:
        env = self.env.environ()
        if when is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when.isoformat()
        proc = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            input=input,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}{proc.stdout}")
        return proc.stdout

    def commit(self, message: str, when: datetime, file: str | None = None) -> str:
        """Change a file and commit it at `when` (author and committer time)."""
        name = file or re.sub(r"\W+", "_", message)[:30] + ".txt"
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as fh:
            fh.write(f"{message}\n")
        self.git("add", name)
        self.git("commit", "-q", "-m", message, when=when)
        return self.head()

    def write(self, name: str, content: str, append: bool = True) -> Path:
        """Write (or append to) a file in the work tree, without committing it."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a" if append else "w") as fh:
            fh.write(content)
        return target

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def checkout(self, *args: str) -> None:
        self.git("checkout", "-q", *args)


def slug(path: Path | str) -> str:
    return _SLUG.sub("-", str(path))


class ClaudeLog:
    """A Claude Code transcript: one line per content block, each repeating usage, sharing
    message.id and requestId, with gitBranch and cwd on every record."""

    def __init__(
        self,
        env: Env,
        cwd: Path,
        session_id: str | None = None,
        model: str = "claude-sonnet-4-5-20250929",
        project: Path | None = None,
    ) -> None:
        self.session_id = session_id or str(uuid.uuid4())
        self.cwd = cwd
        self.model = model
        folder = env.claude_dir / "projects" / slug(project or cwd)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{self.session_id}.jsonl"
        self.parent: str | None = None
        self.count = 0

    def _write(self, rec: dict[str, Any], path: Path | None = None) -> None:
        with (path or self.path).open("a") as fh:
            fh.write(json.dumps(rec) + "\n")

    def _base(self, when: datetime, branch: str | None, kind: str) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": str(self.cwd),
            "sessionId": self.session_id,
            "version": "2.0.14",
            "gitBranch": branch or "",
            "type": kind,
            "uuid": str(uuid.uuid4()),
            "timestamp": stamp(when),
        }
        self.parent = rec["uuid"]
        return rec

    def prompt(self, when: datetime, text: str, branch: str | None) -> None:
        rec = self._base(when, branch, "user")
        rec["message"] = {"role": "user", "content": text}
        self._write(rec)

    def request(
        self,
        when: datetime,
        branch: str | None,
        *,
        input: int = 10,
        cache_read: int = 0,
        cache_write: int = 0,
        output: int = 100,
        text: str = "Working on it.",
        tool: tuple[str, str, dict[str, Any]] | None = None,
        agent_file: str | None = None,
    ) -> None:
        """One API call: a text block, plus a tool_use block when `tool` = (id, name, input).
        `agent_file` writes it into `<session>/subagents/agent-<id>.jsonl` instead."""
        self.count += 1
        message_id = f"msg_{self.session_id[:8]}_{self.count:03d}"
        request_id = f"req_{self.session_id[:8]}_{self.count:03d}"
        usage = {
            "input_tokens": input,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache_write,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output,
            "service_tier": "standard",
        }
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if tool:
            blocks.append({"type": "tool_use", "id": tool[0], "name": tool[1], "input": tool[2]})
        path = None
        if agent_file:
            path = self.path.parent / self.session_id / "subagents" / f"agent-{agent_file}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
        for block in blocks:
            rec = self._base(when, branch, "assistant")
            rec["requestId"] = request_id
            if agent_file:
                rec["isSidechain"] = True
                rec["agentId"] = agent_file
            rec["message"] = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [block],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            }
            self._write(rec, path)

    def tool_result(
        self,
        when: datetime,
        branch: str | None,
        call_id: str,
        output: str,
        is_error: bool = False,
    ) -> None:
        rec = self._base(when, branch, "user")
        result = {"type": "tool_result", "tool_use_id": call_id, "content": output}
        if is_error:
            result["is_error"] = True
        rec["message"] = {"role": "user", "content": [result]}
        rec["toolUseResult"] = {"stdout": output, "stderr": "", "interrupted": False}
        self._write(rec)

    def edit(
        self,
        when: datetime,
        branch: str | None,
        path: Path,
        new: str,
        old: str = "",
        call_id: str | None = None,
    ) -> None:
        """The agent edits `path` (absolute), replacing `old` by `new`; the tool succeeds."""
        call_id = call_id or f"toolu_edit_{self.count + 1:03d}"
        args = {"file_path": str(path), "old_string": old, "new_string": new}
        self.request(
            when, branch, input=5, cache_read=1500, output=60, tool=(call_id, "Edit", args)
        )
        self.tool_result(when + timedelta(seconds=1), branch, call_id, "The file was updated.")

    def git_commit(
        self, when: datetime, branch: str, sha: str, message: str, call_id: str = "toolu_commit"
    ) -> None:
        """The agent runs `git commit` and git prints `[branch sha] message`."""
        command = f'git add -A && git commit -m "{message}"'
        self.request(
            when,
            branch,
            input=5,
            cache_read=1000,
            output=40,
            text="Committing.",
            tool=(call_id, "Bash", {"command": command, "description": "Commit"}),
        )
        self.tool_result(
            when + timedelta(seconds=2),
            branch,
            call_id,
            f"[{branch} {sha[:7]}] {message}\n 1 file changed, 1 insertion(+)",
        )


class CodexLog:
    """A Codex rollout: session_meta (cwd, git.branch) and cumulative token_count events."""

    def __init__(
        self,
        env: Env,
        cwd: Path,
        start: datetime,
        branch: str | None,
        session_id: str | None = None,
        model: str = "gpt-5-codex",
    ) -> None:
        self.session_id = session_id or str(uuid.uuid4())
        folder = env.codex_home / "sessions" / start.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        self.path = (
            folder / f"rollout-{start.strftime('%Y-%m-%dT%H-%M-%S')}-{self.session_id}.jsonl"
        )
        self.totals = dict.fromkeys(
            ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens"), 0
        )
        meta: dict[str, Any] = {
            "id": self.session_id,
            "timestamp": stamp(start),
            "cwd": str(cwd),
            "originator": "codex_cli_rs",
            "cli_version": "0.46.0",
            "instructions": None,
            "source": "cli",
            "model_provider": "openai",
        }
        if branch is not None:
            meta["git"] = {"commit_hash": "0" * 40, "branch": branch, "repository_url": None}
        self._write(start, "session_meta", meta)
        self._write(
            start,
            "turn_context",
            {"cwd": str(cwd), "approval_policy": "on-request", "model": model, "summary": "auto"},
        )

    def _write(self, when: datetime, kind: str, payload: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(
                json.dumps({"timestamp": stamp(when), "type": kind, "payload": payload}) + "\n"
            )

    def request(
        self,
        when: datetime,
        *,
        input: int,
        cached: int = 0,
        output: int,
        reasoning: int = 0,
        replay: bool = True,
        weekly: tuple[float, datetime] | None = None,
    ) -> None:
        """One model call: cumulative totals grow; the event is re-emitted like Codex does.
        `weekly`: the weekly rate-limit window the event reports (% used, when it resets)."""
        last = {
            "input_tokens": input,
            "cached_input_tokens": cached,
            "output_tokens": output,
            "reasoning_output_tokens": reasoning,
        }
        for key, value in last.items():
            self.totals[key] += value
        total = {**self.totals}
        total["total_tokens"] = total["input_tokens"] + total["output_tokens"]
        last["total_tokens"] = input + output
        payload = {
            "type": "token_count",
            "info": {
                "total_token_usage": total,
                "last_token_usage": last,
                "model_context_window": 272000,
            },
            "rate_limits": None,
        }
        if weekly is not None:
            used, resets = weekly
            payload["rate_limits"] = {
                "primary": None,
                "secondary": {
                    "used_percent": used,
                    "window_minutes": 10080,
                    "resets_at": int(resets.timestamp()),
                },
            }
        self._write(when, "event_msg", payload)
        if replay:
            self._write(when + timedelta(seconds=1), "event_msg", payload)

    def exec(
        self, when: datetime, command: str, output: str, *, input: int, cached: int = 0
    ) -> None:
        """A model call that runs a shell command, in Codex's order: the call, the call's
        token_count, then the command's output (exit code 0)."""
        call_id = f"call_{uuid.uuid4().hex[:12]}"
        arguments = json.dumps({"command": ["bash", "-lc", command]})
        self._write(
            when,
            "response_item",
            {"type": "function_call", "name": "shell", "arguments": arguments, "call_id": call_id},
        )
        self.request(when, input=input, cached=cached, output=30)
        text = f"Exit code: 0\nWall time: 0.1 seconds\nOutput:\n{output}"
        self._write(
            when + timedelta(seconds=2),
            "response_item",
            {"type": "function_call_output", "call_id": call_id, "output": text},
        )


@dataclass
class Feature:
    """The standard scenario: see `feature_branch`."""

    env: Env
    repo: GitRepo
    base: str
    c1: str
    c2: str
    main_session: str  # the Claude session that ran `git commit` for c2
    elsewhere: Path


def feature_branch(tmp: Path, env: Env | None = None) -> Feature:
    """main (one commit at T0) and branch `feat` with two commits, plus logs:

    - Claude session S1 (repo, feat): requests at 10, 11.5 (subagent), 12 -> c1 (13);
      14 and 15 (the agent's own `git commit`, printed sha of c2) -> c2 (committed 16.5);
      16 -> pending (after the exact boundary, though before c2's time); 17 on branch
      `other` -> excluded.
    - Codex X0 (feat) at 5 -> c1; Codex W with no branch at 11 -> c1 by window;
      Codex X1 (feat) at 20 -> pending.
    - Excluded: a Claude session in another folder on `feat`, one in the repo on `main`.

    c1: 5 requests, input 870, cache read 2000, cache write 2000, output 590.
    c2: 2 requests, input 12, cache read 3100, output 90 (S1, exact).
    pending: 2 requests, input 201, cache read 3000, output 110.
    """
    env = env or Env(tmp / "env")
    repo = GitRepo(tmp / "repo", env)
    base = repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    c1 = repo.commit("first change", at(13))
    c2 = repo.commit("second change", at(16.5))

    s1 = ClaudeLog(env, repo.path, session_id="11111111-aaaa-4aaa-8aaa-000000000001")
    s1.prompt(at(9.5), "add the feature", "feat")
    s1.request(at(10), "feat", input=100, cache_write=2000, output=300)
    s1.request(at(11.5), "feat", input=20, output=20, agent_file="a1b2c3")
    s1.request(at(12), "feat", input=50, cache_read=2000, output=200)
    s1.request(at(14), "feat", input=7, cache_read=2100, output=50)
    s1.git_commit(at(15), "feat", c2, "second change")
    s1.request(at(16), "feat", input=1, cache_read=2200, output=10)
    s1.request(at(17), "other", input=999, cache_read=9999, output=999)

    x0 = CodexLog(env, repo.path, at(4), "feat", session_id="22222222-bbbb-4bbb-8bbb-000000000002")
    x0.request(at(5), input=300, output=30)
    w = CodexLog(env, repo.path, at(10.5), None, session_id="33333333-cccc-4ccc-8ccc-000000000003")
    w.request(at(11), input=400, output=40)
    x1 = CodexLog(env, repo.path, at(19), "feat", session_id="44444444-dddd-4ddd-8ddd-000000000004")
    x1.request(at(20), input=1000, cached=800, output=100, reasoning=30)

    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    other_dir = ClaudeLog(env, elsewhere, session_id="55555555-eeee-4eee-8eee-000000000005")
    other_dir.request(at(12), "feat", input=5000, output=5000)
    on_main = ClaudeLog(env, repo.path, session_id="66666666-ffff-4fff-8fff-000000000006")
    on_main.request(at(12), "main", input=7000, output=7000)
    return Feature(env, repo, base, c1, c2, s1.session_id, elsewhere)
