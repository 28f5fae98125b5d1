import os
import signal

import pytest
import torch

from nmtprune.errors import NmtpruneError
from nmtprune.model.seq2seq import build_model
from nmtprune.decode.translation import translate_ids
from nmtprune.decode.workers import resolve_workers, run_forked

from helpers import tiny_config


def _square_all(shard, report):
    out = []
    for x in shard:
        out.append(x * x)
        report(1)
    return out, os.getpid(), torch.get_num_threads()


def test_results_come_back_in_shard_order_with_progress():
    seen = []
    shards = [[1, 2, 3], [4], [5, 6]]
    results = run_forked(_square_all, shards, progress=seen.append)
    assert [r[0] for r in results] == [[1, 4, 9], [16], [25, 36]]
    assert sum(seen) == 6 and len(seen) == 6
    pids = {r[1] for r in results}
    assert len(pids) == 3 and os.getpid() not in pids          # really separate processes
    assert all(r[2] == 1 for r in results)                    # forked OpenMP: one thread only


def _fail_on_two(shard, report):
    if 2 in shard:
        raise ValueError("bad shard")
    return shard


def _our_error(shard, report):
    raise NmtpruneError("input line 3: invalid")


def _killed(shard, report):
    if shard == [1]:
        os.kill(os.getpid(), signal.SIGKILL)
    return shard


@pytest.mark.parametrize("fn, message", [
    (_fail_on_two, "decoding worker 1 failed: ValueError: bad shard"),
    (_our_error, "input line 3: invalid"),
    (_killed, "decoding worker 0 died without a result"),
])
def test_worker_failures_raise_one_clear_error(fn, message):
    with pytest.raises(NmtpruneError) as e:
        run_forked(fn, [[1], [2], [3]])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_resolve_workers():
    assert resolve_workers(0, "cpu", 100) == torch.get_num_threads()
    assert resolve_workers(4, "cpu", 3) == 3                    # never more than batches
    assert resolve_workers(4, "cpu", 0) == 1
    assert resolve_workers(3, "meta", 10) == 1                  # not a CPU: no fork
    with pytest.raises(NmtpruneError, match="--workers must be >= 0"):
        resolve_workers(-1, "cpu", 10)


@pytest.mark.parametrize("beam", [1, 3])
def test_workers_translate_like_one_process(beam):
    model = build_model(tiny_config(), seed=5).eval()
    with torch.no_grad():
        model.decoder.out.weight.mul_(8)                        # varied hypothesis lengths
    g = torch.Generator().manual_seed(1)
    sources = [torch.randint(4, 50, (int(torch.randint(1, 12, (1,), generator=g)),), generator=g).tolist()
               for _ in range(23)]
    one = translate_ids(model, sources, beam=beam, batch_size=4, workers=1)
    three = translate_ids(model, sources, beam=beam, batch_size=4, workers=3)
    assert three == one and len(one) == 23 and len({tuple(h) for h in one}) > 5
