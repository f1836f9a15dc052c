"""tokentrail against ccusage (and against a bare interpreter) on the same machine, as
ratios: `python benchmarks/ratios.py [--n 5000] [--rounds 5]`.

The home: N Claude Code sessions and N/10 Codex rollouts (benchmarks/generate.py), ~3 % of
them run in a real git repository beside them (`out/check-N/shop-api`, a feature branch
with commits over the sessions' weeks). Generated once under benchmarks/out/ and reused.

Every figure is timed in rounds; in each round tokentrail and what it is compared with run
one after the other (their order alternating), so a busy machine slows both alike. Printed
per figure: the median wall time of each side and the ratio of the medians; peak RSS is the
largest of the rounds (os.wait4, the process and the children it waited for).

- `sessions --json`, cold (a fresh, empty index every round) and warm, vs `ccusage session
  --json --offline` over the whole home;
- `report` and `check` in the repository with a warm index, vs the same ccusage scan, and
  `check` vs `python -c pass` with the interpreter tokentrail runs on (what a hook costs
  beyond starting Python); also `check` after the live session grew (the usual commit).

ccusage is 20.0.24, installed by `npx -y -p ccusage@20.0.24` and run through its launcher
(`ccusage`, what `npm i -g ccusage` gives; npx's own start-up is not timed). Totals are
checked against the generator's manifest and ccusage's own sums before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate as generate_mod  # noqa: E402

CCUSAGE = "ccusage@20.0.24"
BRANCH = "feature/retry-logic"  # one of the branches generate.py gives target sessions
TOKEN_KEYS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


# -- the home -----------------------------------------------------------------------------


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


_LAST_TIME = re.compile(rb'"timestamp":\s*"([^"]+)"')


def age_logs(logs: Path) -> int:
    """Give every log the modification time of its last record, as an agent's own writes
    leave it (a freshly generated home would otherwise look like all of it was written in
    the last minutes, which no real home does: tokentrail keeps resume points only for
    logs written within a day). Returns how many files were touched."""
    touched = 0
    for path in logs.rglob("*.jsonl"):
        with path.open("rb") as fh:
            fh.seek(max(path.stat().st_size - 65536, 0))
            found = _LAST_TIME.findall(fh.read())
        if not found:
            continue
        when = datetime.fromisoformat(found[-1].decode().replace("Z", "+00:00")).timestamp()
        if abs(path.stat().st_mtime - when) > 1:
            os.utime(path, (when, when))
            touched += 1
    return touched


def home(n: int, out: Path) -> tuple[Path, Path, dict[str, Any]]:
    """(repo, log tree, manifest), generated on first use."""
    root = out / f"check-{n}"
    repo = (root / "shop-api").resolve()
    logs = root / "tree"
    manifest_path = logs / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if manifest.get("n") != n or manifest.get("target_repo") != str(repo):
        print(f"generating {n} sessions in {logs} (target {repo}) ...", flush=True)
        generate_mod.TARGET_REPO = str(repo)  # read by the writers (forked workers)
        manifest = generate_mod.generate(n, logs)
    make_repo(repo)
    age_logs(logs)
    return repo, logs, manifest


# -- running things -----------------------------------------------------------------------


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, bytes]:
    """Wall seconds, peak RSS in MB (wait4: the process and its waited-for children) and
    stdout of one run."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            err.seek(0)
            raise SystemExit(f"{cmd} failed: {err.read().decode()[-2000:]}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def ccusage_path() -> str:
    proc = subprocess.run(
        ["npx", "-y", "-p", CCUSAGE, "-c", "command -v ccusage"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    path = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not path:
        raise SystemExit(f"cannot install {CCUSAGE} with npx: {proc.stderr[-2000:]}")
    return path


def envs(logs: Path, scratch: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(tokentrail's env, ccusage's env): the same logs, empty homes, no third-party
    plugins (none are installed in the benchmark's environment either way). Python may
    write its bytecode, as on a user's machine (an environment that forbids it would time
    compiling every module on every run)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TOKENTRAIL_", "GIT_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    base.update(CLAUDE_CONFIG_DIR=str(logs / "claude"), CODEX_HOME=str(logs / "codex"))
    ours = {**base, "HOME": str(scratch / "home"), "TOKENTRAIL_CACHE_DIR": str(scratch / "idx")}
    theirs = {**base, "HOME": str(scratch / "cc-home")}
    for folder in ("home", "cc-home"):
        (scratch / folder).mkdir(parents=True, exist_ok=True)
    return ours, theirs


Run = Callable[[], tuple[float, float, bytes]]


def rounds(
    sides: dict[str, Run], count: int, before: Callable[[], None] | None = None
) -> dict[str, dict[str, Any]]:
    """Each side once per round, alternating which goes first; medians and peaks."""
    walls: dict[str, list[float]] = {name: [] for name in sides}
    peaks: dict[str, float] = dict.fromkeys(sides, 0.0)
    names = list(sides)
    for r in range(count):
        for name in names if r % 2 == 0 else list(reversed(names)):
            if before is not None:
                before()
            wall, rss, _ = sides[name]()
            walls[name].append(wall)
            peaks[name] = max(peaks[name], rss)
    return {
        name: {
            "median_s": round(statistics.median(walls[name]), 3),
            "runs_s": [round(w, 3) for w in walls[name]],
            "peak_rss_mb": round(peaks[name], 1),
        }
        for name in names
    }


def check_totals(doc: dict[str, Any], expected: dict[str, Any]) -> None:
    got = doc["totals"]
    keys = ("sessions", "requests", *TOKEN_KEYS, "cache_write_1h_tokens", "reasoning_tokens")
    wrong = [f"{k}: {got.get(k)} != {expected[k]}" for k in keys if got.get(k) != expected[k]]
    if wrong:
        raise SystemExit("tokentrail's totals are wrong: " + "; ".join(wrong))


def check_ccusage(doc: dict[str, Any], expected: dict[str, Any]) -> None:
    """ccusage must see the same sessions and tokens, or the comparison means nothing."""
    sums = {"sessions": 0, "input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
    for row in doc["session"]:
        sums["sessions"] += 1
        sums["input"] += row["inputTokens"]
        sums["cache_read"] += row["cacheReadTokens"]
        sums["cache_write"] += row["cacheCreationTokens"]
        sums["output"] += row["outputTokens"]
    want = expected["all"]
    codex_cached = expected["codex"]["cache_read_tokens"]
    same = (
        sums["sessions"] == want["sessions"]
        and sums["cache_read"] == want["cache_read_tokens"]
        and sums["cache_write"] == want["cache_write_tokens"]
        and sums["output"] == want["output_tokens"]
        and sums["input"] in (want["input_tokens"], want["input_tokens"] + codex_cached)
    )
    if not same:
        raise SystemExit(f"ccusage disagrees with the manifest: {sums} vs {want}")


def grow(session: Path, original: bytes, extra: bytes) -> Callable[[], None]:
    """Restore the live session, then append one more request (what a commit follows)."""

    def run() -> None:
        session.write_bytes(original + extra)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold-rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    repo, logs, manifest = home(args.n, args.out)
    expected = manifest["expected"]
    tokentrail = str(Path(sys.executable).parent / "tokentrail")
    import tokentrail as package

    # what `pip install` does for a user: bytecode compiled once, before any timing
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)],
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    cc = ccusage_path()
    scratch = Path(tempfile.mkdtemp(prefix="tokentrail-bench-"))
    try:
        ours, theirs = envs(logs, scratch)
        index = scratch / "idx"

        def run(cmd: list[str], env: dict[str, str], cwd: Path = repo) -> Run:
            return lambda: measure(cmd, env, cwd)

        scan = run([cc, "session", "--json", "--offline"], theirs, scratch)
        listing = run([tokentrail, "sessions", "--json"], ours, scratch)
        # correctness first
        shutil.rmtree(index, ignore_errors=True)
        check_totals(json.loads(listing()[2]), expected["all"])
        check_ccusage(json.loads(scan()[2]), expected)
        check_doc = json.loads(measure([tokentrail, "check", "--json"], ours, repo)[2])
        if check_doc.get("status") not in ("ok", "over_budget"):
            raise SystemExit(f"check did not run through: {check_doc}")
        results: dict[str, Any] = {
            "n": args.n,
            "sessions": expected["all"]["sessions"],
            "home_mb": round((manifest["bytes"]["claude"] + manifest["bytes"]["codex"]) / 1e6),
            "repo_sessions": expected["target"]["sessions"],
            "check_sessions": check_doc.get("sessions"),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        }

        def fresh() -> None:
            shutil.rmtree(index, ignore_errors=True)

        print("cold sessions --json ...", flush=True)
        results["cold_sessions"] = rounds(
            {"tokentrail": listing, "ccusage": scan}, args.cold_rounds, before=fresh
        )
        listing()  # fill the index
        print("warm sessions --json, report, check ...", flush=True)
        results["warm_sessions"] = rounds({"tokentrail": listing, "ccusage": scan}, args.rounds)
        report = run([tokentrail, "report"], ours)
        report()
        results["warm_report"] = rounds({"tokentrail": report, "ccusage": scan}, args.rounds)
        check = run([tokentrail, "check"], ours)
        check()
        bare = run([sys.executable, "-c", "pass"], ours)
        results["warm_check"] = rounds(
            {"tokentrail": check, "ccusage": scan, "python -c pass": bare}, args.rounds
        )
        from tokentrail.builtin.claude_code import project_slug

        live = max(
            (logs / "claude" / "projects" / project_slug(repo)).glob("*.jsonl"),
            key=lambda p: (p.stat().st_mtime, p.name),
        )
        original = live.read_bytes()
        last = original.rstrip(b"\n").rsplit(b"\n", 1)[-1] + b"\n"
        try:
            results["check_after_append"] = rounds(
                {"tokentrail": check, "python -c pass": bare},
                args.rounds,
                before=grow(live, original, last),
            )
        finally:
            live.write_bytes(original)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    (args.out / "ratios.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    return 0


def ratio(results: dict[str, Any], figure: str, against: str) -> str:
    ours = results[figure]["tokentrail"]["median_s"]
    theirs = results[figure][against]["median_s"]
    return f"{ours / theirs:.3f}x"


def print_table(results: dict[str, Any]) -> None:
    print(
        f"\n{results['sessions']:,} sessions ({results['home_mb']:,} MB), "
        f"{results['check_sessions']} of them in the repository; Python {results['python']}, "
        f"{results['cpus']} CPUs\n"
    )
    print("| figure | tokentrail s | compared with | its s | ratio |")
    print("|---|--:|---|--:|--:|")
    rows = [
        ("cold_sessions", "`sessions --json`, empty index", "ccusage"),
        ("warm_sessions", "`sessions --json`, warm index", "ccusage"),
        ("warm_report", "`report`, warm index", "ccusage"),
        ("warm_check", "`check`, warm index", "ccusage"),
        ("warm_check", "`check`, warm index", "python -c pass"),
        ("check_after_append", "`check`, live session grew", "python -c pass"),
    ]
    for figure, label, against in rows:
        r = results[figure]
        print(
            f"| {label} | {r['tokentrail']['median_s']:.3f} | {against} | "
            f"{r[against]['median_s']:.3f} | {ratio(results, figure, against)} |"
        )
    peak = max(
        results[f]["tokentrail"]["peak_rss_mb"]
        for f in results
        if isinstance(results[f], dict) and "tokentrail" in results[f]
    )
    cc_peak = max(
        results[f]["ccusage"]["peak_rss_mb"]
        for f in results
        if isinstance(results[f], dict) and "ccusage" in results[f]
    )
    print(f"\npeak RSS: tokentrail {peak:.0f} MB, ccusage {cc_peak:.0f} MB ({peak / cc_peak:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
