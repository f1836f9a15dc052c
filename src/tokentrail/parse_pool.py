"""Parse the sessions the cache does not hold, on every core.

A cold run over a large history is CPU-bound in the parsers; with more than a few dozen
megabytes to read, worker processes parse (and write the cache entries) in parallel.
Workers are forked, so nothing is re-imported; where fork is unavailable or unsafe
(Windows, macOS), or an adapter cannot be sent to a worker, parsing stays in-process.
`TOKENTRAIL_JOBS=N` sets the number of workers (1 turns this off).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tokentrail.cache import SessionCache
from tokentrail.hookspecs import Adapter
from tokentrail.model import Session, SessionRef
from tokentrail.plugins import BUILTIN_PLUGINS, contained, describe_failure

MIN_FILES = 16
MIN_BYTES = 32 << 20


@dataclass
class Job:
    plugin: str
    adapter: Adapter
    ref: SessionRef
    version: str


def _parse(
    adapter: Adapter, ref: SessionRef, version: str, folder: Path | None, third_party: bool = True
) -> Session | str:
    """A parsed (and cached) session, or the error text of an adapter that failed (raised,
    even SystemExit, or ran past the plugin time limit). What it prints is discarded."""
    try:
        with contained(third_party):
            session = adapter.parse(ref)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a plugin must not end the run, whatever it raises
        return describe_failure(exc)
    if not isinstance(session, Session):
        return f"returned {type(session).__name__}, not a Session"
    SessionCache(folder).put(ref, version, session)
    return session


def _work(args: tuple[Adapter, SessionRef, str, Path | None, bool]) -> Session | str:
    return _parse(*args)


def workers(jobs: Sequence[Job]) -> int:
    """How many processes to use for these jobs (1: parse in-process)."""
    wanted = os.environ.get("TOKENTRAIL_JOBS")
    count = int(wanted) if wanted and wanted.isdigit() else (os.cpu_count() or 1)
    big = len(jobs) >= MIN_FILES and sum(j.ref.size for j in jobs) >= MIN_BYTES
    forkable = sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
    if count <= 1 or not big or not forkable:
        return 1
    try:
        pickle.dumps([j.adapter for j in jobs])
    except Exception:
        return 1  # a third-party adapter that cannot travel to a worker
    return count


def _third(job: Job) -> bool:
    return job.plugin not in BUILTIN_PLUGINS


def parse_all(jobs: Sequence[Job], cache: SessionCache) -> Iterator[tuple[Job, Session | str]]:
    """Each job with its session (or error text), in the order given."""
    count = workers(jobs)
    if count == 1:
        for job in jobs:
            yield job, _parse(job.adapter, job.ref, job.version, cache.folder, _third(job))
        return
    args = [(j.adapter, j.ref, j.version, cache.folder, _third(j)) for j in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        yield from zip(jobs, pool.map(_work, args, chunksize=8))
