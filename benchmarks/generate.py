"""Generate a large synthetic log tree: `python benchmarks/generate.py N OUT_DIR`.

N Claude Code sessions spread over many project folders (most of them for other repos, as
on a real machine), about 268 KB per main session file on average (ccusage's reference
machine: 1,000 sessions = 268 MB), with split response lines, hook and agent progress
records, subagents in a fraction of them, plus N/10 Codex rollouts. Writes
OUT_DIR/claude (CLAUDE_CONFIG_DIR), OUT_DIR/codex (CODEX_HOME) and OUT_DIR/manifest.json
with the totals a correct parser must find, overall and for the target repo.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tokentrail.demo import (
    HAIKU,
    OPUS,
    SONNET,
    Compact,
    Event,
    Filler,
    Idle,
    Reply,
    Task,
    Totals,
    UserPrompt,
    WrittenSession,
    write_claude_session,
    write_codex_session,
)

TARGET_REPO = "/home/dev/src/shop-api"
MEAN_CALLS = 33  # ~8.3 KB written per call: 33 calls ≈ 268 KB per main file
EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
_NAMES = [
    "api",
    "billing",
    "web",
    "infra",
    "notes",
    "dotfiles",
    "scraper",
    "ml-lab",
    "blog",
    "cli",
    "tools",
    "dashboard",
    "mobile",
    "auth",
    "search",
    "etl",
    "docs",
    "game",
    "site",
    "bot",
]


def project_dirs(n_sessions: int) -> list[str]:
    count = max(6, n_sessions // 12)
    return [TARGET_REPO] + [f"/home/dev/src/{_NAMES[i % len(_NAMES)]}-{i}" for i in range(1, count)]


def _plan(index: int, n: int, projects: list[str]) -> dict[str, Any]:
    """Everything about session `index`, derived from its index only (reproducible)."""
    rng = random.Random(f"bench|{index}")
    # ~3 % of the sessions ran in the target repo; the rest are Zipf-spread over others
    if rng.random() < 0.03:
        cwd = projects[0]
    else:
        weights = [1 / (k + 1) for k in range(len(projects) - 1)]
        cwd = rng.choices(projects[1:], weights=weights)[0]
    calls = int(min(600, max(2, rng.lognormvariate(math.log(MEAN_CALLS) - 0.405, 0.9))))
    script: list[Event] = [UserPrompt("Work on the next task in TODO.md.")]
    left = calls - 1
    if rng.random() < 0.25 and left > 4:
        script += [Filler(2), Task("Explore the code", requests=rng.randint(3, 12), model=HAIKU)]
        left -= 3
    while left > 0:
        chunk = min(left, rng.randint(5, 40))
        script.append(Filler(chunk))
        left -= chunk
        roll = rng.random()
        if roll < 0.1:
            script.append(Idle(rng.randint(6, 90)))
        elif roll < 0.4:
            script.append(UserPrompt("Now continue with the tests."))
        elif roll < 0.43 and calls > 80:
            script.append(Compact())
    script.append(Reply())
    start = EPOCH + timedelta(minutes=rng.randint(0, 60 * 24 * 60))
    return {
        "cwd": cwd,
        "script": script,
        "start": start,
        "model": OPUS if rng.random() < 0.6 else SONNET,
        "branch": rng.choice(("main", "main", "feature/retry-logic", "fix/flaky-test")),
        "cache_ttl": "1h" if rng.random() < 0.2 else "5m",
    }


def _summary(w: WrittenSession) -> dict[str, Any]:
    return {"agent": w.agent, "id": w.id, "cwd": w.cwd, "bytes": w.bytes, **w.totals.as_dict()}


def _write_claude(args: tuple[Path, int, int, list[str]]) -> dict[str, Any]:
    out, index, n, projects = args
    plan = _plan(index, n, projects)
    w = write_claude_session(
        out / "claude",
        plan["cwd"],
        branch=plan["branch"],
        start=plan["start"],
        spacing=timedelta(seconds=random.Random(index).randint(20, 90)),
        model=plan["model"],
        seed=f"bench-{index}",
        events=plan["script"],
        cache_ttl=plan["cache_ttl"],
        placeholder_bug=0.1,
    )
    row = _summary(w)
    row["main_bytes"] = w.paths[0].stat().st_size
    return row


def _write_codex(args: tuple[Path, int, list[str]]) -> dict[str, Any]:
    out, index, projects = args
    rng = random.Random(f"bench-codex|{index}")
    cwd = projects[0] if rng.random() < 0.1 else rng.choice(projects[1:])
    calls = int(min(300, max(2, rng.lognormvariate(math.log(40), 0.8))))
    w = write_codex_session(
        out / "codex",
        cwd,
        branch=rng.choice(("main", "feature/retry-logic")),
        start=EPOCH + timedelta(minutes=rng.randint(0, 60 * 24 * 60)),
        seed=f"bench-codex-{index}",
        events=[UserPrompt("Fix the failing test."), Filler(calls - 1), Reply()],
    )
    return _summary(w)


def _sum(rows: list[dict[str, Any]]) -> dict[str, int]:
    total = Totals()
    for row in rows:
        total.add(Totals(**{k: row[k] for k in Totals().as_dict()}))
    return {"sessions": len(rows), **total.as_dict()}


def generate(n: int, out: Path, workers: int = 2) -> dict[str, Any]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    projects = project_dirs(n)
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        claude = list(
            pool.map(_write_claude, [(out, i, n, projects) for i in range(n)], chunksize=16)
        )
        codex = list(pool.map(_write_codex, [(out, i, projects) for i in range(max(1, n // 10))]))
    rows = claude + codex
    target = [r for r in rows if r["cwd"] == TARGET_REPO]
    manifest = {
        "n": n,
        "generated_in_s": round(time.perf_counter() - began, 1),
        "projects": len(projects),
        "target_repo": TARGET_REPO,
        "claude_main_bytes_avg": round(sum(r["main_bytes"] for r in claude) / len(claude)),
        "bytes": {
            "claude": sum(r["bytes"] for r in claude),
            "codex": sum(r["bytes"] for r in codex),
            "target": sum(r["bytes"] for r in target),
        },
        "expected": {
            "all": _sum(rows),
            "claude": _sum(claude),
            "codex": _sum(codex),
            "target": _sum(target),
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of Claude Code sessions")
    parser.add_argument("out", type=Path, help="output folder (replaced)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    manifest = generate(args.n, args.out, args.workers)
    json.dump({k: v for k, v in manifest.items() if k != "expected"}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
