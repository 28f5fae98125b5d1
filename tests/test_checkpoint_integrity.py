"""A pruned checkpoint is its weights and its mask together: they must agree."""
import shutil

from helpers import nmt


def test_a_mask_that_disagrees_with_its_weights_is_a_one_line_error(cli_run, tmp_path):
    pruned = tmp_path / "p"
    r = nmt("prune", cli_run / "run", "--sparsity", "0.6", "--out", pruned, "--quiet")
    assert r.returncode == 0, r.stderr
    assert nmt("inspect", pruned, "--json").returncode == 0
    shutil.copy(cli_run / "run" / "model.safetensors", pruned / "model.safetensors")   # dense weights, pruned mask
    for cmd in (["inspect", pruned], ["translate", pruned, "--quiet"]):
        r = nmt(*cmd, stdin="Ein Mann.\n")
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "disagrees with its weights" in lines[0] and "model.masks.safetensors" in lines[0]
