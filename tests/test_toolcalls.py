"""What tool-call text tells about git: commit lines and branch switches, as git prints them."""

from __future__ import annotations

import pytest

from tokentrail.toolcalls import branch_switched_to, commits_in_output


@pytest.mark.parametrize(
    ("command", "output", "branch"),
    [
        ("git switch -c feature/x", "Switched to a new branch 'feature/x'\n", "feature/x"),
        ("git checkout -b fix-1", "Switched to a new branch 'fix-1'", "fix-1"),
        ("git checkout main && git pull", "Switched to branch 'main'\nAlready up to date.", "main"),
        ("git checkout -B wip", "Switched to and reset branch 'wip'\n", "wip"),
        ("git switch feat", "Already on 'feat'\n", "feat"),
        # a failed switch prints no such line; a file checkout is not a switch
        ("git switch nope", "fatal: invalid reference: nope\n", None),
        ("git checkout -- a.py", "Updated 1 path from the index\n", None),
        # the text alone is not enough: a file that quotes git's message
        ("cat NOTES.md", "Switched to a new branch 'x'\n", None),
        (None, "Switched to a new branch 'x'\n", None),
    ],
)
def test_branch_switched_to(command: str | None, output: str, branch: str | None) -> None:
    assert branch_switched_to(command, output) == branch


def test_commit_lines() -> None:
    text = "[feature/x 1a2b3c4] Add x\n 1 file changed\n[main (root-commit) 0badc0d] init\n"
    assert commits_in_output(text) == [("feature/x", "1a2b3c4"), ("main", "0badc0d")]
    assert commits_in_output("[detached HEAD 1a2b3c4] x\n") == []
