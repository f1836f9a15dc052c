"""`tokentrail notes push|fetch|carry` against a real bare remote; amend/rebase carrying."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitrepo import ClaudeLog, Env, GitRepo, at, feature_branch


def ids(repo: GitRepo, sha: str, ref: str = "tokentrail") -> set[str]:
    text = repo.git("notes", f"--ref={ref}", "show", sha)
    return {str(x["id"])[:8] for x in map(json.loads, text.splitlines()) if x}


def test_push_fetch_merge_two_machines(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    bare = tmp_path / "remote.git"
    f.repo.git("init", "-q", "--bare", str(bare))
    f.repo.git("remote", "add", "origin", str(bare))
    f.repo.git("push", "-q", "origin", "main", "feat")
    # nothing noted yet: push says so, fetch finds nothing
    assert f.env.json(f.repo.path, "notes", "push")["status"] == "nothing"
    assert f.env.json(f.repo.path, "notes", "fetch")["status"] == "absent"
    f.env.run(f.repo.path, "note", "--range", f"{f.base}..HEAD")
    pushed = f.env.json(f.repo.path, "notes", "push", "origin")
    assert pushed["status"] == "pushed" and pushed["remote"] == "origin"

    laptop = Env(tmp_path / "laptop", host="host-b")
    clone = GitRepo(tmp_path / "clone", laptop, init=False)
    f.repo.git("clone", "-q", "-b", "feat", str(bare), str(clone.path))
    clone.git("config", "user.name", "Laptop")
    clone.git("config", "user.email", "laptop@example.com")
    assert laptop.json(clone.path, "notes", "fetch")["status"] == "created"
    assert ids(clone, f.c1) == ids(f.repo, f.c1)
    # the laptop has its own session for c1 and writes its own line, then pushes
    ClaudeLog(laptop, clone.path, session_id="88888888-0000-4000-8000-000000000008").request(
        at(12.7), "feat", input=3, output=3
    )
    laptop.run(clone.path, "note", f.c1)
    assert laptop.json(clone.path, "notes", "push")["status"] == "pushed"
    # meanwhile the first machine rewrote c1's note (no change) and fetches: a clean union
    assert f.env.json(f.repo.path, "notes", "fetch", "origin")["status"] == "merged"
    assert "88888888" in ids(f.repo, f.c1)
    assert ids(f.repo, f.c1) == ids(clone, f.c1)
    remote_doc = Env(tmp_path / "ci").json(f.repo.path, "report", "--from-notes")
    assert remote_doc["commits"][0]["requests"] == 6


def test_concurrent_notes_merge_with_cat_sort_uniq(tmp_path: Path) -> None:
    """Both machines changed the note of the same commit before syncing."""
    f = feature_branch(tmp_path)
    bare = tmp_path / "remote.git"
    f.repo.git("init", "-q", "--bare", str(bare))
    f.repo.git("remote", "add", "origin", str(bare))
    f.repo.git("push", "-q", "origin", "main", "feat")
    laptop = Env(tmp_path / "laptop", host="host-b")
    clone = GitRepo(tmp_path / "clone", laptop, init=False)
    f.repo.git("clone", "-q", "-b", "feat", str(bare), str(clone.path))
    clone.git("config", "user.email", "laptop@example.com")
    clone.git("config", "user.name", "Laptop")
    ClaudeLog(laptop, clone.path, session_id="99999999-0000-4000-8000-000000000009").request(
        at(12.2), "feat", input=4, output=4
    )
    laptop.run(clone.path, "note", f.c1)
    laptop.run(clone.path, "notes", "push")
    f.env.run(f.repo.path, "note", f.c1)
    f.env.run(f.repo.path, "notes", "push")  # fetch-merge first, so this is a fast-forward
    laptop.run(clone.path, "notes", "fetch")
    both = {"99999999", "11111111"}
    assert both <= ids(f.repo, f.c1) and ids(f.repo, f.c1) == ids(clone, f.c1)


def test_no_remote(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    proc = f.env.run(f.repo.path, "notes", "push", "--json", check=False)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == "no_remote"


def test_carry_onto_a_squash_merge(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    f.env.run(f.repo.path, "note", "--range", f"{f.base}..HEAD")
    local = f.env.json(f.repo.path, "report")
    f.repo.checkout("main")
    f.repo.git("merge", "-q", "--squash", "feat")
    f.repo.git("commit", "-q", "-m", "Squashed feat", when=at(60))
    squash = f.repo.head()
    doc = f.env.json(f.repo.path, "notes", "carry", "--onto", squash, "--range", f"{f.base}..feat")
    assert doc["commits"] == 2 and doc["commits_with_notes"] == 2
    shown = f.env.json(f.repo.path, "show", squash)
    for key in ("requests", "input_tokens", "cache_read_tokens", "output_tokens", "cost_usd"):
        assert shown[key] == local["committed"][key]
    s1 = next(s for s in shown["sessions"] if s["id"].startswith("1111"))
    assert s1["link"] == "exact" and s1["requests"] == 5
    # carrying again is idempotent
    f.env.run(f.repo.path, "notes", "carry", "--onto", squash, "--range", f"{f.base}..feat")
    assert f.env.json(f.repo.path, "show", squash)["requests"] == local["committed"]["requests"]


def test_amend_and_rebase_carry_notes(tmp_path: Path) -> None:
    f = feature_branch(tmp_path)
    f.env.extra["TOKENTRAIL_SKIP_HOOKS"] = "1"  # rewriteRef alone must carry the notes
    f.env.run(f.repo.path, "install")
    f.env.run(f.repo.path, "note", "--range", f"{f.base}..HEAD")
    before = ids(f.repo, f.c2)
    f.repo.git("commit", "-q", "--amend", "-m", "second change, reworded", when=at(16.6))
    amended = f.repo.head()
    assert amended != f.c2 and ids(f.repo, amended) == before
    # main moves on; rebase feat onto it
    f.repo.checkout("main")
    f.repo.commit("main moves", at(30))
    f.repo.checkout("feat")
    f.repo.git("rebase", "-q", "main", when=at(31))
    new = f.repo.git("rev-list", "--reverse", "main..feat").split()
    assert len(new) == 2 and f.c1 not in new
    assert ids(f.repo, new[0]) == ids(f.repo, f.c1)
    assert ids(f.repo, new[1]) == before
    doc = Env(tmp_path / "ci").json(f.repo.path, "report", "--from-notes")
    assert doc["totals"]["requests"] == 7
