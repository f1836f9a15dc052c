"""The hook's fast path: `tokentrail check` answers from its last answer when nothing that
answer depended on has changed since.

A check depends on: its options, the working directory, the environment that says where
logs, config and cache are, the installed packages (plugins, prices), the git files that
name the branch, its head and its base, the config file, and the agent logs. Each full
check remembers its answer with the state (device, inode, size, mtime) of every one of
those files and folders, taken before it read them: the log folders the adapters listed
and the log files they read, through `logfile.list_dir` / `first_line` and the catalog.
The next check compares those states (a few hundred `stat` calls) and, when all are
equal, prints the same answer without importing anything else. Any difference, anything
it cannot vouch for (an adapter that does not say what it read, sessions kept after their
logs were deleted, `--base`, GIT_DIR and friends, a request stamped in the future), and
the full check runs.

This module imports only what Python has loaded at start-up anyway.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
import zlib

TYPE_CHECKING = False  # typing itself costs a hook run a few milliseconds
if TYPE_CHECKING:  # nothing but what Python loads at start-up is imported here
    from collections.abc import Sequence
    from typing import Any

    State = tuple[int, int, int, int]
    Key = tuple[str, dict[str, State]]

MAGIC = b"tokentrail-check-memo-1\n"
FOLDER = "check"
CONFIG_NAME = ".tokentrail.yml"
# what a check's answer depends on in the environment (besides TOKENTRAIL_*)
ENV = ("HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CACHE_HOME", "PATH", "PYTHONPATH")
# git revisions a default base is looked up as (scope.DEFAULT_BRANCH_CANDIDATES) and the
# places a short name can live (scope._sha)
CANDIDATES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")
PLACES = ("refs/{}", "refs/tags/{}", "refs/heads/{}", "refs/remotes/{}", "refs/remotes/{}/HEAD")
OPTIONS = {"--budget": "budget", "--commit-budget": "commit", "--max-waste-share": "waste"}
FLAGS = {"--strict": "strict", "--json": "json"}
MISSING = (0, 0, -1, 0)
IDENTITY = -2  # a state whose size is this compares device and inode only


def options(argv: Sequence[str]) -> dict[str, Any] | None:
    """The check options the way click reads them (last one wins), or None for anything
    the fast path does not know (then click parses and explains)."""
    out: dict[str, Any] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if name in OPTIONS:
            if not eq:
                if not args:
                    return None
                value = args.pop(0)
            out[OPTIONS[name]] = value
        elif arg in FLAGS:
            out[FLAGS[arg]] = True
        else:
            return None  # --base, --help, a typo: the full path handles it
    return out


def _state(path: str) -> State:
    try:
        st = os.stat(path)
    except OSError:
        return MISSING
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _git_files(cwd: str) -> list[str] | None:
    """The files that decide the branch, its head and its base: HEAD, the refs they name,
    packed-refs, and every place a default base could be found. None when git's layout
    is one the file reads in scope.py would not handle either."""
    if any(os.environ.get(name) for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR")):
        return None
    folder = cwd
    while True:
        dotgit = os.path.join(folder, ".git")
        if os.path.isdir(dotgit):
            git_dir = dotgit
            break
        if os.path.isfile(dotgit):
            try:
                with open(dotgit, encoding="utf-8") as fh:
                    text = fh.read().strip()
            except (OSError, UnicodeDecodeError):
                return None
            if not text.startswith("gitdir:"):
                return None
            git_dir = os.path.normpath(os.path.join(folder, text[len("gitdir:") :].strip()))
            break
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
    common = git_dir
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as fh:
            common = os.path.normpath(os.path.join(git_dir, fh.read().strip()))
    except OSError:
        pass
    except UnicodeDecodeError:
        return None
    if os.path.exists(os.path.join(common, "reftable")):
        return None
    files = [dotgit, os.path.join(git_dir, "HEAD"), os.path.join(git_dir, "commondir"),
             os.path.join(common, "packed-refs")]
    try:
        with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as fh:
            head = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if head.startswith("ref:"):
        files.append(os.path.join(common, head[4:].strip()))
    for candidate in CANDIDATES:
        for place in PLACES:
            files.append(os.path.join(common, place.format(candidate)))
    files.append(os.path.join(common, "refs", "remotes", "origin", "HEAD"))
    return files


def _config_files(cwd: str) -> list[str]:
    explicit = os.environ.get("TOKENTRAIL_CONFIG")
    if explicit:
        return [explicit]
    out, folder = [], cwd
    while True:
        out.append(os.path.join(folder, CONFIG_NAME))
        parent = os.path.dirname(folder)
        if parent == folder:
            return out
        folder = parent


def key(argv: Sequence[str]) -> Key | None:
    return key_for(options(argv))


def key_for(opts: dict[str, Any] | None) -> Key | None:
    """What must be equal for these check options in this directory and environment, and
    the state of the files that decide the rest (taken now, before anything is read); None
    when the fast path cannot vouch for it."""
    if opts is None or os.environ.get("TOKENTRAIL_NO_CACHE"):
        return None
    try:
        cwd = os.path.realpath(os.getcwd())
    except OSError:
        return None
    git = _git_files(cwd)
    if git is None:
        return None
    from tokentrail import __version__

    env = sorted(
        (k, v) for k, v in os.environ.items() if k in ENV or k.startswith("TOKENTRAIL_")
    )
    text = repr((__version__, sorted(opts.items()), cwd, env, sys.executable, sys.path))
    # installing or removing a package (a plugin, new prices) changes its folder
    files = [*git, *_config_files(cwd), *(p for p in sys.path if p)]
    return text, {name: _state(name) for name in files}


def cache_root() -> str | None:
    """cache.cache_root(), without importing pathlib (tests check they agree)."""
    if os.environ.get("TOKENTRAIL_NO_CACHE"):
        return None
    explicit = os.environ.get("TOKENTRAIL_CACHE_DIR")
    if explicit:
        return explicit
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        base = os.path.join(home, "Library", "Caches")
    elif os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(base, "tokentrail")


def _memo_path(text: str) -> str | None:
    root = cache_root()
    if root is None:
        return None
    return os.path.join(root, FOLDER, f"{zlib.crc32(text.encode()):08x}-{len(text)}")


def answer(argv: Sequence[str]) -> int | None:
    """Print the remembered answer and return its exit code, or None (run the check)."""
    found = key(argv)
    if found is None:
        return None
    text, now = found
    path = _memo_path(text)
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError:
        return None
    if not blob.startswith(MAGIC):
        return None
    crc, payload = blob[len(MAGIC) : len(MAGIC) + 8], blob[len(MAGIC) + 8 :]
    if crc != b"%08x" % zlib.crc32(payload):
        return None
    try:
        stored_text, until, code, states, out, err = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None
    if stored_text != text or (until is not None and time.time() >= until):
        return None
    if any(states.get(name) != state for name, state in now.items()):
        return None
    for name, state in states.items():
        current = now[name] if name in now else _state(name)
        if current != state and not (
            state[2] == IDENTITY and current[:2] == state[:2] and current[2] >= 0
        ):
            return None
    sys.stdout.write(out)
    sys.stdout.flush()
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()
    return int(code)


def remember(
    found: Key | None,
    states: dict[str, State] | None,
    out: str,
    err: str,
    code: int,
    until: float | None,
) -> None:
    """Keep this answer for the next check. `found`: the key taken when the check
    started; `states`: the logs' files and folders as the run found them before reading
    them (None: the run cannot say what it read, so nothing is kept)."""
    if found is None or states is None:
        return
    text, files = found
    path = _memo_path(text)
    if path is None:
        return
    payload = marshal.dumps((text, until, code, {**states, **files}, out, err))
    blob = MAGIC + b"%08x" % zlib.crc32(payload) + payload
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time


def forget() -> None:
    """Drop every remembered answer (`tokentrail cache clear`)."""
    import shutil

    root = cache_root()
    if root is not None:
        shutil.rmtree(os.path.join(root, FOLDER), ignore_errors=True)
