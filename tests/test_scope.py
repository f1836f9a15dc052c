"""Scope from real repositories: base, commits and their committer times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_run import invoke
from tests.gitrepo import ClaudeLog, Env, GitRepo, at
from tokentrail import githooks
from tokentrail.errors import TokentrailError
from tokentrail.scope import find_scope


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    env = Env(tmp_path / "env")
    for key, value in env.environ().items():
        if key.startswith(("HOME", "GIT_")):
            monkeypatch.setenv(key, value)
    r = GitRepo(tmp_path / "repo", env)
    r.commit("initial", at(0))
    return r


def test_commits_oldest_first_with_committer_times(repo: GitRepo) -> None:
    repo.checkout("-b", "feat")
    a = repo.commit("a", at(5))
    b = repo.commit("b", at(9))
    scope = find_scope(repo.path)
    assert scope.branch == "feat" and scope.base_ref == "main"
    assert [c.sha for c in scope.commits] == [a, b]
    assert [c.time for c in scope.commits] == [at(5), at(9)]
    assert scope.base_time == at(0) and scope.head == b
    assert scope.resolve(b[:7]) == scope.commits[1] and scope.resolve("0000000") is None


def test_origin_head_is_preferred_and_merge_base_used(repo: GitRepo, tmp_path: Path) -> None:
    bare = tmp_path / "r.git"
    repo.git("init", "-q", "--bare", str(bare))
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")
    repo.git("remote", "set-head", "origin", "main")
    fork = repo.head()
    repo.checkout("-b", "feat")
    mine = repo.commit("mine", at(3))
    repo.checkout("main")
    repo.commit("main moves", at(4))
    repo.git("push", "-q", "origin", "main")
    repo.checkout("feat")
    scope = find_scope(repo.path)
    assert scope.base_ref == "origin/HEAD" and scope.base == fork
    assert [c.sha for c in scope.commits] == [mine]


def test_empty_repo_and_subfolder(repo: GitRepo, tmp_path: Path) -> None:
    sub = repo.path / "pkg"
    sub.mkdir()
    assert find_scope(sub).root == repo.path.resolve()
    empty = GitRepo(tmp_path / "empty", repo.env)
    with pytest.raises(TokentrailError) as err:
        find_scope(empty.path)
    assert err.value.code == "no_commits"


def test_linked_worktree_detached_head_and_tag_base(repo: GitRepo, tmp_path: Path) -> None:
    repo.checkout("-b", "feat")
    a = repo.commit("a", at(5))
    repo.checkout("main")
    repo.git("tag", "-a", "v1", "-m", "release", "main")  # annotated: git peels it
    worktree = tmp_path / "wt"
    repo.git("worktree", "add", "-q", str(worktree), "feat")
    scope = find_scope(worktree)
    assert scope.root == worktree.resolve() and scope.branch == "feat"
    assert [c.sha for c in scope.commits] == [a]
    assert [c.sha for c in find_scope(worktree, base="v1").commits] == [a]
    repo.git("-C", str(worktree), "checkout", "-q", "--detach")
    with pytest.raises(TokentrailError) as err:
        find_scope(worktree)
    assert err.value.code == "detached_head"
    assert find_scope(worktree, allow_detached=True).head == a


# Every character str.splitlines() breaks on, besides "\n" and "\r\n".
SEPARATORS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
# Of those, the ones git allows in a branch name (it refuses ASCII control characters).
BRANCH_SEPARATORS = "\x85\u2028\u2029"


def test_line_separators_in_subjects_branch_names_and_paths(tmp_path: Path) -> None:
    """A PR author controls subjects and branch names: none of these characters may split
    a record of git's output, in any command that reads it."""
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / f"re{SEPARATORS}po", env)
    repo.commit("initial", at(0))
    branch = f"feat{BRANCH_SEPARATORS}x"
    repo.checkout("-b", branch)
    subject = f"fix{SEPARATORS}this"
    first = repo.commit(subject, at(13))
    second = repo.commit(f"{SEPARATORS}lead and trail{SEPARATORS}", at(16))
    log = ClaudeLog(env, repo.path)
    log.request(at(10), branch, input=100, output=10)
    log.request(at(14), branch, input=200, output=20)
    environ = env.environ()

    scope = find_scope(repo.path)
    assert scope.branch == branch
    assert [(c.sha, c.subject) for c in scope.commits] == [
        (first, subject),
        (second, f"{SEPARATORS}lead and trail{SEPARATORS}"),  # git strips ASCII only
    ]

    for args in (
        ("report", "--json"),
        ("report",),
        ("report", "--markdown"),
        ("note", "--range", f"{scope.base}..HEAD", "--json"),
        ("show", first, "--json"),
        ("report", "--from-notes", "--json"),
        ("check", "--json"),
        ("check",),
        ("comment", "--dry-run", "--from-logs", "--pr", "1"),
        ("install", "--json"),
        ("notes", "carry", "--onto", "HEAD", "--range", f"{scope.base}..HEAD", "--json"),
    ):
        result = invoke(*args, env=environ, cwd=repo.path)
        assert result.exit_code == 0, (args, result.output)
        assert "error" not in result.stdout[:200].lower() or args[0] == "check", args
        if "--json" in args:
            doc = json.loads(result.stdout)
            assert "error" not in doc, (args, doc)
            if args[0] == "report":
                assert [c["sha"] for c in doc["commits"]] == [first, second]
                assert doc["totals"]["requests"] == 2
    hooks = githooks.hooks_dir(repo.path)
    assert hooks.is_dir() and hooks.parent.parent == repo.path.resolve()
