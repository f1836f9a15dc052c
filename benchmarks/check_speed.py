"""Time `tokentrail check` (the pre-commit hook) on a large synthetic machine:
`python benchmarks/check_speed.py [--n 5000] [--repeat 5] [--profile]`.

Generates (once, under benchmarks/out/check-<N>/) a tree of N Claude Code sessions plus
N/10 Codex rollouts whose ~3 % "target" sessions ran in `check-<N>/shop-api`, and makes
that folder a real git repo (main plus a feature branch the sessions worked on). Then
it times the CLI in a subprocess, as the hook runs it: cold (empty parse cache, and with
the cache disabled), warm (cache filled), and the bare start-up (`tokentrail --version`)
for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate as generate_mod  # noqa: E402
from run import best_of, env_for, measure, profile_cli  # noqa: E402

BRANCH = "feature/retry-logic"  # one of the branches generate.py gives sessions


def _git(repo: Path, *args: str, when: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
    )
    if when:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def make_repo(repo: Path) -> None:
    """main at 2026-01-01, then the feature branch with commits spread over the sessions'
    60 days (2026-01-05 + 60 d): most branch sessions are committed, the rest pending."""
    if (repo / ".git").is_dir():
        return
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("shop-api\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-q", "-m", "initial", when="2026-01-01T00:00:00+00:00")
    _git(repo, "checkout", "-q", "-b", BRANCH)
    for i, day in enumerate(("2026-01-20", "2026-02-05", "2026-02-20")):
        (repo / f"change{i}.txt").write_text(f"{i}\n")
        _git(repo, "add", f"change{i}.txt")
        _git(repo, "commit", "-q", "-m", f"change {i}", when=f"{day}T12:00:00+00:00")


def tree(n: int, out: Path) -> tuple[Path, Path, dict[str, Any]]:
    root = out / f"check-{n}"
    repo = (root / "shop-api").resolve()
    logs = root / "tree"
    manifest_path = logs / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if manifest.get("n") != n or manifest.get("target_repo") != str(repo):
        print(f"generating {n} sessions in {logs} (target {repo}) ...", flush=True)
        # generate.py reads its target folder from this module global (workers get the
        # project list as arguments), so the tree's target sessions ran in our real repo
        generate_mod.TARGET_REPO = str(repo)
        manifest = generate_mod.generate(n, logs)
    make_repo(repo)
    return repo, logs, manifest


def verdict_of(output: bytes) -> dict[str, Any]:
    """The check document, refusing to time a run that did not really check."""
    doc: dict[str, Any] = json.loads(output)
    if doc.get("status") not in ("ok", "over_budget"):
        raise SystemExit(f"check did not run through: {doc.get('status')} {doc.get('error')}")
    return doc


def timed(cmd: list[str], env: dict[str, str]) -> float:
    wall, _, output = measure(cmd, env)
    verdict_of(output)
    return wall


def _latest_session(logs: Path, repo: Path) -> Path:
    """The target repo's newest Claude Code session file (the one an agent is writing)."""
    folder = logs / "claude" / "projects" / re.sub(r"[^A-Za-z0-9]", "-", str(repo))
    return max(folder.glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name))


def profile(repo: Path, env: dict[str, str], top: int = 15) -> str:
    """cProfile of `tokentrail check --json` in this process, with `env`."""
    os.environ.update(env)
    os.chdir(repo)
    return profile_cli(["check", "--json"], top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile a warm check")
    args = parser.parse_args(argv)
    repo, logs, manifest = tree(args.n, args.out)
    exe = [sys.executable, "-m", "tokentrail"]
    check = [*exe, "check", "--json"]
    os.chdir(repo)  # measure() runs the CLI in our working directory, as a hook would be
    row: dict[str, Any] = {
        "n": args.n,
        "sessions_on_machine": manifest["expected"]["all"]["sessions"],
        "sessions_in_target": manifest["expected"]["target"]["sessions"],
        "mb_on_machine": round((manifest["bytes"]["claude"] + manifest["bytes"]["codex"]) / 1e6),
    }
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        startup = best_of([*exe, "--version"], env_for(logs), args.repeat)
        row["startup_version"] = {k: v for k, v in startup.items() if k != "output"}
        no_cache = best_of(check, env_for(logs, TOKENTRAIL_NO_CACHE="1"), args.repeat)
        doc = verdict_of(no_cache.pop("output"))
        row["check_no_cache"] = no_cache
        cold_runs = []
        for _ in range(args.repeat):
            shutil.rmtree(cache, ignore_errors=True)
            cold_runs.append(timed(check, env_for(logs, TOKENTRAIL_CACHE_DIR=str(cache))))
        row["check_cold_empty_cache_s"] = {
            "best": round(min(cold_runs), 3),
            "median": round(sorted(cold_runs)[len(cold_runs) // 2], 3),
        }
        warm_env = env_for(logs, TOKENTRAIL_CACHE_DIR=str(cache))
        warm = best_of(check, warm_env, args.repeat)
        warm_doc = verdict_of(warm.pop("output"))
        row["check_warm"] = warm
        row["cache_entries"] = sum(1 for _ in cache.rglob("*.pickle"))
        # the usual hook run: everything cached but the session the agent is writing to
        live = _latest_session(logs, repo)
        touched = []
        for i in range(args.repeat):
            stamp = live.stat().st_mtime + 1 + i
            os.utime(live, (stamp, stamp))
            touched.append(timed(check, warm_env))
        row["check_warm_one_session_changed_s"] = {
            "best": round(min(touched), 3),
            "median": round(sorted(touched)[len(touched) // 2], 3),
            "changed_mb": round(live.stat().st_size / 1e6, 2),
        }
        row["verdict"] = {
            "status": doc.get("status"),
            "sessions": doc.get("sessions"),
            "requests": (doc.get("totals") or {}).get("requests"),
            "same_when_warm": warm_doc.get("totals") == doc.get("totals"),
        }
        print(json.dumps(row, indent=2))
        if args.profile:
            print(profile(repo, warm_env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
