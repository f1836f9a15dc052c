"""Read the sessions the index does not hold (or holds an older state of) into the index,
on every core.

A cold run over a large history is CPU-bound in the parsers. With more than a few dozen
megabytes to read, forked worker processes take size-balanced chunks of sessions, parse
them and write them straight into the index: nothing but session ids comes back, so no
session is pickled across processes. A worker that dies (killed, out of memory) costs only
time: whatever its chunks had not written is parsed again in this process. Where fork is
unavailable or unsafe (Windows, macOS), or an adapter cannot be sent to a worker, parsing
stays in-process. `TOKENTRAIL_JOBS=N` sets the number of workers (1 turns this off).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tokentrail.figures import cost_units, session_row
from tokentrail.hookspecs import Adapter
from tokentrail.index import Entry, Index, storable
from tokentrail.logfile import file_state
from tokentrail.model import Price, Request, Session, SessionRef, Usage
from tokentrail.plugins import (
    BUILTIN_PLUGINS,
    PluginProblem,
    TokentrailPluginManager,
    contained,
    describe_failure,
)

MIN_FILES = 16
MIN_BYTES = 32 << 20
CHUNKS_PER_WORKER = 4  # more chunks than workers, so a worker that finishes early takes more


@dataclass
class Job:
    plugin: str
    adapter: Adapter
    ref: SessionRef
    version: str  # the parser key the index stores it under
    digest: str = ""  # its files' state before reading ("" = read again next time)
    state: list[tuple[int, int, int, int]] | None = None  # that state, to compare after
    previous: int | None = None  # index entry an adapter may resume from
    reprice: int | None = None  # index entry that only needs new prices

    @property
    def size(self) -> int:
        return self.ref.size


Pricer = Callable[..., "tuple[str, Price] | None"]


def price(session: Session, pricer: Pricer) -> None:
    """Prices as the index stores them: the price plugins' answer without a config (a
    repository's `prices:` overrides are applied when sessions are read)."""
    for request in session.requests:
        answer = pricer(request=request, config={})
        found = answer[1] if answer else None
        request.cost_usd = found.cost_usd if found else None
        request.price_source = found.source if found else None


def prepare(job: Job, index: Index, pricer: Pricer, pricing: str) -> Entry | int | str:
    """Parse one session and encode it for the index (an Entry to store), or re-price a
    stored one (its index id, done), or the error text of an adapter that raised."""
    key = (job.ref.agent, storable(job.ref.id), storable(str(job.ref.path)))
    if job.reprice is not None:
        session = index.sessions([job.reprice], body=False)[job.reprice]
        price(session, pricer)
        costs = [r.cost_usd for r in session.requests if r.cost_usd is not None]
        index.reprice(job.reprice, session, pricing, session_row(session), cost_units(costs))
        return job.reprice
    resumable = getattr(job.adapter, "parse_resumable", None)
    token: bytes | None = None
    try:
        # what a plugin prints is discarded; a third party's parse has a time limit
        with contained(job.plugin not in BUILTIN_PLUGINS):
            if callable(resumable):
                previous = None
                if job.previous is not None:
                    token = index.resume_token(job.previous)
                    if token is not None:
                        previous = index.sessions([job.previous]).get(job.previous)
                session, token = resumable(job.ref, previous, token if previous else None)
            else:
                session = job.adapter.parse(job.ref)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a plugin must not end the run, whatever it raises
        return describe_failure(exc)
    if not isinstance(session, Session):
        return f"returned {type(session).__name__}, not a Session"
    # a log appended to while it was read: keep what was read, but read it again next time
    digest = job.digest if file_state(job.ref.paths) == job.state else ""
    price(session, pricer)
    costs = [r.cost_usd for r in session.requests if r.cost_usd is not None]
    return Entry.of(session, key, digest, pricing, token, session_row(session), cost_units(costs))


BATCH_SESSIONS = 200
BATCH_ROWS = 40_000


def run_jobs(
    jobs: Sequence[Job], positions: Sequence[int], index: Index, pricer: Pricer, pricing: str
) -> list[tuple[int, int | str]]:
    """Parse these jobs into the index, writing in batches; (position, id or error)."""
    done: list[tuple[int, int | str]] = []
    batch: list[tuple[int, Entry]] = []

    def flush() -> None:
        ids = index.store_many([entry for _, entry in batch])
        done.extend((position, sid) for (position, _), sid in zip(batch, ids))
        batch.clear()

    for position in positions:
        result = prepare(jobs[position], index, pricer, pricing)
        if isinstance(result, Entry):
            batch.append((position, result))
            if len(batch) >= BATCH_SESSIONS or sum(e.count for _, e in batch) >= BATCH_ROWS:
                flush()
        else:
            done.append((position, result))
    if batch:
        flush()
    return done


def workers(jobs: Sequence[Job]) -> int:
    """How many processes to use for these jobs (1: parse in-process)."""
    wanted = os.environ.get("TOKENTRAIL_JOBS")
    count = int(wanted) if wanted and wanted.isdigit() else (os.cpu_count() or 1)
    parsing = [j for j in jobs if j.reprice is None]
    big = len(parsing) >= MIN_FILES and sum(j.size for j in parsing) >= MIN_BYTES
    forkable = sys.platform == "linux"
    if count <= 1 or not big or not forkable:
        return 1
    import pickle

    try:
        pickle.dumps([j.adapter for j in jobs])
    except Exception:
        return 1  # a third-party adapter that may not survive a worker
    return min(count, len(jobs))


def balanced(jobs: Sequence[Job], count: int) -> list[list[int]]:
    """Job positions in `count` chunks of about equal bytes (largest first, each to the
    lightest chunk), heaviest chunk first."""
    chunks: list[tuple[int, list[int]]] = [(0, []) for _ in range(max(count, 1))]
    for position in sorted(range(len(jobs)), key=lambda i: -jobs[i].size):
        lightest = min(range(len(chunks)), key=lambda c: chunks[c][0])
        weight, members = chunks[lightest]
        chunks[lightest] = (weight + max(jobs[position].size, 1), [*members, position])
    return [m for _, m in sorted(chunks, key=lambda c: -c[0]) if m]


# What forked workers inherit (set just before the pool starts; never pickled).
_SHARED: dict[str, Any] = {}


def _work(positions: list[int]) -> tuple[list[tuple[int, int | str]], list[PluginProblem]]:
    jobs: Sequence[Job] = _SHARED["jobs"]
    pm: TokentrailPluginManager = _SHARED["pm"]
    before = len(pm.problems)
    index = Index(_SHARED["path"])
    try:
        done = run_jobs(jobs, positions, index, _SHARED["pricer"], _SHARED["pricing"])
    finally:
        index.close()
    return done, pm.problems[before:]


def parse_all(
    jobs: Sequence[Job], index: Index, pm: TokentrailPluginManager, pricing: str
) -> list[tuple[Job, int | str]]:
    """Each job with its index id (or error text), in the order given."""
    pricer = pm.first_result_caller("price_request", Price)
    count = workers(jobs)
    results: dict[int, int | str] = {}
    if count > 1:
        results = _in_workers(jobs, index, pm, pricer, pricing, count)
    left = [p for p in range(len(jobs)) if p not in results]  # what no worker finished
    results.update(run_jobs(jobs, left, index, pricer, pricing))
    return [(job, results[p]) for p, job in enumerate(jobs)]


def _in_workers(
    jobs: Sequence[Job],
    index: Index,
    pm: TokentrailPluginManager,
    pricer: Pricer,
    pricing: str,
    count: int,
) -> dict[int, int | str]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    results: dict[int, int | str] = {}
    # whatever the price plugins import (genai-prices: pydantic, its price data) is
    # imported once here, not once in every worker
    pricer(request=Request(None, None, "", Usage()), config={})
    index.close()  # a SQLite connection must not cross a fork
    _SHARED.update(jobs=jobs, pm=pm, pricer=pricer, pricing=pricing, path=index.path)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(count, mp_context=context) as pool:
            futures = [pool.submit(_work, c) for c in balanced(jobs, count * CHUNKS_PER_WORKER)]
            for future in as_completed(futures):
                try:
                    done, problems = future.result()
                except BrokenProcessPool:
                    continue  # a worker died: its chunks are parsed in-process
                results.update(done)
                for problem in problems:
                    pm.add_problem(problem)
    except (OSError, BrokenProcessPool):
        pass  # no workers at all (fork refused): everything is parsed in-process
    finally:
        _SHARED.clear()
        index.open()
    return results
