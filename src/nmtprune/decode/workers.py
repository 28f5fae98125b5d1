"""Decoding shards in forked worker processes, one CPU thread each.

A CPU decoding step is ~100 small kernels: split over two intra-op threads,
each kernel's little work is shared and the threads wait on each other, so two
cores decode only ~1.3x as fast as one. Whole batches on separate cores scale
better (~1.9x on two), as CTranslate2's ``inter_threads`` and Marian's CPU
workers do. Processes, not threads: the Python bookkeeping of beam search would
serialise threads on the GIL (threads measured 1.58x, processes 1.9x here).
Workers are forked after the model is loaded and its decoding weights packed, so
they share them copy-on-write; only each shard's results travel back (pickled
through a pipe, with progress counts on the way).
"""
from __future__ import annotations

import os
import signal
import sys
import warnings
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any, Callable, Sequence

import torch

from ..errors import NmtpruneError


def can_fork(device: torch.device | str) -> bool:
    """Forking is safe here: Linux (what we tested; macOS system libraries are not fork-safe)
    and a CPU device (a forked CUDA context is unusable)."""
    return sys.platform.startswith("linux") and torch.device(device).type == "cpu"


def check_workers(workers: int) -> None:
    if workers < 0:
        raise NmtpruneError(f"--workers must be >= 0 (0 = one per core), got {workers}")


def resolve_workers(workers: int, device: torch.device | str, batches: int) -> int:
    """``workers`` 0 = auto: one per intra-op thread torch would use, on CPU only,
    never more than there are batches. An explicit count is capped the same way."""
    check_workers(workers)
    if not can_fork(device):
        return 1
    want = workers or torch.get_num_threads()
    return max(1, min(want, batches))


def _child(fn: Callable, shard: Any, conn: Connection) -> None:
    """Run ``fn(shard, report)`` and send ("done", result) or ("error", text); never returns."""
    code = 0
    try:
        # One thread, always: GNU OpenMP (torch's CPU thread pool) is not fork-safe, and a
        # forked child that opens a parallel region of 2+ threads hangs (checked: torch 2.13).
        torch.set_num_threads(1)
        result = fn(shard, lambda n: conn.send(("progress", n)))
        conn.send(("done", result))
    except BaseException as e:                 # noqa: BLE001 - everything goes back to the parent
        code = 1
        text = str(e) if isinstance(e, NmtpruneError) else f"{type(e).__name__}: {e}"
        try:
            conn.send(("error", (isinstance(e, NmtpruneError), text.splitlines()[0] if text else "")))
        except Exception:                      # noqa: BLE001 - the parent reports the lost worker
            pass
    finally:
        conn.close()
        os._exit(code)                         # no atexit handlers or buffered output of the parent


def run_forked(fn: Callable[[Any, Callable[[int], None]], Any], shards: Sequence[Any], *,
               progress: Callable[[int], None] | None = None) -> list[Any]:
    """``[fn(shard, report) for shard in shards]``, each in its own forked process.

    Each worker runs single-threaded (see :func:`_child`). ``report(n)`` in a worker
    calls ``progress(n)`` in the parent. A worker's exception is raised here as
    :class:`NmtpruneError` (one line; ours keep their message), as is a worker that
    dies without a word (killed). The other workers are stopped on any failure.
    """
    kids: list[tuple[int, Connection]] = []
    results: list[Any] = [None] * len(shards)
    ok = False
    try:
        for shard in shards:
            parent_end, child_end = Pipe(duplex=False)
            with warnings.catch_warnings():
                # Python >= 3.12 warns on fork in a process with threads (torch's idle pool);
                # the child only runs single-threaded torch code and exits with os._exit.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                parent_end.close()
                _child(fn, shard, child_end)
            child_end.close()
            kids.append((pid, parent_end))
        pending = {conn: j for j, (_, conn) in enumerate(kids)}
        while pending:
            for conn in wait(list(pending)):
                j = pending[conn]
                try:
                    kind, value = conn.recv()
                except EOFError:
                    raise NmtpruneError(f"decoding worker {j} died without a result "
                                        "(killed? out of memory?)") from None
                if kind == "progress":
                    if progress:
                        progress(value)
                elif kind == "done":
                    results[j] = value
                    del pending[conn]
                else:
                    ours, text = value
                    raise NmtpruneError(text if ours else f"decoding worker {j} failed: {text}")
        ok = True
        return results
    finally:
        for pid, conn in kids:
            conn.close()
            if not ok:                      # failing (or interrupted): stop the others
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
