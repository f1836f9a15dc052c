"""The team roll-up: what agent work cost across repositories, from their git notes alone.

Every repository's remote already holds its receipts, so a lead aggregates them with no
server and no logs: notes → rows (one per session per commit, after de-duplication) →
breakdowns by repository, author, agent, model, week and PR/branch, waste by cause, lessons
seen across the team, outlier PRs, and whether each lesson written into AGENTS.md/CLAUDE.md
made its waste rarer. The result is a JSON-able document of kind "rollup"; renderers draw it.

Counting rule: a note line covers a set of requests. Lines that name request ids cover
those; older lines cover "the session's work in commit X" (a carried line: in each of its
`carried_from` commits). Per session, lines are taken biggest first and a line is counted
only when it covers nothing already counted, so a carried receipt, a rebased copy
(notes.rewriteRef keeps the line's original `commit`) and the PR commits' own notes are
never added together.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tokentrail.errors import TokentrailError
from tokentrail.figures import iso
from tokentrail.lessons import BEGIN, END, lesson_id
from tokentrail.logfile import parse_ts
from tokentrail.notes import fetch_notes, line_to_row, pick_remote, rid_set
from tokentrail.receipt import sum_rows
from tokentrail.repo_notes import NotedCommit, RepoNotes, read_repo_notes
from tokentrail.scope import open_repo, run_git

ROLLUP_VERSION = 1
BREAKDOWNS = ("repo", "author", "agent", "model", "week", "pr")
OUTLIER_FACTOR = 3.0  # a PR at least this many times the repo's median cost per commit
OUTLIER_MIN_COMMITS = 3  # the median means something from this many priced commits on
LESSON_FILES = ("AGENTS.md", "CLAUDE.md")
UNKNOWN = "(unknown)"


@dataclass
class Problems:
    overlapping_lines: int = 0
    duplicate_lines: int = 0
    missing_commits: int = 0
    warnings: list[str] = field(default_factory=list)


def week_of(ts: datetime) -> tuple[str, str]:
    """ISO week label (2026-W09) and its Monday."""
    year, week, _ = ts.isocalendar()
    monday = (ts - timedelta(days=ts.weekday())).date()
    return f"{year}-W{week:02d}", monday.isoformat()


def _atoms(line: Mapping[str, Any], attached: str) -> frozenset[tuple[str, str]]:
    """What a note line covers: its request ids when it names them, else the session's work
    in its own commit, or in each commit it was carried from."""
    ids = rid_set(line)
    if ids:
        return frozenset(("request", i) for i in ids)
    carried = line.get("carried_from")
    if isinstance(carried, list) and carried:
        return frozenset(("commit", str(c)) for c in carried)
    return frozenset({("commit", str(line.get("commit") or attached))})


def line_row(repo: RepoNotes, commit: NotedCommit, line: Mapping[str, Any]) -> dict[str, Any]:
    """A note line as a roll-up row: the receipt row plus where and when it belongs. What
    git says of the commit (its PR, its branch) wins; the line's own `pr` and `branch` fill
    in when git cannot tell (a force-pushed or orphaned commit)."""
    row = line_to_row(line)
    time = parse_ts(line.get("last")) or parse_ts(line.get("first")) or commit.authored
    pr = line.get("pr")
    branch = line.get("branch")
    row.update(
        repo=repo.name,
        commit=commit.sha,
        atoms=_atoms(line, commit.sha),
        carried_from=line.get("carried_from"),
        pr=commit.pr
        if commit.pr is not None
        else (pr if isinstance(pr, int) and not isinstance(pr, bool) else None),
        branch=commit.branch or (branch if isinstance(branch, str) and branch else None),
        author=commit.author or UNKNOWN,
        author_email=(commit.author_email or "").lower() or None,
        time=time,
        reachable=commit.reachable,
        id=str(row.get("id")),
        agent=str(row.get("agent")),
    )
    row["week"], row["week_start"] = week_of(time) if time else (UNKNOWN, None)
    return row


def counted_rows(repo: RepoNotes, problems: Problems) -> list[dict[str, Any]]:
    """The rows of one repository that count: per session, biggest coverage first, each
    request counted once (see the module docstring)."""
    by_session: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for commit in repo.commits:
        problems.missing_commits += not commit.exists
        for line in commit.lines:
            row = line_row(repo, commit, line)
            by_session.setdefault((row["agent"], row["id"]), []).append(row)
    out = []
    for rows in by_session.values():
        # biggest coverage first; among equals the line on a merged PR's commit, then one
        # reachable from a ref, then the bigger one
        rows.sort(
            key=lambda r: (
                -len(r["atoms"]),
                r["pr"] is None,
                not r["reachable"],
                -int(r["requests"] or 0),
                r["commit"],
            )
        )
        taken: set[tuple[str, str]] = set()
        for row in rows:
            if row["atoms"] <= taken:
                problems.duplicate_lines += 1
            elif row["atoms"] & taken:
                problems.overlapping_lines += 1
            else:
                taken |= row["atoms"]
                out.append(row)
    out.sort(key=lambda r: (r["time"] or datetime.min.replace(tzinfo=timezone.utc), r["commit"]))
    return out


def model_parts(row: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A row's figures by model: exact for one model or when the line splits its figures
    per model; otherwise the whole row under the mix ("a + b"), never a guessed split."""
    models = row.get("models") or {}
    if models and all(isinstance(v, Mapping) for v in models.values()):
        return [(str(m), dict(v)) for m, v in sorted(models.items())]
    names = sorted(str(m) for m in models) or [UNKNOWN]
    return [(" + ".join(names), dict(row))]


def pr_label(row: Mapping[str, Any]) -> str:
    if row.get("pr") is not None:
        return f"#{row['pr']}"
    return str(row.get("branch") or UNKNOWN)


def _commits_of(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """The commits the counted rows stand for: a carried line stands for the commits it
    was carried from."""
    out: set[str] = set()
    for r in rows:
        carried = r.get("carried_from")
        if isinstance(carried, list) and carried:
            out.update(str(c) for c in carried)
        elif any(a[0] == "request" for a in r["atoms"]):
            out.add(r["commit"])
        else:
            out.update(a[1] for a in r["atoms"] if a[0] == "commit")
    return out


def _summary(rows: Sequence[Mapping[str, Any]], waste: Mapping[int, float]) -> dict[str, Any]:
    return {
        **sum_rows(rows),
        "sessions": len({(r["repo"], r["agent"], r["id"]) for r in rows}),
        "commits": len({(r["repo"], c) for r in rows for c in _commits_of([r])}),
        "wasted_usd": round(sum(waste.get(id(r), 0.0) for r in rows), 6),
    }


def _group(
    rows: Sequence[dict[str, Any]],
    key: Callable[[dict[str, Any]], tuple[Any, ...]],
    names: Sequence[str],
    waste: Mapping[int, float],
) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return [{**dict(zip(names, k)), **_summary(v, waste)} for k, v in groups.items()]


def _by_cost(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda g: (-(g.get("cost_usd") or 0.0), -g["requests"]))


def _by_model(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    parts: dict[str, list[dict[str, Any]]] = {}
    sessions: dict[str, set[tuple[str, str, str]]] = {}
    for row in rows:
        for label, figures in model_parts(row):
            parts.setdefault(label, []).append(figures)
            sessions.setdefault(label, set()).add((row["repo"], row["agent"], row["id"]))
    return _by_cost(
        [
            {"model": label, **sum_rows(items), "sessions": len(sessions[label])}
            for label, items in parts.items()
        ]
    )


def breakdowns(rows: Sequence[dict[str, Any]], waste: Mapping[int, float]) -> dict[str, Any]:
    by_author = _group(rows, lambda r: (r["author"], r["author_email"]), ("author", "email"), waste)
    by_pr = _group(
        rows, lambda r: (r["repo"], r["pr"], r["branch"]), ("repo", "pr", "branch"), waste
    )
    for item in by_pr:
        item["label"] = pr_label(item)
    weeks = _group(rows, lambda r: (r["week"], r["week_start"]), ("week", "week_start"), waste)
    return {
        "repo": _by_cost(_group(rows, lambda r: (r["repo"],), ("repo",), waste)),
        "author": _by_cost(by_author),
        "agent": _by_cost(_group(rows, lambda r: (r["agent"],), ("agent",), waste)),
        "model": _by_model(rows),
        "week": sorted(weeks, key=lambda g: str(g["week"])),
        "pr": _by_cost(by_pr),
    }


def requests_by_model(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        for model, value in (row.get("models") or {}).items():
            n = value.get("requests", 0) if isinstance(value, Mapping) else value
            counts[str(model)] = counts.get(str(model), 0) + int(n or 0)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def team_findings(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[int, float]]:
    """Each finding once (a session's findings ride on every one of its rows), placed on the
    session's earliest counted row; and the waste each row carries."""
    seen: set[tuple[str, str, str, str]] = set()
    found: list[dict[str, Any]] = []
    waste: dict[int, float] = {}
    for row in rows:
        for f in row.get("findings") or []:
            if not isinstance(f, Mapping):
                continue
            key = (row["repo"], row["agent"], row["id"], str(f.get("id") or f.get("title")))
            if key in seen:
                continue
            seen.add(key)
            usd = float(f.get("wasted_usd") or 0.0)
            waste[id(row)] = waste.get(id(row), 0.0) + usd
            found.append(
                {
                    "id": str(f.get("id") or ""),
                    "detector": str(f.get("detector") or UNKNOWN),
                    "title": str(f.get("title") or ""),
                    "lesson": str(f.get("lesson") or ""),
                    "wasted_tokens": int(f.get("wasted_tokens") or 0),
                    "wasted_usd": round(usd, 6),
                    "confidence": float(f.get("confidence") or 0.0),
                    "repo": row["repo"],
                    "session": row["id"],
                    "agent": row["agent"],
                    "commit": row["commit"],
                    "pr": row["pr"],
                    "branch": row["branch"],
                    "week": row["week"],
                    "time": row["time"],
                }
            )
    return found, waste


def waste_by_cause(findings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    causes: dict[str, dict[str, Any]] = {}
    for f in findings:
        c = causes.setdefault(
            f["detector"],
            {"cause": f["detector"], "findings": 0, "wasted_tokens": 0, "wasted_usd": 0.0},
        )
        c["findings"] += 1
        c["wasted_tokens"] += f["wasted_tokens"]
        c["wasted_usd"] += f["wasted_usd"]
    for c in causes.values():
        c["wasted_usd"] = round(c["wasted_usd"], 6)
    return sorted(causes.values(), key=lambda c: (-c["wasted_usd"], c["cause"]))


def team_lessons(findings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    lessons: dict[str, dict[str, Any]] = {}
    for f in findings:
        text = " ".join(f["lesson"].split())
        if not text:
            continue
        item = lessons.setdefault(
            lesson_id(text),
            {
                "id": lesson_id(text),
                "text": text,
                "count": 0,
                "saved_usd": 0.0,
                "saved_tokens": 0,
                "detectors": [],
                "repos": [],
                "sessions": 0,
            },
        )
        item["count"] += 1
        item["saved_usd"] += f["wasted_usd"]
        item["saved_tokens"] += f["wasted_tokens"]
        for key, value in (("detectors", f["detector"]), ("repos", f["repo"])):
            if value not in item[key]:
                item[key].append(value)
    for f_item in lessons.values():
        f_item["saved_usd"] = round(f_item["saved_usd"], 6)
        f_item["sessions"] = len(
            {
                (f["repo"], f["session"])
                for f in findings
                if lesson_id(" ".join(f["lesson"].split())) == f_item["id"]
            }
        )
    return sorted(lessons.values(), key=lambda x: (-x["saved_usd"], -x["count"], x["text"]))


def commit_costs(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], float]:
    """Cost per original commit: a carried line's cost is spread evenly over the commits it
    was carried from (the line does not say more)."""
    costs: dict[tuple[str, str], float] = {}
    for row in rows:
        commits = sorted(_commits_of([row]))
        share = float(row.get("cost_usd") or 0.0) / len(commits)
        for c in commits:
            costs[(row["repo"], c)] = costs.get((row["repo"], c), 0.0) + share
    return costs


def outliers(
    rows: Sequence[dict[str, Any]], by_pr: Sequence[Mapping[str, Any]], defaults: Mapping[str, str]
) -> list[dict[str, Any]]:
    """PRs (and unmerged branches) whose cost per commit is at least OUTLIER_FACTOR times
    their repository's median cost per commit."""
    costs = commit_costs(rows)
    medians: dict[str, float] = {}
    for repo in {r["repo"] for r in rows}:
        values = [v for (name, _), v in costs.items() if name == repo and v > 0]
        if len(values) >= OUTLIER_MIN_COMMITS:
            medians[repo] = statistics.median(values)
    out = []
    for item in by_pr:
        median = medians.get(item["repo"])
        is_default = item["pr"] is None and item["branch"] == defaults.get(item["repo"])
        if not median or is_default or not item["commits"] or item["branch"] == UNKNOWN:
            continue
        per_commit = float(item.get("cost_usd") or 0.0) / item["commits"]
        if per_commit >= OUTLIER_FACTOR * median:
            out.append(
                {
                    "repo": item["repo"],
                    "pr": item["pr"],
                    "branch": item["branch"],
                    "label": item["label"],
                    "cost_usd": item["cost_usd"],
                    "commits": item["commits"],
                    "cost_per_commit_usd": round(per_commit, 6),
                    "repo_median_per_commit_usd": round(median, 6),
                    "ratio": round(per_commit / median, 2),
                }
            )
    return sorted(out, key=lambda o: -o["ratio"])


def median_pr_cost(rows: Sequence[dict[str, Any]], exclude: int | None = None) -> dict[str, Any]:
    """The median cost of the repository's PRs (by PR number), leaving out `exclude`."""
    costs: dict[int, float] = {}
    for row in rows:
        if row["pr"] is not None and row["pr"] != exclude:
            costs[row["pr"]] = costs.get(row["pr"], 0.0) + float(row.get("cost_usd") or 0.0)
    return {
        "prs": len(costs),
        "median_pr_cost_usd": round(statistics.median(costs.values()), 6) if costs else None,
    }


def lesson_blocks(repo: RepoNotes) -> list[dict[str, Any]]:
    """Each lesson in a tokentrail block of AGENTS.md / CLAUDE.md at the default branch (or
    HEAD), with the commit that added its line."""
    rev = repo.default_branch or "HEAD"
    found = []
    for name in LESSON_FILES:
        text = run_git(repo.root, "show", f"{rev}:{name}", check=False)
        start = text.find(BEGIN.split(" (")[0])
        end = text.find(END, start)
        if start < 0 or end < 0:
            continue
        for raw in text[start:end].splitlines()[1:]:
            lesson = raw.strip()
            if not lesson.startswith("- ") or lesson == "- No wasteful patterns found yet.":
                continue
            lesson = " ".join(lesson[2:].split())
            log = run_git(
                repo.root,
                "log",
                "--reverse",
                "--format=%H %ct",
                "-S",
                lesson,
                rev,
                "--",
                name,
                check=False,
            ).split()
            if len(log) < 2:
                continue
            landed = datetime.fromtimestamp(int(log[1]), tz=timezone.utc)
            found.append(
                {
                    "file": name,
                    "text": lesson,
                    "id": lesson_id(lesson),
                    "commit": log[0],
                    "landed": landed,
                }
            )
    return found


def lesson_effects(
    repo: RepoNotes, rows: Sequence[Mapping[str, Any]], findings: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """For each lesson in the repository's AGENTS.md/CLAUDE.md: how often its waste occurred
    per week before and after the commit that added it. `findings` counts findings teaching
    exactly this lesson; `class_findings` counts every finding of the detectors behind it."""
    mine = [f for f in findings if f["repo"] == repo.name and f["time"] is not None]
    times = [r["time"] for r in rows if r["repo"] == repo.name and r["time"] is not None]
    if not times:
        return []
    first, last = min(times), max(times)
    out = []
    for block in lesson_blocks(repo):
        same = [f for f in mine if lesson_id(" ".join(f["lesson"].split())) == block["id"]]
        detectors = sorted({f["detector"] for f in same})
        klass = [f for f in mine if f["detector"] in detectors]
        landed: datetime = block["landed"]
        weeks: dict[str, dict[str, Any]] = {}
        day = first
        while day <= last + timedelta(days=6):
            label, monday = week_of(day)
            weeks.setdefault(
                label,
                {
                    "week": label,
                    "week_start": monday,
                    "findings": 0,
                    "class_findings": 0,
                    "wasted_usd": 0.0,
                },
            )
            day += timedelta(days=7)
        for f in same:
            weeks[f["week"]]["findings"] += 1
            weeks[f["week"]]["wasted_usd"] = round(
                weeks[f["week"]]["wasted_usd"] + f["wasted_usd"], 6
            )
        for f in klass:
            weeks[f["week"]]["class_findings"] += 1
        before_weeks = max(_weeks_between(first, landed), 1)
        after_weeks = max(_weeks_between(landed, last), 1)
        before = [f for f in same if f["time"] < landed]
        after = [f for f in same if f["time"] >= landed]
        out.append(
            {
                "repo": repo.name,
                "file": block["file"],
                "lesson": block["text"],
                "lesson_id": block["id"],
                "landed_commit": block["commit"],
                "landed": iso(landed),
                "detectors": detectors,
                "before": {
                    "findings": len(before),
                    "weeks": before_weeks,
                    "per_week": round(len(before) / before_weeks, 3),
                    "class_findings": sum(f["time"] < landed for f in klass),
                },
                "after": {
                    "findings": len(after),
                    "weeks": after_weeks,
                    "per_week": round(len(after) / after_weeks, 3),
                    "class_findings": sum(f["time"] >= landed for f in klass),
                },
                "weekly": sorted(weeks.values(), key=lambda w: str(w["week_start"])),
            }
        )
    return out


def _weeks_between(a: datetime, b: datetime) -> int:
    """Weeks touched from a to b (0 when b is before a)."""
    if b < a:
        return 0
    start = a.date() - timedelta(days=a.weekday())
    end = b.date() - timedelta(days=b.weekday())
    return (end - start).days // 7 + 1


def _in_window(row: Mapping[str, Any], since: datetime | None, until: datetime | None) -> bool:
    time = row["time"]
    if time is None:
        return since is None and until is None
    return (since is None or time >= since) and (until is None or time <= until)


@dataclass
class RollupData:
    """What `build_rollup` computed, before it becomes the document."""

    repos: list[RepoNotes]
    rows: list[dict[str, Any]]
    problems: Problems


def collect(
    paths: Sequence[Path], ref: str, since: datetime | None = None, until: datetime | None = None
) -> RollupData:
    repos: list[RepoNotes] = []
    rows: list[dict[str, Any]] = []
    problems = Problems()
    names: dict[str, int] = {}
    for path in paths:
        repo = read_repo_notes(path, ref)
        names[repo.name] = names.get(repo.name, 0) + 1
        if names[repo.name] > 1:  # two folders named alike: keep them apart
            repo.name = f"{repo.name}~{names[repo.name]}"
        repos.append(repo)
        rows.extend(r for r in counted_rows(repo, problems) if _in_window(r, since, until))
    return RollupData(repos, rows, problems)


def build_rollup(
    paths: Sequence[Path],
    ref: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    fetched: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The roll-up document (kind "rollup") over the notes of the repositories at `paths`."""
    data = collect(paths, ref, since, until)
    rows, problems = data.rows, data.problems
    findings, waste = team_findings(rows)
    by = breakdowns(rows, waste)
    defaults = {r.name: (r.default_branch or "").split("/", 1)[-1] for r in data.repos}
    pricing = sorted({str(r["pricing"]) for r in rows if r.get("pricing")})
    if problems.overlapping_lines:
        problems.warnings.append(
            f"{problems.overlapping_lines} note line(s) overlap lines already counted only in "
            "part; left out rather than counted twice"
        )
    if problems.missing_commits:
        problems.warnings.append(
            f"{problems.missing_commits} noted commit(s) are not in the local clones (deleted "
            "branches?); their lines count, without author"
        )
    effects = [e for repo in data.repos for e in lesson_effects(repo, rows, findings)]
    totals = _summary(rows, waste)
    return {
        "kind": "rollup",
        "rollup_version": ROLLUP_VERSION,
        "source": "notes",
        "notes_ref": ref,
        "since": iso(since),
        "until": iso(until),
        "pricing": pricing,
        "repos": [
            {
                "name": r.name,
                "path": str(r.root),
                "default_branch": r.default_branch,
                "noted_commits": len(r.commits),
                "foreign_lines": r.foreign_lines,
                **({"fetch": fetched[str(r.root)]} if fetched and str(r.root) in fetched else {}),
            }
            for r in data.repos
        ],
        "totals": {
            **totals,
            "repos": len(data.repos),
            "authors": len(by["author"]),
            "prs": sum(1 for g in by["pr"] if g["pr"] is not None),
        },
        "requests_by_model": requests_by_model(rows),
        "by": by,
        "waste": {
            "wasted_usd": round(sum(f["wasted_usd"] for f in findings), 6),
            "findings": len(findings),
            "by_cause": waste_by_cause(findings),
        },
        "lessons": team_lessons(findings),
        "lesson_effects": effects,
        "outliers": outliers(rows, by["pr"], defaults),
        "outlier_rule": f"cost per commit >= {OUTLIER_FACTOR:g} x the repository's median "
        f"cost per commit (repositories with >= {OUTLIER_MIN_COMMITS} priced commits)",
        "skipped": {
            "duplicate_lines": problems.duplicate_lines,
            "overlapping_lines": problems.overlapping_lines,
            "missing_commits": problems.missing_commits,
        },
        "warnings": problems.warnings,
    }


def pr_baseline(path: Path, ref: str, pr: int | None, cost: float | None) -> dict[str, Any] | None:
    """The PR comment's one-line baseline: this PR's cost beside the median cost of the
    repository's other PRs, from the same notes. None when there is no other PR yet."""
    median = median_pr_cost(collect([path], ref).rows, exclude=pr)
    if median["median_pr_cost_usd"] is None:
        return None
    return {"pr_cost_usd": cost, **median}


def repo_paths(given: tuple[str, ...]) -> list[Path]:
    """Folders as given; a file names one folder per line (`#` comments, blank lines, paths
    relative to the file's own folder)."""
    out: list[Path] = []
    for item in given or (".",):
        path = Path(item)
        if path.is_file():
            try:
                listing = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TokentrailError(
                    "repo_list_unreadable", f"cannot read {path}: {exc}"
                ) from None
            for line in listing.splitlines():
                entry = line.split("#", 1)[0].strip()
                if entry:
                    target = Path(entry).expanduser()
                    out.append(target if target.is_absolute() else path.parent / target)
        else:
            out.append(path)
    return out


def fetch_all(paths: list[Path], ref: str) -> dict[str, str]:
    """Fetch each repository's branches and notes from its remote: what happened, per root."""
    status: dict[str, str] = {}
    for path in paths:
        root = open_repo(path).root
        try:
            remote = pick_remote(root, None)
        except TokentrailError as exc:
            status[str(root)] = f"not fetched: {exc.message}"
            continue
        run_git(root, "fetch", "--quiet", remote)
        status[str(root)] = f"{remote}: notes {fetch_notes(root, ref, remote)}"
    return status
