"""Attribution and notes across the git workflows teams use, on real repositories with logs
whose edits are in the commits: a human commit between agent requests, a merge of main,
rebase onto a moved main, amend, cherry-pick, re-noting, work straight on main, a branch
name reused after its PR merged, a session resumed the next day, two worktrees at once,
and a shallow clone. Each asserts exact per-commit request counts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepo import ClaudeLog, CodexLog, Env, GitRepo, at
from tokentrail.errors import TokentrailError
from tokentrail.pipeline import build_receipt, note_commits


@dataclass
class World:
    env: Env
    repo: GitRepo
    log: ClaudeLog

    def edit(self, minute: float, name: str, line: str, branch: str = "feat") -> None:
        """The agent adds `line` to `name` (the work tree changes as the log says)."""
        self.log.edit(at(minute), branch, self.repo.path / name, line + "\n")
        self.repo.write(name, line + "\n")

    def ask(self, minute: float, branch: str = "feat") -> None:
        """A request without a change: reading, planning, running tests."""
        self.log.request(at(minute), branch, input=3, cache_read=1200, output=40)

    def commit(self, minute: float, subject: str) -> str:
        """A human commits whatever is in the work tree."""
        self.repo.git("add", "-A")
        self.repo.git("commit", "-q", "--allow-empty", "-m", subject, when=at(minute))
        return self.repo.head()

    def receipt(self, **kw: Any) -> dict[str, Any]:
        return build_receipt(self.repo.path, kw.pop("base", "main"), **kw)

    def counts(self, **kw: Any) -> tuple[list[int], int]:
        doc = self.receipt(**kw)
        return [c["requests"] for c in doc["commits"]], doc["pending"]["requests"]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    env = Env(tmp_path / "env")
    repo = GitRepo(tmp_path / "repo", env)
    repo.commit("initial", at(0), file="README.md")
    repo.git("config", "notes.rewriteRef", "refs/notes/tokentrail")
    repo.checkout("-b", "feat")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(env.claude_dir))
    monkeypatch.setenv("CODEX_HOME", str(env.codex_home))
    return World(
        env, repo, ClaudeLog(env, repo.path, session_id="aaaaaaaa-0000-4000-8000-000000000001")
    )


def _three_steps(w: World) -> list[str]:
    """Agent work in two steps with a human's changelog fix between: c1 (a.py), h (the
    changelog), c2 (b.py)."""
    w.ask(9)
    w.edit(10, "a.py", "alpha_value = compute_alpha(1)")
    w.ask(11)
    c1 = w.commit(12, "Add alpha")
    w.ask(13)
    w.repo.write("CHANGELOG.md", "- alpha\n")
    h = w.commit(13.5, "Changelog")  # a human-only commit between agent requests
    w.edit(14, "b.py", "beta_value = compute_beta(2)")
    w.ask(15)
    c2 = w.commit(16, "Add beta")
    return [c1, h, c2]


def test_a_human_commit_between_agent_requests_gets_none_of_them(world: World) -> None:
    _three_steps(world)
    assert world.counts() == ([3, 0, 3], 0)
    doc = world.receipt()
    assert [c["sessions"][0]["link"] for c in doc["commits"] if c["sessions"]] == [
        "content",
        "content",
    ]


def test_work_not_committed_yet_is_pending(world: World) -> None:
    _three_steps(world)
    world.ask(17)
    world.edit(18, "c.py", "gamma_value = compute_gamma(3)")
    assert world.counts() == ([3, 0, 3], 2)


def test_a_merge_of_main_into_the_branch_gets_nothing(world: World) -> None:
    world.edit(10, "a.py", "alpha_value = compute_alpha(1)")
    world.commit(11, "Add alpha")
    world.ask(12)
    world.edit(13, "b.py", "beta_value = compute_beta(2)")
    world.repo.git("stash", "-q", "-u")
    world.repo.checkout("main")
    world.repo.commit("main moves", at(13.5), file="main.txt")
    world.repo.checkout("feat")
    world.repo.git("merge", "-q", "--no-edit", "main", when=at(14))
    world.repo.git("stash", "pop", "-q")
    world.ask(15)
    world.commit(16, "Add beta")
    doc = world.receipt()
    counts = {c["subject"]: c["requests"] for c in doc["commits"]}
    assert counts["Add alpha"] == 1 and counts["Add beta"] == 3
    assert counts["Merge branch 'main' into feat"] == 0


def test_rebase_onto_a_moved_main_keeps_every_commits_figures(world: World) -> None:
    _three_steps(world)
    # a read-only Codex review on the branch: no edits, so time decides (author time)
    review = CodexLog(world.env, world.repo.path, at(15), "feat")
    review.request(at(15.2), input=300, output=30)
    note_commits(world.repo.path)  # what the post-commit hook leaves behind
    before = world.counts()
    notes_before = world.counts(from_notes=True)
    assert before == ([3, 0, 4], 0) and notes_before == ([3, 0, 4], 0)
    world.repo.checkout("main")
    world.repo.commit("main moves on", at(20), file="other.txt")
    world.repo.checkout("feat")
    world.repo.git("rebase", "-q", "main", when=at(30))
    assert world.counts() == before  # from logs: rebased commits keep their work
    assert world.counts(from_notes=True) == notes_before  # notes.rewriteRef carried them
    for _ in range(3):  # re-noting the range never counts anything twice
        note_commits(world.repo.path, spec="main..feat", base="main")
    assert world.counts(from_notes=True) == notes_before


def test_amend_keeps_the_work_of_the_original_and_what_was_added(world: World) -> None:
    world.ask(9)
    world.edit(10, "a.py", "alpha_value = compute_alpha(1)")
    world.commit(11, "Add alpha")
    world.ask(12)
    world.edit(13, "a.py", "alpha_check = verify_alpha(alpha_value)")
    world.repo.git("add", "-A")
    world.repo.git("commit", "-q", "--amend", "--no-edit", when=at(14))
    assert world.counts() == ([4], 0)


def test_a_cherry_picked_commit_gets_the_receipt_of_its_original(world: World) -> None:
    world.edit(10, "a.py", "alpha_value = compute_alpha(1)")
    world.ask(11)
    original = world.commit(12, "Add alpha")
    note_commits(world.repo.path)
    world.repo.checkout("-b", "hotfix", "main")
    world.repo.git("cherry-pick", original, when=at(20))
    # without the logs (another machine), the copy takes its original's note
    world.env.claude_dir.rename(world.env.base / "claude-away")
    carried = note_commits(world.repo.path)
    assert [(c["status"], c["written"]) for c in carried["commits"]] == [("carried", 1)]
    world.repo.git("notes", "--ref=tokentrail", "remove", world.repo.head())
    (world.env.base / "claude-away").rename(world.env.claude_dir)
    doc = note_commits(world.repo.path)
    # its change is there, so it is attributed directly; without logs here, it would be
    # carried from the original's note (same author time and patch-id)
    assert [(c["status"], c["written"]) for c in doc["commits"]] == [("written", 1)]
    assert world.counts(from_notes=True, base="main") == ([2], 0)


def test_work_straight_on_main_is_billed_once_per_commit(world: World) -> None:
    world.repo.checkout("main")
    for n in range(4):
        world.ask(10 + 10 * n, branch="main")
        world.edit(11 + 10 * n, f"m{n}.py", f"main_value_{n} = compute({n})", branch="main")
        world.commit(12 + 10 * n, f"Step {n}")
        note_commits(world.repo.path)  # the post-commit hook, after every commit
        doc = build_receipt(world.repo.path)
        assert doc["pending"]["requests"] == 0, n  # nothing old is "pending" forever
    log = world.repo.git("log", "--format=%H", "main~4..main").split()
    noted = [build_receipt(world.repo.path, f"{sha}^", head=sha, from_notes=True) for sha in log]
    assert sum(d["totals"]["requests"] for d in noted) == 8  # 8 requests made, 8 billed
    world.ask(60, branch="main")
    world.edit(61, "m9.py", "later_value = compute(9)", branch="main")
    assert build_receipt(world.repo.path)["pending"]["requests"] == 2


def test_a_branch_name_reused_after_its_pr_merged_bills_only_new_work(world: World) -> None:
    world.edit(10, "a.py", "alpha_value = compute_alpha(1)")
    world.ask(11)
    world.commit(12, "Add alpha")
    note_commits(world.repo.path)
    world.repo.checkout("main")
    world.repo.git("merge", "-q", "--no-ff", "--no-edit", "feat", when=at(20))
    world.repo.checkout("feat")
    world.repo.git("merge", "-q", "main", when=at(21))  # the branch catches up, then reused
    world.edit(30, "b.py", "beta_value = compute_beta(2)")
    world.commit(31, "Add beta")
    assert world.counts() == ([1], 0)
    note_commits(world.repo.path)
    assert world.counts(from_notes=True) == ([1], 0)


def test_a_session_resumed_the_next_day_in_a_new_file_and_appended(world: World) -> None:
    world.edit(10, "a.py", "alpha_value = compute_alpha(1)")
    world.commit(11, "Add alpha")
    # resumed: Claude Code copies the history into a new file (same message ids) and goes on
    resumed = ClaudeLog(
        world.env, world.repo.path, session_id="bbbbbbbb-0000-4000-8000-000000000002"
    )
    resumed.count = 0
    copy = world.log.path.read_text()
    resumed.path.write_text(copy.replace(world.log.session_id, resumed.session_id))
    resumed.count = world.log.count
    resumed.edit(
        at(24 * 60 + 10), "feat", world.repo.path / "b.py", "beta_value = compute_beta(2)\n"
    )
    world.repo.write("b.py", "beta_value = compute_beta(2)\n")
    world.commit(24 * 60 + 11, "Add beta")
    # and the original file is appended to a day later still
    world.edit(48 * 60, "c.py", "gamma_value = compute_gamma(3)")
    world.commit(48 * 60 + 1, "Add gamma")
    assert world.counts() == ([1, 1, 1], 0)


def test_two_worktrees_on_two_branches_at_once(world: World, tmp_path: Path) -> None:
    other_path = tmp_path / "other-worktree"
    world.repo.git("worktree", "add", "-q", "-b", "feat2", str(other_path), "main")
    other = World(
        world.env,
        GitRepo(other_path, world.env, init=False),
        ClaudeLog(world.env, other_path, session_id="cccccccc-0000-4000-8000-000000000003"),
    )
    for minute in (10, 20):
        world.edit(minute, f"a{minute}.py", f"alpha_{minute} = compute({minute})")
        other.edit(minute + 1, f"z{minute}.py", f"zeta_{minute} = compute({minute})", "feat2")
        world.commit(minute + 2, f"feat {minute}")
        other.commit(minute + 3, f"feat2 {minute}")
    assert world.counts() == ([1, 1], 0)
    assert build_receipt(other_path, "main")["totals"]["requests"] == 2
    assert [c["requests"] for c in build_receipt(other_path, "main")["commits"]] == [1, 1]


def test_a_shallow_clone_says_how_to_fetch_the_history(world: World, tmp_path: Path) -> None:
    _three_steps(world)
    shallow = tmp_path / "shallow"
    world.repo.git(
        "clone", "-q", "--depth", "1", "--branch", "feat", f"file://{world.repo.path}", str(shallow)
    )
    base = world.repo.git("rev-parse", "main").strip()  # what CI passes from the PR event
    with pytest.raises(TokentrailError) as err:
        build_receipt(shallow, base, from_notes=True)
    assert err.value.code == "shallow_clone"
    assert "git fetch --unshallow" in err.value.message and "fetch-depth: 0" in err.value.message


def test_agent_commit_names_the_commit_exactly(world: World) -> None:
    world.ask(9)
    world.edit(10, "a.py", "alpha_value = compute_alpha(1)")
    world.repo.git("add", "-A")
    world.repo.git("commit", "-q", "-m", "Add alpha", when=at(11.5))
    sha = world.repo.head()
    world.log.git_commit(at(11), "feat", sha, "Add alpha")
    world.ask(12)
    world.edit(13, "b.py", "beta_value = compute_beta(2)")
    world.commit(14, "Add beta")
    doc = world.receipt()
    assert [(c["requests"], c["sessions"][0]["link"]) for c in doc["commits"]] == [
        (3, "exact"),
        (2, "content"),
    ]


def test_work_begun_on_main_and_moved_to_a_branch_follows_its_changes(world: World) -> None:
    """The agent edits on main, then `git switch -c feat2` carries the changes over and they
    are committed there: that work (and what led to it) is feat2's; work on main that went
    into no commit of feat2 is not."""
    world.repo.checkout("main")
    world.ask(5, branch="main")
    world.edit(10, "a.py", "alpha_value = compute_alpha(1)", branch="main")
    world.repo.checkout("-b", "feat2")
    world.ask(11, branch="feat2")
    world.commit(12, "Add alpha")
    world.repo.checkout("main")
    world.edit(20, "z.py", "zeta_value = compute_zeta(9)", branch="main")  # stays on main
    world.repo.checkout("feat2")
    doc = build_receipt(world.repo.path, "main")
    assert [c["requests"] for c in doc["commits"]] == [3]
    assert doc["pending"]["requests"] == 0


def test_a_commit_naming_the_session_in_a_trailer_is_exact(world: World) -> None:
    """No edit in the log (the agent wrote through a shell), but the commit message names the
    session: `Claude-Session: <id>` joins them."""
    world.ask(9)
    world.ask(10)
    world.repo.write("notes.md", "written by the agent through the shell\n")
    world.ask(13)  # after the commit: follows it once the branch has moved on
    world.repo.git("add", "-A")
    message = f"Add notes\n\nClaude-Session: {world.log.session_id}\n"
    world.repo.git("commit", "-q", "-m", message, when=at(12))
    world.repo.commit("later", at(20), file="later.txt")
    doc = world.receipt()
    assert [c["requests"] for c in doc["commits"]] == [3, 0]
    assert doc["commits"][0]["sessions"][0]["link"] == "exact"
