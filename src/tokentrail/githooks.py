"""Install and uninstall the thin git hooks, chaining whatever hook was there before.

The hooks never fail a commit or a push because of tokentrail: a problem is printed and
git carries on. `notes.rewriteRef` makes `git commit --amend` and `git rebase` copy the
notes to the rewritten commits.
"""

from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path
from typing import Any

from tokentrail.errors import TokentrailError
from tokentrail.scope import git_records, one_line, run_git

MARKER = "# tokentrail-hook v1"
CHAINED_SUFFIX = ".tokentrail-chained"
INSTALLED_KEY = "tokentrail.installedRewriteRef"

_SKIP = """if [ -n "$TOKENTRAIL_SKIP_HOOKS" ]; then exit 0; fi
git_dir=$(git rev-parse --git-dir 2>/dev/null) || exit 0
"""

# The thin hooks as shipped in hooks/ (tests check the files are these texts).
HOOKS: dict[str, str] = {
    "post-commit": """#!/bin/sh
# tokentrail post-commit: write the receipts of every commit of the branch that has none yet
# (the new one, and any that arrived by pull, merge or rebase) into git notes.
# Never fails the commit; skipped during a rebase (notes.rewriteRef carries the notes).
"""
    + _SKIP
    + """if [ -d "$git_dir/rebase-merge" ] || [ -d "$git_dir/rebase-apply" ]; then exit 0; fi
"${TOKENTRAIL:-tokentrail}" note --quiet ||
  echo "tokentrail: could not write the receipts (the commit is fine)" >&2
exit 0
""",
    "pre-push": """#!/bin/sh
# tokentrail pre-push: push the receipts (git notes) too, unless .tokentrail.yml says
# `notes: {push: false}`. Bounded in time; never blocks the push.
"""
    + _SKIP
    + """"${TOKENTRAIL:-tokentrail}" notes push --hook "$1" ||
  echo "tokentrail: could not push notes (the push goes on)" >&2
exit 0
""",
}


def hooks_dir(root: Path) -> Path:
    path = Path(one_line(run_git(root, "rev-parse", "--git-path", "hooks")))
    return path if path.is_absolute() else (root / path).resolve()


def _refuse_hooks_path(root: Path) -> None:
    configured = _config(root, "core.hooksPath")
    if configured:
        raise TokentrailError(
            "hooks_path_set",
            f"core.hooksPath is set to {configured!r}, so git runs hooks from there (maybe a "
            "hook manager such as husky or pre-commit owns them). tokentrail will not touch "
            "them; call `tokentrail note --quiet` from your post-commit hook and "
            '`tokentrail notes push --hook "$1"` from pre-push (see hooks/ and '
            "docs/notes.md), and run `git config --add notes.rewriteRef refs/notes/tokentrail`.",
        )


def _executable() -> str:
    """Absolute path of the CLI, so hooks work when git runs them without your venv."""
    found = shutil.which("tokentrail") or str(Path(sys.executable).parent / "tokentrail")
    return found if Path(found).is_file() else "tokentrail"


def wrapper(name: str, program: str) -> str:
    """The installed hook: run the chained hook first, then the thin hook's body."""
    body = HOOKS[name].split("\n", 1)[1]
    blocking = name == "pre-push"
    chained = f'"$(dirname "$0")/{name}{CHAINED_SUFFIX}"'
    if blocking:
        chain = f'if [ -x {chained} ]; then\n  {chained} "$@" || exit $?\nfi\n'
    else:
        chain = f'if [ -x {chained} ]; then\n  {chained} "$@"\nfi\n'
    return (
        "#!/bin/sh\n"
        f"{MARKER} (installed by `tokentrail install`; `tokentrail uninstall` restores the "
        "hook that was here)\n"
        f'TOKENTRAIL="${{TOKENTRAIL:-{program}}}"\nexport TOKENTRAIL\n'
        f"{chain}{body}"
    )


def _config(root: Path, key: str) -> str:
    """One config value as stored ("" when unset), read NUL-terminated."""
    values = git_records(run_git(root, "config", "-z", "--get", key, check=False))
    return values[-1] if values else ""


def _rewrite_refs(root: Path) -> list[str]:
    return git_records(run_git(root, "config", "-z", "--get-all", "notes.rewriteRef", check=False))


def install(root: Path, ref: str) -> dict[str, Any]:
    _refuse_hooks_path(root)
    folder = hooks_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    program = _executable()
    done: list[dict[str, str]] = []
    for name in HOOKS:
        path = folder / name
        chained = folder / (name + CHAINED_SUFFIX)
        status = "installed"
        if path.exists() and MARKER in path.read_text(errors="replace"):
            status = "updated"
        elif path.exists():
            if chained.exists():
                raise TokentrailError(
                    "hook_conflict", f"{chained} already exists; move it away and retry"
                )
            path.rename(chained)
            status = "chained"
        path.write_text(wrapper(name, program))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        done.append({"hook": name, "path": str(path), "status": status})
    rewrite = "present"
    if ref not in _rewrite_refs(root):
        run_git(root, "config", "--add", "notes.rewriteRef", ref)
        run_git(root, "config", INSTALLED_KEY, ref)
        rewrite = "added"
    return {"kind": "install", "hooks": done, "rewrite_ref": ref, "rewrite_ref_status": rewrite}


def uninstall(root: Path) -> dict[str, Any]:
    folder = hooks_dir(root)
    done: list[dict[str, str]] = []
    for name in HOOKS:
        path = folder / name
        chained = folder / (name + CHAINED_SUFFIX)
        if not path.exists() or MARKER not in path.read_text(errors="replace"):
            status = "not ours, left alone" if path.exists() else "absent"
            done.append({"hook": name, "path": str(path), "status": status})
            continue
        path.unlink()
        if chained.exists():
            chained.rename(path)
            status = "restored previous hook"
        else:
            status = "removed"
        done.append({"hook": name, "path": str(path), "status": status})
    added = _config(root, INSTALLED_KEY)
    rewrite = "kept"
    if added:
        values = [v for v in _rewrite_refs(root) if v != added]
        run_git(root, "config", "--unset-all", "notes.rewriteRef", check=False)
        for value in values:
            run_git(root, "config", "--add", "notes.rewriteRef", value)
        run_git(root, "config", "--unset", INSTALLED_KEY, check=False)
        rewrite = "removed"
    return {"kind": "uninstall", "hooks": done, "rewrite_ref_status": rewrite}


def status(root: Path, ref: str) -> dict[str, Any]:
    """What is installed in this repository, without changing anything: each hook
    (`installed`, `installed, chaining a previous hook`, `another hook`, `absent`), whether
    `core.hooksPath` sends git elsewhere, and whether notes.rewriteRef names `ref`."""
    configured = run_git(root, "config", "--get", "core.hooksPath", check=False).strip()
    folder = hooks_dir(root)
    hooks = []
    for name in HOOKS:
        path = folder / name
        if not path.exists():
            state = "absent"
        elif MARKER in path.read_text(errors="replace"):
            chained = (folder / (name + CHAINED_SUFFIX)).exists()
            state = "installed, chaining a previous hook" if chained else "installed"
        else:
            state = "another hook"
        hooks.append({"hook": name, "path": str(path), "status": state})
    return {
        "hooks": hooks,
        "hooks_path": configured or None,
        "rewrite_ref": ref in _rewrite_refs(root),
    }


def hook_files_dir() -> Path:
    """hooks/ of a source checkout (absent from an installed wheel)."""
    return Path(__file__).resolve().parents[2] / "hooks"
