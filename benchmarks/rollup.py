"""How long `tokentrail rollup` takes over many repositories: generates REPOS repositories
with PRS merged PRs each (two commits per PR, a note line per commit, merge commits on main)
with one `git fast-import` per repository, then times the roll-up in-process.

    .venv/bin/python benchmarks/rollup.py [--repos 50] [--prs 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import orjson

from tokentrail.rollup import build_rollup

REF = "refs/notes/tokentrail"
T0 = 1_767_600_000  # 2026-01-05


def _line(sha_mark: str, session: str, n: int, when: int) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    line = {
        "v": 1,
        "kind": "session",
        "commit": sha_mark,
        "id": session,
        "agent": "claude-code",
        "host": "bench",
        "link": "strong",
        "models": {"claude-sonnet-4-5": 10 + n % 7},
        "requests": 10 + n % 7,
        "input_tokens": 100 * n,
        "cache_read_tokens": 20000 + n,
        "cache_write_tokens": 3000,
        "cache_write_1h_tokens": 0,
        "output_tokens": 900,
        "reasoning_tokens": 0,
        "web_search_requests": 0,
        "cost_usd": 0.05 + (n % 13) / 100,
        "unpriced_requests": 0,
        "output_lower_bound_requests": 0,
        "subagent_requests": 0,
        "first": stamp,
        "last": stamp,
        "pricing": "bench",
        "findings": [],
    }
    return orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n"


def make_repo(path: Path, prs: int, seed: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    out: list[bytes] = []
    mark = 0

    def commit(ref: str, message: str, when: int, parents: list[int], author: str) -> int:
        nonlocal mark
        mark += 1
        body = message.encode()
        out.append(f"commit {ref}\nmark :{mark}\n".encode())
        out.append(f"author {author} <{author.lower()}@example.com> {when} +0000\n".encode())
        out.append(f"committer {author} <{author.lower()}@example.com> {when} +0000\n".encode())
        out.append(f"data {len(body)}\n".encode() + body + b"\n")
        for i, p in enumerate(parents):
            out.append(f"{'from' if i == 0 else 'merge'} :{p}\n".encode())
        out.append(f"M 644 inline f{mark}.txt\ndata 2\n{mark % 10}\n\n".encode())
        return mark

    main = commit("refs/heads/main", "initial", T0, [], "Ada")
    noted: list[tuple[int, str, int, int]] = []
    for pr in range(1, prs + 1):
        when = T0 + pr * 86400
        author = ("Ada", "Bo", "Cy")[pr % 3]
        c1 = commit(f"refs/heads/feat-{pr}", f"work {pr} a", when, [main], author)
        c2 = commit(f"refs/heads/feat-{pr}", f"work {pr} b", when + 600, [c1], author)
        noted += [(c1, f"s{seed}-{pr}-a", pr, when), (c2, f"s{seed}-{pr}-b", pr + 1, when + 600)]
        main = commit(
            "refs/heads/main",
            f"Merge pull request #{pr} from team/feat-{pr}",
            when + 3600,
            [main, c2],
            author,
        )
    out.append(
        f"commit {REF}\ncommitter Notes <n@example.com> {T0} +0000\ndata 5\nnotes\n".encode()
    )
    for m, session, n, when in noted:
        text = _line(f"{m}", session, n, when)
        out.append(f"N inline :{m}\ndata {len(text)}\n".encode() + text + b"\n")
    out.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(out), check=True)
    for pr in range(1, prs + 1):
        subprocess.run(["git", "branch", "-q", "-D", f"feat-{pr}"], cwd=path, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--prs", type=int, default=20)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="tokentrail-rollup-"))
    start = time.perf_counter()
    paths = []
    for i in range(args.repos):
        path = root / f"repo-{i:03d}"
        if not path.exists():
            make_repo(path, args.prs, i)
        paths.append(path)
    built = time.perf_counter() - start
    start = time.perf_counter()
    doc = build_rollup(paths, REF)
    took = time.perf_counter() - start
    t = doc["totals"]
    print(f"generated {args.repos} repositories x {args.prs} PRs in {built:.1f}s ({root})")
    print(
        f"rollup: {took:.2f}s for {t['repos']} repos, {t['prs']} PRs, {t['commits']} commits, "
        f"{t['sessions']} sessions, {t['requests']} requests, ${t['cost_usd']:,.2f}"
    )


if __name__ == "__main__":
    main()
