"""Time `tokentrail sessions --json` on large synthetic trees: `python benchmarks/run.py`.

For each size (default 1,000 and 5,000 Claude Code sessions, plus N/10 Codex rollouts) it
generates the tree once under benchmarks/out/ (reused afterwards), then measures wall time
and peak RSS of the CLI in a subprocess: every session without the parse cache (cold),
with a warm parse cache, and scoped to one repo (`--repo`). Totals are checked against
the generator's manifest. With `--ccusage` it also times `ccusage session --json
--offline` on the same tree and compares its token totals; `--profile` prints the top 10
functions by cumulative time for the first size.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

TOKEN_KEYS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


def tree(n: int, out: Path) -> tuple[Path, dict[str, Any]]:
    root = out / f"tree-{n}"
    manifest = root / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        if data.get("n") == n:
            return root, data
    print(f"generating {n} sessions in {root} ...", flush=True)
    return root, generate(n, root)


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """Wall seconds, peak RSS in MB and stdout of one run (rusage of that child only)."""
    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read() if proc.stderr else b""
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} failed ({proc.returncode}): {err.decode()[-2000:]}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def best_of(cmd: list[str], env: dict[str, str], repeat: int) -> dict[str, Any]:
    runs = [measure(cmd, env) for _ in range(repeat)]
    walls = [w for w, _, _ in runs]
    return {
        "wall_s_best": round(min(walls), 2),
        "wall_s_median": round(statistics.median(walls), 2),
        "peak_rss_mb": round(max(r for _, r, _ in runs), 1),
        "output": runs[-1][2],
    }


def check(doc: dict[str, Any], expected: dict[str, Any]) -> str:
    got = doc["totals"]
    keys = ("sessions", "requests", *TOKEN_KEYS, "cache_write_1h_tokens", "reasoning_tokens")
    wrong = [f"{k}: {got.get(k)} != {expected[k]}" for k in keys if got.get(k) != expected[k]]
    return "ok" if not wrong else "MISMATCH " + "; ".join(wrong)


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CLAUDE_CONFIG_DIR=str(root / "claude"),
        CODEX_HOME=str(root / "codex"),
        TOKENTRAIL_PLUGINS="",
        **extra,
    )
    return env


def run_ccusage(root: Path, repeat: int) -> dict[str, Any] | None:
    exe = shutil.which("ccusage")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as home:
        env = env_for(root, HOME=home)
        result = best_of([exe, "session", "--json", "--offline"], env, repeat)
    doc = json.loads(result.pop("output"))
    by_agent: dict[str, dict[str, float]] = {}
    for row in doc["session"]:
        agg = by_agent.setdefault(
            row["agent"],
            {"sessions": 0, "input": 0, "cache_read": 0, "cache_write": 0, "output": 0},
        )
        agg["sessions"] += 1
        agg["input"] += row["inputTokens"]
        agg["cache_read"] += row["cacheReadTokens"]
        agg["cache_write"] += row["cacheCreationTokens"]
        agg["output"] += row["outputTokens"]
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return {**result, "version": version.strip(), "by_agent": by_agent}


def ccusage_agrees(cc: dict[str, Any], expected: dict[str, Any]) -> str:
    notes = []
    for agent, key in (("claude", "claude"), ("codex", "codex")):
        got, want = cc["by_agent"].get(agent), expected[key]
        if got is None:
            notes.append(f"{agent}: missing")
            continue
        pairs = {
            "sessions": (got["sessions"], want["sessions"]),
            "input": (got["input"], want["input_tokens"]),
            "cache_read": (got["cache_read"], want["cache_read_tokens"]),
            "cache_write": (got["cache_write"], want["cache_write_tokens"]),
            "output": (got["output"], want["output_tokens"]),
        }
        bad = [f"{k} {a} vs {b}" for k, (a, b) in pairs.items() if a != b]
        notes.append(f"{agent}: " + ("same totals" if not bad else ", ".join(bad)))
    return "; ".join(notes)


def profile_cli(args: list[str], top: int) -> str:
    """cProfile of one tokentrail command run in this process, output discarded."""
    from tokentrail.cli import cli

    prof = cProfile.Profile()
    real_stdout, sys.stdout = sys.stdout, io.StringIO()
    try:
        prof.enable()
        try:
            cli.main(args, standalone_mode=False)
        except SystemExit:
            pass
        finally:
            prof.disable()
    finally:
        sys.stdout = real_stdout
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def profile(root: Path, top: int = 10) -> str:
    """cProfile of `tokentrail sessions --json` in this process (parse cache off)."""
    os.environ.update(env_for(root, TOKENTRAIL_NO_CACHE="1"))
    return profile_cli(["sessions", "--json"], top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ccusage", action="store_true", help="also time ccusage")
    parser.add_argument("--profile", action="store_true", help="cProfile the first size")
    args = parser.parse_args(argv)
    cli = [sys.executable, "-m", "tokentrail"]
    results = []
    for n in args.sizes:
        root, manifest = tree(n, args.out)
        expected = manifest["expected"]
        cache = root.parent / f"cache-{n}"
        shutil.rmtree(cache, ignore_errors=True)
        row: dict[str, Any] = {
            "n": n,
            "sessions_incl_codex": expected["all"]["sessions"],
            "bytes_total": manifest["bytes"]["claude"] + manifest["bytes"]["codex"],
            "bytes_target": manifest["bytes"]["target"],
            "claude_main_bytes_avg": manifest["claude_main_bytes_avg"],
        }
        cold = best_of(
            [*cli, "sessions", "--json"], env_for(root, TOKENTRAIL_NO_CACHE="1"), args.repeat
        )
        row["all_cold"] = cold
        row["all_cold"]["check"] = check(json.loads(cold.pop("output")), expected["all"])
        warm_env = env_for(root, TOKENTRAIL_CACHE_DIR=str(cache))
        first = measure([*cli, "sessions", "--json"], warm_env)
        row["all_cache_fill_s"] = round(first[0], 2)
        warm = best_of([*cli, "sessions", "--json"], warm_env, args.repeat)
        row["all_warm"] = warm
        row["all_warm"]["check"] = check(json.loads(warm.pop("output")), expected["all"])
        scoped = best_of(
            [*cli, "sessions", "--repo", manifest["target_repo"], "--json"],
            env_for(root, TOKENTRAIL_NO_CACHE="1"),
            args.repeat,
        )
        row["repo_cold"] = scoped
        row["repo_cold"]["check"] = check(json.loads(scoped.pop("output")), expected["target"])
        if args.ccusage:
            cc = run_ccusage(root, args.repeat)
            if cc is not None:
                cc["agrees"] = ccusage_agrees(cc, expected)
                row["ccusage"] = cc
        results.append(row)
        print(json.dumps(row, indent=2), flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n| sessions | MB read | run | wall s (best / median) | peak RSS MB | totals |")
    print("|---|---|---|---|---|---|")
    for row in results:
        mb = row["bytes_total"] / 1e6
        for name, label, size in (
            ("all_cold", "sessions --json, no cache", mb),
            ("all_warm", "sessions --json, warm cache", mb),
            ("repo_cold", "sessions --repo --json", row["bytes_target"] / 1e6),
            ("ccusage", "ccusage session --json --offline", mb),
        ):
            if name in row:
                r = row[name]
                print(
                    f"| {row['n']:,} | {size:,.0f} | {label} | {r['wall_s_best']} / "
                    f"{r['wall_s_median']} | {r['peak_rss_mb']} | "
                    f"{r.get('check') or r.get('agrees')} |"
                )
    if args.profile and results:
        print(profile(args.out / f"tree-{args.sizes[0]}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
