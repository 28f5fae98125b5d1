"""Where the study's work runs: in the driver process (``local``), in worker processes on this
machine (``processes``, several runs side by side) or as Ray tasks (``ray``).

The study's dependencies are two stages: each seed's dense baseline, then the
runs, every one of which needs only its seed's baseline and the prepared data
(a retrained run prunes and retrains inside one run; scratch and rewind find
their masks on the baseline themselves). So an executor does two things:
``map`` a function over items and return the results in order (the baselines:
a barrier, which costs nothing since the baselines are the same size), and
``as_completed``: apply a function to items and yield each
``(item, result or exception, seconds)`` as it finishes. The driver alone
touches the store and the report; the executor only computes.

Executors are context managers (a Ray executor starts or joins a cluster).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional

from ..errors import NmtpruneError, choose
from .process_executor import ProcessExecutor
from .ray_executor import RayExecutor

# What one run yields back: the item, its result (or the exception it raised), its seconds.
Outcome = tuple[Any, Any, Optional[float]]


@dataclass(frozen=True)
class ExecutorOptions:
    """``--run-cpus`` (threads per run: Ray and processes), ``--run-gpus``, ``--max-retries``,
    ``--ray-address`` (Ray only)."""
    run_cpus: float = 1
    run_gpus: float = 0
    max_retries: int = 2
    ray_address: str | None = None

    def check(self) -> None:
        if not self.run_cpus > 0:
            raise NmtpruneError(f"--run-cpus must be > 0, got {self.run_cpus}")
        if self.run_gpus < 0:
            raise NmtpruneError(f"--run-gpus must be >= 0, got {self.run_gpus}")
        if self.max_retries < 0:
            raise NmtpruneError(f"--max-retries must be >= 0, got {self.max_retries}")


class LocalExecutor:
    """Everything in the driver process, one item after another (the default)."""
    remote = False

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def map(self, fn: Callable, items: Iterable) -> list:
        return [fn(item) for item in items]

    def as_completed(self, fn: Callable, items: Iterable, started: Callable[[Any], None]) -> Iterator[Outcome]:
        for item in items:
            started(item)
            t0 = time.time()
            try:
                result = fn(item)
            except Exception as e:          # one failing run must not lose the others
                result = e
            yield item, result, time.time() - t0


def _local(options: ExecutorOptions) -> LocalExecutor:
    return LocalExecutor()


def _processes(options: ExecutorOptions) -> ProcessExecutor:
    return ProcessExecutor(options.run_cpus)


def _ray(options: ExecutorOptions) -> RayExecutor:
    return RayExecutor(options.ray_address, options.run_cpus, options.run_gpus, options.max_retries)


# --executor name -> factory(options).
EXECUTORS: dict[str, Callable[[ExecutorOptions], Any]] = {"local": _local, "processes": _processes, "ray": _ray}


def make_executor(name: str, *, options: ExecutorOptions | None = None):
    """The executor ``name`` (not yet entered): checks its options and, for Ray, that Ray is installed."""
    options = options or ExecutorOptions()
    options.check()
    if options.ray_address and name != "ray":
        raise NmtpruneError(f"--ray-address is for --executor ray (got --executor {name})")
    return EXECUTORS[choose("executor", name, EXECUTORS)](options)
