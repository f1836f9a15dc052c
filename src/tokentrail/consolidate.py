"""After GitHub merges a pull request: its receipts carried onto what landed on the default
branch, and the notes pushed (`tokentrail consolidate`, the Action's merged-PR mode).

A squash or rebase merge makes new commits; the PR's own commits, which the notes hang on,
drop out of the default branch's history. This finds the PR (from a `pull_request` closed
event, or for a `push` to the default branch from the API), fetches its head
(`refs/pull/N/head`, which GitHub keeps for forks too) and, for a fork, the notes the
contributor pushed to the fork, then:

- squash (one new commit): every PR commit's receipt onto it, with one `notes carry`;
- rebase (one new commit per PR commit): each new commit matched to its original by
  `git patch-id --stable` and carried one to one; a PR commit that matches none goes onto
  the last new commit;
- merge commit: nothing to carry, the PR's commits are in history (a fork's notes are still
  brought over).

Carrying goes through the `tokentrail notes carry` and `notes push` commands, so their
rules (a request is never counted twice) hold here too. Commits without a note are said,
never read as $0. Nothing from the PR is run: only its commits and notes are fetched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokentrail.actions import client, repo_name
from tokentrail.config import load_config
from tokentrail.errors import TokentrailError
from tokentrail.notes import notes_ref, read_note, write_note
from tokentrail.redact import redact
from tokentrail.scope import open_repo, run_git

ZERO = "0" * 40
MAX_LOOKUPS = 100  # commits of one push asked about (one API call each, newest first)
PUSH_TRIES = 3  # `notes push` again when another run pushed notes in between
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"


@dataclass
class PullRequest:
    """What consolidation needs of a merged PR."""

    number: int
    base: str
    head: str
    merge: str  # the commit GitHub's merge produced on the base branch (the last, for rebase)
    fork_url: str | None  # the head repository's clone URL when it is a fork

    @classmethod
    def from_api(cls, pr: Mapping[str, Any]) -> PullRequest:
        """From an event's or the API's pull request object."""
        try:
            head, base = pr["head"], pr["base"]
            head_repo = head.get("repo") or {}
            base_repo = base.get("repo") or {}
            fork = head_repo.get("full_name") != base_repo.get("full_name")
            return cls(
                number=int(pr["number"]),
                base=str(base["sha"]),
                head=str(head["sha"]),
                merge=str(pr["merge_commit_sha"]),
                fork_url=str(head_repo.get("clone_url") or "") or None if fork else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise TokentrailError(
                "event_unreadable", "the pull request lacks number, base, head or merge sha"
            ) from None


@dataclass
class Outcome:
    """What happened to one merged PR."""

    pr: int
    kind: str = "merge"  # squash, rebase, merge
    landed: list[str] = field(default_factory=list)  # new commits on the base branch
    commits: list[str] = field(default_factory=list)  # the PR's own commits
    without_note: list[str] = field(default_factory=list)
    carried: list[dict[str, Any]] = field(default_factory=list)
    fork_notes: str | None = None  # imported / absent, for a fork

    def to_dict(self) -> dict[str, Any]:
        return {
            "pr": self.pr,
            "kind": self.kind,
            "landed": self.landed,
            "commits": len(self.commits),
            "commits_without_note": self.without_note,
            "carried": self.carried,
            "fork_notes": self.fork_notes,
        }


class Git:
    """The repository consolidation works in, and the `tokentrail` it drives."""

    def __init__(self, root: Path, ref: str, remote: str) -> None:
        self.root, self.ref, self.remote = root, ref, remote

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        return run_git(self.root, *args, input=input, check=check)

    def has(self, sha: str) -> bool:
        return self._ok("cat-file", "-e", f"{sha}^{{commit}}")

    def _ok(self, *args: str) -> bool:
        proc = subprocess.run(["git", *args], cwd=self.root, capture_output=True, check=False)
        return proc.returncode == 0

    def is_ancestor(self, a: str, b: str) -> bool:
        return self._ok("merge-base", "--is-ancestor", a, b)

    def revs(self, *args: str) -> list[str]:
        return self("rev-list", *args).split()

    def patch_ids(self, shas: list[str]) -> dict[str, str]:
        """sha -> `git patch-id --stable` (commits without changes have none)."""
        if not shas:
            return {}
        shown = self("show", "--no-color", "--no-ext-diff", "--format=commit %H", *shas)
        out = self("patch-id", "--stable", input=shown)
        ids = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                ids[parts[1]] = parts[0]
        return ids

    def noted(self, sha: str) -> bool:
        return bool(read_note(self.root, self.ref, sha))

    def tokentrail(self, *args: str) -> dict[str, Any]:
        """A tokentrail command, as a user would run it, answering JSON."""
        cmd = [sys.executable, "-m", "tokentrail", *args, "--ref", self.ref, "--json"]
        proc = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, check=False)
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            doc = {}
        if proc.returncode != 0 or not isinstance(doc, dict) or "error" in doc:
            error = doc.get("error") if isinstance(doc, dict) else None
            said = (error or {}).get("message") or proc.stderr.strip() or "no output"
            raise TokentrailError(
                (error or {}).get("code") or "internal_error",
                f"tokentrail {' '.join(args[:2])} failed: {redact(str(said))}",
            )
        return doc


def ensure_identity(git: Git) -> None:
    """Notes are commits on the notes ref: without a git identity (a fresh CI runner) they
    are made as the Actions bot."""
    if git("var", "GIT_COMMITTER_IDENT", check=False).strip():
        return
    for who in ("AUTHOR", "COMMITTER"):
        os.environ.setdefault(f"GIT_{who}_NAME", BOT_NAME)
        os.environ.setdefault(f"GIT_{who}_EMAIL", BOT_EMAIL)


def fetch_head(git: Git, pr: PullRequest) -> None:
    """The PR's original commits: GitHub keeps them at refs/pull/N/head, forks included."""
    if git.has(pr.head):
        return
    git("fetch", "--quiet", "--no-tags", git.remote, f"refs/pull/{pr.number}/head", check=False)
    if not git.has(pr.head):
        raise TokentrailError(
            "pr_head_missing",
            f"PR #{pr.number}'s head {pr.head[:12]} is not in this clone and "
            f"{git.remote} has no refs/pull/{pr.number}/head; check out with fetch-depth: 0",
        )


def import_fork_notes(git: Git, pr: PullRequest, commits: list[str]) -> str:
    """The fork's notes for the PR's commits (and only those) into our notes ref."""
    assert pr.fork_url
    incoming = f"{git.ref}-pr-{pr.number}"
    git("fetch", "--quiet", "--no-tags", pr.fork_url, f"+{git.ref}:{incoming}", check=False)
    if not git("rev-parse", "--verify", "--quiet", incoming, check=False).strip():
        return "absent"
    try:
        for sha in commits:
            lines = read_note(git.root, incoming, sha)
            if lines:
                write_note(git.root, git.ref, sha, lines)
    finally:
        git("update-ref", "-d", incoming, check=False)
    return "imported"


def consolidate_pr(git: Git, pr: PullRequest, landed_hint: list[str] | None = None) -> Outcome:
    """Carry one merged PR's receipts onto what its merge put on the base branch.
    `landed_hint`: the commits the merge brought along the first parent, newest first
    (from a push); else they are read back from the merge commit."""
    out = Outcome(pr.number)
    fetch_head(git, pr)
    if not git.has(pr.merge):
        raise TokentrailError(
            "merge_missing", f"PR #{pr.number}'s merge commit {pr.merge[:12]} is not in this clone"
        )
    merged_normally = git.is_ancestor(pr.head, pr.merge)
    # the PR's own commits: on its head, not on the base branch before the merge
    before = f"^{pr.merge}^1" if merged_normally else f"^{pr.merge}"
    out.commits = git.revs("--reverse", "--no-merges", pr.head, f"^{pr.base}", before)
    if pr.fork_url:
        out.fork_notes = import_fork_notes(git, pr, out.commits)
    out.without_note = [c for c in out.commits if not git.noted(c)]
    if merged_normally:
        out.landed = [pr.merge]
        return out
    walk = landed_hint or git.revs("--first-parent", f"--max-count={len(out.commits)}", pr.merge)
    by_patch = {pid: sha for sha, pid in git.patch_ids(out.commits).items()}
    new_ids = git.patch_ids(walk)
    pairs: list[tuple[str, str]] = []  # (landed, original), oldest first
    for sha in walk:  # from the tip down, while each new commit is one of the PR's
        original = by_patch.pop(new_ids.get(sha, ""), None)
        if original is None:
            break
        pairs.insert(0, (sha, original))
    noted = len(out.without_note) < len(out.commits)
    if not pairs:  # one new commit with the whole change
        out.kind, out.landed = "squash", [pr.merge]
        if noted:
            _carry(git, out, pr.merge, f"{pr.merge}^1..{pr.head}", out.commits)
        return out
    out.kind = "rebase" if len(pairs) > 1 else "squash"
    out.landed = [sha for sha, _ in pairs]
    matched = {original for _, original in pairs}
    leftovers = [c for c in out.commits if c not in matched]
    for sha, original in pairs:
        if original not in out.without_note:
            _carry(git, out, sha, f"{original}^..{original}", [original])
    for original in leftovers:  # PR commits whose patch matched no new commit: onto the tip
        if original not in out.without_note:
            _carry(git, out, pr.merge, f"{original}^..{original}", [original])
    return out


def _carry(git: Git, out: Outcome, onto: str, spec: str, originals: list[str]) -> None:
    doc = git.tokentrail("notes", "carry", "--onto", onto, "--range", spec, "--pr", str(out.pr))
    out.carried.append(
        {
            "onto": onto,
            "from": originals,
            "commits_with_notes": doc.get("commits_with_notes"),
            "sessions_in_note": doc.get("sessions_in_note"),
        }
    )


def merged_prs_of_push(
    git: Git, event: Mapping[str, Any], token_env: str
) -> tuple[list[tuple[PullRequest, list[str] | None]], list[str]]:
    """The PRs whose merge a push to the default branch brought, newest first, each with
    the pushed commits on its first-parent line; and the pushed commits no PR claims."""
    before = str(event["before"])
    new = git.revs(f"{before}..{event['after']}")
    gh = client(token_env, event)
    repo = repo_name()
    found: list[tuple[PullRequest, list[str] | None]] = []
    claimed: set[str] = set()
    unclaimed: list[str] = []
    for sha in new[:MAX_LOOKUPS]:
        if sha in claimed:
            continue
        pulls = [
            p
            for p in gh.commit_pulls(repo, sha)
            if p.get("merged_at") and p.get("merge_commit_sha") in new
        ]
        if not pulls:
            unclaimed.append(sha)
            continue
        pr = PullRequest.from_api(pulls[0])
        claimed.update(git.revs(pr.merge, f"^{before}"))
        found.append((pr, git.revs("--first-parent", pr.merge, f"^{before}")))
    return found, unclaimed + new[MAX_LOOKUPS:]


def consolidate(
    event: Mapping[str, Any],
    event_name: str,
    remote: str,
    ref: str | None,
    push: bool,
    token_env: str,
) -> dict[str, Any]:
    """Consolidate every PR the event merged; the document `--json` prints."""
    git = Git(open_repo(None).root, notes_ref(load_config(), ref), remote)
    doc: dict[str, Any] = {"kind": "consolidate", "event": event_name, "merges": []}
    todo: list[tuple[PullRequest, list[str] | None]] = []
    if isinstance(event.get("pull_request"), dict):
        pr = event["pull_request"]
        if event.get("action") != "closed" or not pr.get("merged"):
            return {**doc, "status": "not_merged"}
        todo = [(PullRequest.from_api(pr), None)]
    elif event_name == "push" or {"before", "after", "ref"} <= set(event):
        default = (event.get("repository") or {}).get("default_branch")
        if event.get("ref") != f"refs/heads/{default}":
            return {**doc, "status": "not_default_branch"}
        if ZERO in (event.get("before"), event.get("after")):
            return {**doc, "status": "nothing_to_do"}
        todo, doc["unclaimed"] = merged_prs_of_push(git, event, token_env)
    else:
        raise TokentrailError(
            "not_a_merge_event",
            "consolidate runs on a pull_request `closed` event or a push to the default "
            "branch (GITHUB_EVENT_PATH)",
        )
    ensure_identity(git)
    git.tokentrail("notes", "fetch", remote)
    for pr, landed in todo:
        doc["merges"].append(consolidate_pr(git, pr, landed).to_dict())
    changed = any(m["carried"] or m["fork_notes"] == "imported" for m in doc["merges"])
    doc["pushed"] = False
    if push and changed:
        for attempt in range(1, PUSH_TRIES + 1):
            try:
                git.tokentrail("notes", "push", remote)
                doc["pushed"] = True
                break
            except TokentrailError:
                if attempt == PUSH_TRIES:
                    raise
    doc["status"] = "done" if doc["merges"] else "no_pull_request"
    return doc
