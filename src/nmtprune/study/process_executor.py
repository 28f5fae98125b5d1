"""``--executor processes``: the study's runs in parallel worker processes on this machine.

A small model trains little faster on two threads than on one (its products are
small and much of a step is pointwise work and Python), so on a machine of C
cores, C / ``--run-cpus`` runs side by side, each on ``--run-cpus`` threads, can
finish a study sooner than one run at a time on all C. Each run is one task in a
pool of that many worker processes (started fresh, not forked: torch's thread
pools do not survive a fork); the driver alone writes the store and the report,
as with the other executors. The baselines are few and long: with one seed the
baseline trains in the driver on every thread, as ``local`` trains it.

A run's own exception is recorded as the local executor records it. A worker
that dies (killed, out of memory) breaks the pool: that is fatal to the study,
which resumes where it stopped when run again.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator

from ..errors import NmtpruneError
from .ray_executor import run_task

logger = logging.getLogger(__name__)
BROKEN = ("a worker process of --executor processes died (killed or out of memory); "
          "run the study again to resume it")


def slots(run_cpus: float, cpus: int | None = None) -> int:
    """Runs side by side: the machine's CPUs (``cpus``; default: those this process may use)
    divided by ``run_cpus``, at least one."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, int(cpus // run_cpus))


class ProcessExecutor:
    """Runs in a pool of worker processes; see the module docstring."""
    remote = True             # runs print nothing of their own: the driver's bar says what finished

    def __init__(self, run_cpus: float, *, cpus: int | None = None):
        self.threads = max(1, int(run_cpus))
        self.workers = slots(run_cpus, cpus)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessExecutor:
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        logger.info(f"processes: {self.workers} runs side by side, {self.threads} thread(s) each")
        return self

    def __exit__(self, exc_type=None, *exc) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if exc_type is not None:      # stopping (Ctrl-C, an error): runs in flight are redone on resume
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable, items: Iterable) -> list:
        """``fn`` over ``items`` (the baselines), results in order. One item runs here on every
        thread; several run in the pool. A failure is fatal, as in the local executor."""
        items = list(items)
        if len(items) <= 1:
            return [fn(item) for item in items]
        futures = [self._pool.submit(run_task, fn, self.threads, item) for item in items]
        try:
            return [f.result()[0] for f in futures]
        except BrokenProcessPool:
            raise NmtpruneError(BROKEN) from None

    def as_completed(self, fn: Callable, items: Iterable,
                     started: Callable[[Any], None]) -> Iterator[tuple[Any, Any, float | None]]:
        """Submit every item (the pool queues what does not fit), then yield each
        ``(item, result or exception, seconds)`` in the order they finish."""
        pending: dict[Future, Any] = {}
        for item in items:
            started(item)
            pending[self._pool.submit(run_task, fn, self.threads, item)] = item
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    item = pending.pop(f)
                    try:
                        result, seconds = f.result()
                    except BrokenProcessPool:
                        raise NmtpruneError(BROKEN) from None
                    except Exception as e:          # the run's own error: recorded, the others go on
                        yield item, e, None
                    else:
                        yield item, result, seconds
        finally:
            for f in pending:
                f.cancel()
