"""``--executor ray``: every baseline and every run of the study is one Ray task.

Each task declares its resources (``--run-cpus``, ``--run-gpus``) and Ray puts
it on any node with room: a local Ray instance started here (no address), or
a cluster joined with ``--ray-address`` (or ``RAY_ADDRESS``). A task receives
the absolute paths of the study directory, which every node must see (a
shared filesystem), writes its run directory there and returns its metrics;
the driver records them. Without an address a new local instance is started
(``--ray-address auto`` joins one that ``ray start`` runs on this machine). A
Ray session already open in this process is used and left open; one started
here is shut down here.

Retries: a task whose worker or node is lost is rerun by Ray, at most
``max_retries`` times. Of the task's own exceptions only ``OSError`` (a shared
filesystem's hiccup) is retried too: anything else (a bad setting, a bug,
NaNs) fails the same way every time, so it is recorded at once, as the local
executor records it. A rerun attempt starts its run directory clean.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Iterable, Iterator

from ..errors import NmtpruneError

logger = logging.getLogger(__name__)
INSTALL = "--executor ray needs Ray: pip install 'nmtprune[ray]'"
RETRIED = (OSError,)


def import_ray():
    """The ``ray`` module, or the one-line error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise NmtpruneError(INSTALL) from None
    return ray


def run_task(fn: Callable, threads: int, item: Any) -> tuple[Any, float]:
    """The body of every task, on whichever node Ray chose: ``fn(item)`` on as many
    threads as the task declared CPUs (torch would otherwise take the whole node), timed."""
    import torch

    from ..runtime import tune_allocator
    tune_allocator()
    torch.set_num_threads(threads)
    t0 = time.time()
    return fn(item), time.time() - t0


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


LOCAL_START_ATTEMPTS = 3


def init_local(ray, **kwargs) -> None:
    """Start a new local Ray instance (``address="local"``: never silently a cluster that some
    ``ray start`` left on this machine). Retried: on a loaded machine Ray's raylet gives up when
    its helper processes take too long to import (seen at 2 cores under load); a later try, with
    the imports cached, usually wins."""
    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            ray.init(address="local", include_dashboard=False, **kwargs)
            return
        except Exception as e:                  # Ray raises plain Exceptions for a failed start
            ray.shutdown()                      # whatever half of it did start
            if attempt == LOCAL_START_ATTEMPTS:
                raise NmtpruneError(f"a local Ray instance did not start in {attempt} tries "
                                    f"({_first_line(e)})") from None
            logger.warning(f"a local Ray instance did not start ({_first_line(e)}); trying again")


class RayExecutor:
    """Tasks on a Ray cluster; see the module docstring."""
    remote = True

    def __init__(self, address: str | None, run_cpus: float, run_gpus: float, max_retries: int):
        self.ray = import_ray()                # refused before any work when Ray is missing
        self.address, self.cpus, self.gpus, self.retries = address, run_cpus, run_gpus, max_retries
        self.threads = max(1, int(run_cpus))
        self._started = False
        self._task = None

    def __enter__(self) -> RayExecutor:
        ray = self.ray
        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS") or None
            if address:
                try:
                    ray.init(address=address)
                except Exception as e:          # Ray raises plain Exceptions, too
                    raise NmtpruneError(f"--ray-address {address}: cannot join the Ray cluster "
                                        f"({_first_line(e)})") from None
            else:
                init_local(ray)
            self._started = True
        try:
            self._check_fits()
        except BaseException:
            self.__exit__()
            raise
        self._task = ray.remote(run_task).options(num_cpus=self.cpus, num_gpus=self.gpus,
                                                 max_retries=self.retries, retry_exceptions=list(RETRIED))
        logger.info(f"ray: {ray.cluster_resources().get('CPU', 0):g} CPUs in the cluster; per task: "
                    f"{self.cpus:g} CPUs, {self.gpus:g} GPUs, up to {self.retries} retries")
        return self

    def __exit__(self, *exc) -> None:
        # Only after this executor's own ray.init: that stops the local instance it started, or
        # disconnects from a joined cluster, which keeps running; a caller's session stays open.
        if self._started:
            self.ray.shutdown()
            self._started = False

    def _check_fits(self) -> None:
        """Refuse resources no node has: Ray would keep such tasks waiting forever."""
        nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        if any(r.get("CPU", 0) >= self.cpus and r.get("GPU", 0) >= self.gpus for r in nodes):
            return
        cpu = max((r.get("CPU", 0) for r in nodes), default=0)
        gpu = max((r.get("GPU", 0) for r in nodes), default=0)
        raise NmtpruneError(f"--run-cpus {self.cpus:g} --run-gpus {self.gpus:g}: no node of the Ray cluster has "
                            f"that much (largest: {cpu:g} CPUs, {gpu:g} GPUs)")

    def _error(self, e: BaseException) -> BaseException:
        """What to record: the task's own exception (its remote traceback kept), or Ray's
        (a worker or node lost after the retries)."""
        cause = getattr(e, "cause", None)
        if isinstance(e, self.ray.exceptions.RayTaskError) and isinstance(cause, Exception):
            try:
                cause.remote_traceback = str(e)
            except AttributeError:             # an exception type with __slots__
                pass
            return cause
        return e

    def _submit(self, fn: Callable, items: Iterable) -> list:
        fn_ref = self.ray.put(fn)              # the shared arguments (config, paths) shipped once
        return [(self._task.remote(fn_ref, self.threads, item), item) for item in items]

    def _cancel(self, refs: Iterable) -> None:
        """Stop tasks whose results the driver will not take (it is stopping)."""
        for ref in refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:                  # already finished or gone: nothing to stop
                pass

    def map(self, fn: Callable, items: Iterable) -> list:
        """``fn`` over ``items`` as tasks in parallel; the results in order. A failure is fatal."""
        tasks = self._submit(fn, items)
        out: list = []
        try:
            for ref, _ in tasks:
                try:
                    out.append(self.ray.get(ref)[0])
                except self.ray.exceptions.RayError as e:
                    err = self._error(e)
                    if isinstance(err, NmtpruneError):
                        raise err from None
                    logger.error(getattr(err, "remote_traceback", str(err)))
                    raise NmtpruneError(f"a task failed on Ray: {type(err).__name__}: {_first_line(err)}") from None
        finally:
            self._cancel(ref for ref, _ in tasks[len(out):])
        return out

    def as_completed(self, fn: Callable, items: Iterable,
                     started: Callable[[Any], None]) -> Iterator[tuple[Any, Any, float | None]]:
        """Submit every item at once (Ray queues what does not fit yet), then yield each
        ``(item, result or exception, seconds)`` in the order they finish."""
        items = list(items)
        for item in items:
            started(item)
        pending = dict(self._submit(fn, items))
        try:
            while pending:
                done, _ = self.ray.wait(list(pending), num_returns=1)
                for ref in done:
                    item = pending.pop(ref)
                    try:
                        result, seconds = self.ray.get(ref)
                    except self.ray.exceptions.RayError as e:
                        yield item, self._error(e), None
                    else:
                        yield item, result, seconds
        finally:
            self._cancel(pending)
