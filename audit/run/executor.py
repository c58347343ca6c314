"""Run per-call jobs in parallel and hand results back one at a time, in completion order.

`local` runs a process pool sized so that workers x threads <= cores (1 worker runs
in-process). `ray` sends the same jobs to a Ray cluster (or a local Ray started here).
Either way results come back to the caller's process, which alone writes the store:
SQLite has one writer, and each result is committed as soon as it arrives.
Wherever a job runs (pool worker, Ray worker, or in-process), its native thread pools are set
to the caller's `threads` first (audit/asr/threads.py), not to what the environment says.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import chain
from multiprocessing import get_context
from typing import Any, Callable, Iterable, Iterator

from audit.asr import threads as native
from audit.errors import AuditError

log = logging.getLogger("audit")


@dataclass(frozen=True)
class Plan:
    workers: int
    threads: int  # per worker


def plan_workers(workers: int = 0, cores: int | None = None) -> Plan:
    """workers x threads <= cores. 0 = one single-threaded worker per core: on 2 cores that gave
    RTF 0.046 against 0.066 for one worker with 2 threads (6 dev calls, faster-whisper int8)."""
    cores = cores or os.cpu_count() or 1
    if workers <= 0:
        threads, workers = 1, cores
    else:
        workers = min(workers, cores)
        threads = max(1, cores // workers)
    return Plan(workers, threads)


def run_jobs(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    workers: int,
    initializer: Callable | None = None,
    initargs: tuple = (),
    executor: str = "local",
    address: str = "",
    threads: int = 1,
) -> Iterator[tuple[Any, Any, BaseException | None]]:
    """Yield (item, result, error) per item. A failing item yields its error; the rest go on.

    threads: BLAS and OpenMP threads per worker, set the same whichever executor runs the jobs
    (the engines get theirs from their options: CTranslate2 cpu_threads, torch)."""
    items = list(items)
    if executor == "ray" and items:
        yield from _run_ray(fn, items, initializer, initargs, address, threads)
        return
    if workers <= 1:
        with native.pinned(threads):
            if initializer:
                initializer(*initargs)
            for item in items:
                try:
                    yield item, fn(item), None
                except Exception as exc:  # one bad call never stops the batch
                    yield item, None, exc
        return
    queue = iter(items)
    while True:
        # A worker that dies (segfault, out of memory) breaks the pool: its jobs in flight are
        # reported failed and a fresh pool takes the rest (a rerun retries the failed ones).
        broken = False
        with ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_pool_init, initargs=(threads, initializer, initargs)
        ) as pool:
            pending: dict[Future, Any] = {}
            for item in queue:  # keep only a few jobs in flight: a killed run has little half-done work
                pending[pool.submit(fn, item)] = item
                if len(pending) >= workers * 2:
                    break
            if not pending:
                return
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    item = pending.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, BrokenProcessPool):
                        broken = True
                        exc = AuditError(f"worker process died while on this item ({exc})")
                    yield item, (None if exc else fut.result()), exc
                    if not broken:
                        nxt = next(queue, _END)
                        if nxt is not _END:
                            try:
                                pending[pool.submit(fn, nxt)] = nxt
                            except BrokenProcessPool:
                                # a worker died after this result came back (a race seen once in CI):
                                # the next item never ran, so a fresh pool takes it with the rest
                                broken = True
                                queue = chain([nxt], queue)
                if broken:
                    for fut, item in pending.items():
                        yield item, None, AuditError("worker process died while this item was in flight")
                    pending.clear()
        if not broken:
            return


_END = object()


def _pool_init(threads: int, initializer: Callable | None, initargs: tuple) -> None:
    """A local pool worker: native thread pools first, then the caller's set-up."""
    native.pin_process(threads)
    if initializer is not None:
        initializer(*initargs)


def _ray_task(fn, initializer, initargs, stamp, threads, item):
    """Runs on a Ray worker: set up once per worker process (model, rule pack), then the job.
    Ray exports OMP_NUM_THREADS=1 to its workers when the driver has none: the count set here wins."""
    native.pin_process(threads)
    if initializer is not None:
        if _ray_ready.get(initializer.__qualname__) != stamp:
            initializer(*initargs)
            _ray_ready[initializer.__qualname__] = stamp
    return fn(item)


_ray_ready: dict[str, str] = {}


def _digest(initargs: tuple) -> str:
    import hashlib
    import pickle

    return hashlib.sha1(pickle.dumps(initargs)).hexdigest()


def _run_ray(fn, items, initializer, initargs, address: str, threads: int = 1):
    try:
        import ray
    except ImportError as exc:
        from audit.errors import AuditError

        raise AuditError("executor 'ray' needs Ray: pip install 'callaudit[ray]'") from exc
    if not ray.is_initialized():
        kw = {"address": address} if address else {"num_cpus": os.cpu_count() or 1}
        ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True, **kw)
    task = ray.remote(_ray_task)
    args_ref = ray.put(initargs)  # large set-up data (the rule pack) travels once
    stamp = _digest(initargs)  # computed once here, not pickled again in every task
    pending = {task.remote(fn, initializer, args_ref, stamp, threads, item): item for item in items}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            item = pending.pop(ref)
            try:
                yield item, ray.get(ref), None
            except Exception as exc:  # RayTaskError wraps the job's own error
                yield item, None, getattr(exc, "cause", None) or exc
