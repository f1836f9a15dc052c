"""The Markdown receipt on real repos and logs: hostile strings stay inert, figures match."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from tests.gitrepo import ClaudeLog, Env, GitRepo, at, feature_branch
from tests.hostile import BRANCH, COMMAND, PATH, SECRET, SUBJECT, check_markdown, parser
from tokentrail.builtin.render_markdown import MarkdownRenderer, render_receipt
from tokentrail.demo import (
    Bash,
    Filler,
    Read,
    Reply,
    UserPrompt,
    call_times,
    write_claude_session,
)
from tokentrail.plugins import get_plugin_manager


@dataclass
class Hostile:
    env: Env
    repo: GitRepo


def hostile_repo(tmp: Path) -> Hostile:
    """A branch, a commit subject, a file path and a command full of hostile strings, with a
    Claude session whose re-reads and failing commands make findings that quote them."""
    env = Env(tmp / "env")
    repo = GitRepo(tmp / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", BRANCH)
    events = [
        UserPrompt("go"),
        Read(PATH, chars=6000),
        Filler(2),
        Read(PATH, chars=6000),
        *[Bash(COMMAND, output_chars=40000, exit_code=1)] * 3,
        Filler(2),
        Reply(),
    ]
    spacing = timedelta(seconds=40)
    times = call_times(events, at(10), spacing)
    write_claude_session(
        env.claude_dir, repo.path, branch=BRANCH, start=at(10), spacing=spacing, events=events
    )
    repo.commit(SUBJECT, times[-1] + timedelta(minutes=1))
    return Hostile(env, repo)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    return hostile_repo(tmp_path_factory.mktemp("hostile"))


def test_hostile_strings_are_inert_in_a_real_receipt(hostile: Hostile) -> None:
    doc = hostile.env.json(hostile.repo.path, "report", "--base", "main")
    # the receipt does carry the hostile strings (else this test could not fail)
    assert doc["branch"] == BRANCH
    evidence = [e for f in doc["findings"] for e in f["evidence"]]
    assert any(e.get("file") == PATH for e in evidence)
    assert any("curl" in str(e.get("command")) for e in evidence)
    md = hostile.env.run(hostile.repo.path, "report", "--base", "main", "--markdown").stdout
    seen = check_markdown(md, SECRET, "user:pw@")
    assert seen["tables"] >= 3  # commits, findings, sessions
    assert md.startswith("### tokentrail receipt for")
    # code spans keep the path exactly, so a reviewer can search for it
    codes = [
        c.content
        for t in parser().parse(md)
        if t.type == "inline"
        for c in t.children or []
        if c.type == "code_inline"
    ]
    assert PATH in codes and BRANCH in codes
    assert not any(SECRET in c or "pw@" in c for c in codes)


def test_markdown_matches_the_json_receipt(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    doc = f.env.json(f.repo.path, "report")
    md = f.env.run(f.repo.path, "report", "--markdown").stdout
    assert md.strip() == render_receipt(doc).strip()
    headline = md.split("\n\n")[1]
    assert headline.startswith(f"**${doc['totals']['cost_usd']:.2f} API-equivalent**")
    assert "estimated" not in headline and "9 requests" in headline
    assert "4 session(s) (1 Claude Code, 3 Codex) · 2 commit(s)" in headline
    assert f"`{f.c1[:7]}`" in md and f"`{f.c2[:7]}`" in md and "_pending_" in md
    assert "xychart-beta" in md and "No waste found" in md
    check_markdown(md)


def test_estimated_when_a_model_has_no_price(tmp_path: Path) -> None:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    log = ClaudeLog(env, repo.path, model="claude-imaginary-9")
    log.request(at(10), "feat", input=100, output=100)
    repo.commit("change", at(12))
    md = env.run(repo.path, "report", "--markdown").stdout
    assert "API-equivalent, estimated" in md
    assert "1 request(s) used a model without a known price" in md


def test_registered_as_renderers_and_other_documents() -> None:
    names = {r.name for _, r in get_plugin_manager().collect("register_renderers", object)}
    assert {"markdown", "html"} <= names
    out = MarkdownRenderer().render({"kind": "plugins", "plugins": [], "problems": []})
    assert out.startswith("```text\nPLUGIN")
