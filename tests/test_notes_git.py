"""Notes on real repositories: concurrent writers lose nothing, a push racing a teammate's
is retried, the same session noted on two machines counts once, and nothing private is in
a note or in the comment built from notes."""

from __future__ import annotations

import multiprocessing
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepo import ClaudeLog, Env, GitRepo, at
from tokentrail.builtin.render_markdown import render_receipt
from tokentrail.demo.repo import build_demo
from tokentrail.notes import note_line, notes_ref, push_notes, read_note, write_notes
from tokentrail.pipeline import build_receipt, note_commits

pytestmark = pytest.mark.early  # a slow file: started first (see tests/conftest.py)

REF = notes_ref({})


def _line(n: int, commit: str) -> dict[str, Any]:
    row = {"id": f"session-{n:02d}", "agent": "codex", "requests": 1, "rids": f"{n:010x}"}
    return note_line(commit, row, pricing="p")


def _repo(tmp_path: Path, commits: int = 1) -> tuple[GitRepo, list[str]]:
    repo = GitRepo(tmp_path / "repo", Env(tmp_path / "env"))
    shas = [repo.commit(f"c{i}", at(i)) for i in range(commits)]
    return repo, shas


def _writers(root: Path, targets: list[str], n: int) -> None:
    def write(i: int) -> None:
        sha = targets[i % len(targets)]
        write_notes(root, REF, {sha: [_line(i, sha)]})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_ten_concurrent_writers_lose_nothing_in_25_trials(tmp_path: Path) -> None:
    repo, shas = _repo(tmp_path, commits=10)
    for trial in range(25):
        repo.git("update-ref", "-d", REF)
        targets = [shas[0]] if trial % 2 == 0 else shas  # one commit, or ten
        _writers(repo.path, targets, 10)
        held = {line["id"] for sha in targets for line in read_note(repo.path, REF, sha)}
        assert held == {f"session-{i:02d}" for i in range(10)}, trial


def _write_from_a_process(root: str, sha: str, n: int) -> None:
    write_notes(Path(root), REF, {sha: [_line(n, sha)]})


def test_concurrent_processes_lose_nothing(tmp_path: Path) -> None:
    repo, [sha] = _repo(tmp_path)
    context = multiprocessing.get_context("fork")
    procs = [
        context.Process(target=_write_from_a_process, args=(str(repo.path), sha, i))
        for i in range(10)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    assert len(read_note(repo.path, REF, sha)) == 10


def test_a_push_racing_a_teammates_is_retried(tmp_path: Path) -> None:
    repo, [sha] = _repo(tmp_path)
    bare = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", str(bare))
    repo.git("remote", "add", "origin", str(bare))
    # the teammate's notes commit, already on the server under another name
    teammate = GitRepo(tmp_path / "teammate", repo.env, init=False)
    repo.git("clone", "-q", str(repo.path), str(teammate.path))
    teammate.git("config", "user.name", "Teammate")
    teammate.git("config", "user.email", "teammate@example.com")
    write_notes(teammate.path, REF, {sha: [_line(7, sha)]})
    teammate.git("push", "-q", str(bare), f"{REF}:refs/teammate/notes")
    # the teammate's push lands just before ours, which the server therefore turns away
    # (the first time only): our notes were computed on a stale remote ref
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        'if [ ! -f "$GIT_DIR/raced" ]; then touch "$GIT_DIR/raced"; '
        "env -u GIT_QUARANTINE_PATH git update-ref refs/notes/tokentrail refs/teammate/notes; "
        'echo "stale: refs/notes/tokentrail moved" >&2; exit 1; fi\n'
    )
    hook.chmod(0o755)
    write_notes(repo.path, REF, {sha: [_line(1, sha)]})
    assert push_notes(repo.path, REF, "origin") == "pushed"
    server = repo.git("--git-dir", str(bare), "notes", f"--ref={REF}", "show", sha)
    assert "session-01" in server and "session-07" in server  # both, none lost


def test_the_same_session_noted_on_two_machines_counts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = Env(tmp_path / "host")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0))
    repo.checkout("-b", "feat")
    log = ClaudeLog(env, repo.path, session_id="dddddddd-0000-4000-8000-000000000004")
    log.edit(at(10), "feat", repo.path / "a.py", "alpha_value = compute_alpha(1)\n")
    repo.write("a.py", "alpha_value = compute_alpha(1)\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Add alpha", when=at(11))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env.claude_dir))
    note_commits(repo.path)  # the host
    devcontainer = Env(tmp_path / "devcontainer")  # the same log, seen from another machine
    for path in env.claude_dir.rglob("*.jsonl"):
        target = devcontainer.claude_dir / path.relative_to(env.claude_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(devcontainer.claude_dir))
    monkeypatch.setenv("TOKENTRAIL_HOST_ID", "devcontainer")
    note_commits(repo.path, "HEAD")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "ci-has-no-logs"))
    assert build_receipt(repo.path, "main", from_notes=True)["totals"]["requests"] == 1


def test_nothing_private_in_notes_or_in_the_comment_built_from_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = build_demo(tmp_path / "demo")
    for key, value in demo.env().items():
        monkeypatch.setenv(key, value)
    note_commits(demo.repo, spec=f"{demo.base}..{demo.branch}", base=demo.base)
    raw = GitRepo(demo.repo, Env(tmp_path / "env"), init=False).git(
        "log", "--notes=tokentrail", "--format=%N", f"{demo.base}..{demo.branch}"
    )
    comment = render_receipt(build_receipt(demo.repo, demo.base, from_notes=True))
    assert '"findings":[{' in raw and '"carry":{' in raw  # else this would test nothing
    for text in (raw, comment):
        assert str(tmp_path) not in text and "/tmp/" not in text
        assert socket.gethostname() not in text
        assert '"host"' not in text
