"""`tokentrail install` / `uninstall`: real hooks in a real repo, fired by real commits."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.gitrepo import ClaudeLog, at, feature_branch
from tokentrail.githooks import HOOKS, hook_files_dir

OLD_HOOK = '#!/bin/sh\necho "old hook ran" >> "$(git rev-parse --show-toplevel)/old-hook.log"\n'


def test_shipped_hook_files_are_the_installed_bodies() -> None:
    for name, text in HOOKS.items():
        path = hook_files_dir() / name
        assert path.read_text() == text
        assert os.access(path, os.X_OK)


def test_install_chains_existing_hook_and_uninstall_restores_it(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    hooks = f.repo.path / ".git" / "hooks"
    (hooks / "post-commit").write_text(OLD_HOOK)
    (hooks / "post-commit").chmod(0o755)
    doc = f.env.json(f.repo.path, "install")
    assert {h["hook"]: h["status"] for h in doc["hooks"]} == {
        "post-commit": "chained",
        "pre-push": "installed",
    }
    assert f.repo.git("config", "--get-all", "notes.rewriteRef").split() == [
        "refs/notes/tokentrail"
    ]
    assert f.env.json(f.repo.path, "install")["hooks"][0]["status"] == "updated"
    # a new commit fires both the old hook and ours (which notes the pending work)
    ClaudeLog(f.env, f.repo.path).request(at(40), "feat", input=12, output=34)
    new = f.repo.commit("third change", at(41))
    assert (f.repo.path / "old-hook.log").read_text() == "old hook ran\n"
    note = f.repo.git("notes", "--ref=tokentrail", "show", new)
    lines = [json.loads(x) for x in note.splitlines()]
    assert sum(x["input_tokens"] for x in lines) == 1 + 200 + 12  # the pending work + new
    doc = f.env.json(f.repo.path, "uninstall")
    assert {h["hook"]: h["status"] for h in doc["hooks"]} == {
        "post-commit": "restored previous hook",
        "pre-push": "removed",
    }
    assert (hooks / "post-commit").read_text() == OLD_HOOK
    assert not (hooks / "pre-push").exists()
    assert f.repo.git("config", "--get-all", "notes.rewriteRef", check=False) == ""


def test_pre_push_pushes_notes_unless_told_not_to(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    bare = tmp_path / "remote.git"
    f.repo.git("init", "-q", "--bare", str(bare))
    f.repo.git("remote", "add", "origin", str(bare))
    (f.repo.path / ".tokentrail.yml").write_text("notes:\n  push: false\n")
    f.env.run(f.repo.path, "install")
    f.env.run(f.repo.path, "note", "--range", f"{f.base}..HEAD")
    f.repo.git("push", "-q", "origin", "feat")
    assert f.repo.git("ls-remote", str(bare), "refs/notes/tokentrail") == ""
    (f.repo.path / ".tokentrail.yml").unlink()  # the default: receipts go with the push
    f.repo.commit("config", at(50))
    f.repo.git("push", "-q", "origin", "feat")
    assert "refs/notes/tokentrail" in f.repo.git("ls-remote", str(bare), "refs/notes/tokentrail")


def test_pre_push_never_blocks_the_push_and_says_why_notes_did_not_go(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    bare = tmp_path / "remote.git"
    f.repo.git("init", "-q", "--bare", str(bare))
    f.repo.git("remote", "add", "origin", str(bare))
    f.env.run(f.repo.path, "install")
    f.env.run(f.repo.path, "note", "--range", f"{f.base}..HEAD")
    # the remote refuses notes refs (a server-side rule); the branch push must still land
    hook = bare / "hooks" / "update"
    hook.write_text(
        '#!/bin/sh\ncase "$1" in refs/notes/*) echo "notes not allowed" >&2; exit 1;; esac\n'
    )
    hook.chmod(0o755)
    proc = subprocess.run(
        ["git", "push", "origin", "feat"],
        cwd=f.repo.path,
        env=f.env.environ(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "feat" in f.repo.git("ls-remote", str(bare), "refs/heads/feat")
    assert "the notes (receipts) were not pushed" in proc.stderr
    assert "push goes on" in proc.stderr


def test_core_hooks_path_is_a_polite_refusal(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    f.repo.git("config", "core.hooksPath", ".husky")
    proc = f.env.run(f.repo.path, "install", "--json", check=False)
    assert proc.returncode == 1
    err = json.loads(proc.stdout)["error"]
    assert err["code"] == "hooks_path_set" and "tokentrail note --quiet" in err["message"]
    assert not (f.repo.path / ".git" / "hooks" / "post-commit").exists()
    assert not (f.repo.path / ".husky").exists()
