"""The hooks of .pre-commit-hooks.yaml through the real pre-commit framework.

pre-commit clones this checkout at its current commit (`repo:` is the checkout's path,
`rev:` HEAD's sha: only *committed* content is used) and pip-installs tokentrail into its
own virtualenv. That install happens once per test session (PRE_COMMIT_HOME is a session
tmp dir shared by every test here); each test then installs the git hooks into a fresh
repo with matching agent logs and commits through them.

The dependencies come from a wheelhouse in the system temp dir, built once per machine
for these dependencies (`pip wheel`, from the indexes pip is configured with): pip then
installs offline, in seconds instead of a minute and a half of index lookups.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gitrepo import Feature, at, feature_branch, git_env

pytestmark = pytest.mark.early  # a slow file: started first (see tests/conftest.py)

CHECKOUT = Path(__file__).resolve().parents[1]
PRE_COMMIT = str(Path(sys.executable).parent / "pre-commit")


@dataclass(frozen=True)
class PreCommit:
    home: Path
    rev: str
    install_seconds: float


def _config(rev: str, args: list[str] | None = None) -> str:
    budget_args = f"\n        args: [{', '.join(repr(a) for a in args)}]" if args else ""
    return (
        "default_install_hook_types: [pre-commit, pre-push, post-commit]\n"
        "repos:\n"
        f"  - repo: {CHECKOUT}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        f"      - id: tokentrail-budget{budget_args}\n"
        "      - id: tokentrail-note\n"
    )


def _dependencies() -> bytes:
    """What the wheelhouse holds wheels for: tokentrail's dependencies and build requirements
    (an edit elsewhere in pyproject.toml, such as the test extra, needs no new wheels)."""
    pyproject = (CHECKOUT / "pyproject.toml").read_bytes()
    try:
        import tomllib
    except ImportError:  # Python 3.10: the whole file, as a stricter key
        return pyproject
    doc = tomllib.loads(pyproject.decode())
    wanted = [doc["build-system"]["requires"], doc["project"]["dependencies"]]
    return repr(wanted).encode()


def wheelhouse() -> Path:
    """Wheels of tokentrail's dependencies (and setuptools to build it), kept per set of
    dependencies and Python version; built on first use."""
    import hashlib
    import os
    import tempfile

    tag = hashlib.sha256(_dependencies() + sys.version.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"tokentrail-test-wheels-{tag}"
    if (folder / ".complete").exists():
        return folder
    scratch = Path(tempfile.mkdtemp(prefix=f"{folder.name}-", dir=folder.parent))
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(scratch)]
    proc = subprocess.run(
        [*pip, str(CHECKOUT), "setuptools>=77", "wheel"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    if proc.returncode != 0:
        pytest.fail(f"could not build the test wheelhouse:\n{proc.stdout}\n{proc.stderr}")
    for own in scratch.glob("tokentrail-*.whl"):
        own.unlink()  # pre-commit builds the committed tokentrail itself
    (scratch / ".complete").touch()
    try:
        scratch.rename(folder)
    except OSError:  # another session built it first
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


@pytest.fixture(scope="session")
def precommit(tmp_path_factory: pytest.TempPathFactory) -> PreCommit:
    """Build pre-commit's environment for this checkout's HEAD once (pip from PyPI)."""
    if shutil.which(PRE_COMMIT) is None:
        pytest.fail("pre-commit is not installed: pip install -e '.[test]'")
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True, text=True, check=True
    ).stdout.strip()
    committed = subprocess.run(
        ["git", "cat-file", "-e", f"{rev}:.pre-commit-hooks.yaml"], cwd=CHECKOUT, check=False
    )
    if committed.returncode != 0:
        pytest.fail("commit .pre-commit-hooks.yaml first: pre-commit clones committed content")
    base = tmp_path_factory.mktemp("pre-commit")
    home = base / "pre-commit-home"
    repo = base / "warmup"
    env = {
        **git_env(base / "home"),
        "PRE_COMMIT_HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse()),
    }
    (base / "home").mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=env, check=True)
    (repo / ".pre-commit-config.yaml").write_text(_config(rev))
    began = time.perf_counter()
    proc = subprocess.run(
        [PRE_COMMIT, "install-hooks"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - began
    if proc.returncode != 0:
        pytest.fail(f"pre-commit install-hooks failed:\n{proc.stdout}\n{proc.stderr}")
    return PreCommit(home, rev, seconds)


def _setup(tmp: Path, pc: PreCommit, args: list[str] | None = None) -> Feature:
    f = feature_branch(tmp)
    f.env.extra.update(PRE_COMMIT_HOME=str(pc.home), TOKENTRAIL_CACHE_DIR=str(tmp / "cache"))
    (f.repo.path / ".pre-commit-config.yaml").write_text(_config(pc.rev, args))
    proc = subprocess.run(
        [PRE_COMMIT, "install"],
        cwd=f.repo.path,
        env=f.env.environ(),
        capture_output=True,
        text=True,
        check=True,
    )
    for hook in ("pre-commit", "pre-push", "post-commit"):
        assert f"pre-commit installed at .git/hooks/{hook}" in proc.stdout
    return f


def _commit(f: Feature, message: str) -> subprocess.CompletedProcess[str]:
    """`git commit` through the installed hooks, at minute 25 (after all the logs)."""
    (f.repo.path / "third.txt").write_text("third\n")
    f.repo.git("add", "third.txt", ".pre-commit-config.yaml")
    env = f.env.environ()
    env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = at(25).isoformat()
    return subprocess.run(
        ["git", "commit", "-m", message],
        cwd=f.repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_over_budget_warns_and_the_commit_lands_with_a_note(
    tmp_path: Path, precommit: PreCommit
) -> None:
    f = _setup(tmp_path, precommit, ["--budget", "0.001"])
    proc = _commit(f, "third change")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "tokentrail budget" in out and "Passed" in out
    words = " ".join(out.split())  # verdict lines wrap at 80 columns
    assert "tokentrail: branch feat: $0.02 API-equivalent of <$0.01 branch budget: OVER" in words
    assert "over budget (warning only; add --strict to enforce)" in out
    head = f.repo.head()
    assert head != f.c2 and f.repo.git("log", "-1", "--format=%s").strip() == "third change"
    # the post-commit hook wrote the new commit's receipt: the pending work went into it
    note = f.repo.git("notes", "--ref=tokentrail", "show", "HEAD")
    assert note.strip() and head in note
    assert "11111111-aaaa-4aaa-8aaa-000000000001" in note  # S1's pending request
    assert "44444444-dddd-4ddd-8ddd-000000000004" in note  # Codex X1 after c2


def test_strict_refuses_the_commit_over_budget(tmp_path: Path, precommit: PreCommit) -> None:
    f = _setup(tmp_path, precommit, ["--budget", "0.001", "--strict"])
    proc = _commit(f, "refused change")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "tokentrail budget" in out and "Failed" in out
    assert "over budget: refused (--strict)" in out
    assert f.repo.head() == f.c2  # no commit was made, so no note either
    missing = f.repo.git("notes", "--ref=tokentrail", "list", check=False)
    assert missing.strip() == ""


def test_strict_under_budget_from_config_file_passes(tmp_path: Path, precommit: PreCommit) -> None:
    f = _setup(tmp_path, precommit, ["--strict"])
    (f.repo.path / ".tokentrail.yml").write_text("budget:\n  branch_usd: 5\n  commit_usd: 1\n")
    f.repo.git("add", ".tokentrail.yml")
    proc = _commit(f, "within budget")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    words = " ".join(out.split())  # verdict lines wrap at 80 columns
    assert "of $5.00 branch budget (<1%)" in words and "of $1.00 commit budget" in words
    assert "OVER" not in out


def test_a_tokentrail_problem_never_blocks_even_strict(
    tmp_path: Path, precommit: PreCommit
) -> None:
    f = _setup(tmp_path, precommit, ["--budget", "0.001", "--strict"])
    (f.repo.path / ".tokentrail.yml").write_text("budget:\n  branch_usd: lots\n")
    f.repo.git("add", ".tokentrail.yml")
    proc = _commit(f, "bad config")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "warning: check skipped:" in out and "budget.branch_usd must be a number" in out


def test_pre_push_stage_runs_the_check(tmp_path: Path, precommit: PreCommit) -> None:
    f = _setup(tmp_path, precommit, ["--budget", "0.001"])
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], env=f.env.environ(), check=True)
    f.repo.git("remote", "add", "origin", str(remote))
    proc = subprocess.run(
        ["git", "push", "origin", "feat"],
        cwd=f.repo.path,
        env=f.env.environ(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "tokentrail budget" in out and "OVER by" in out


def test_install_time_is_recorded(precommit: PreCommit) -> None:
    """One pip install per session; report how long it took (`pytest -rP` shows it)."""
    print(f"pre-commit environment built in {precommit.install_seconds:.1f} s")
    assert precommit.install_seconds > 0
    envs = list(precommit.home.glob("repo*"))
    assert len(envs) == 1, envs  # every test reused the one clone and venv
