"""Re-pruning a pruned model: what was removed stays removed, whatever the allocation."""
import pytest

from nmtprune.model.masks import apply_masks
from nmtprune.model.seq2seq import build_model
from nmtprune.prune import Pruning, compute_masks
from nmtprune.prune.compute import prunable_classes
from nmtprune.prune.saliency import ScoringData

from helpers import tiny_config


@pytest.fixture(scope="module")
def model_data(prepared):
    model = build_model(tiny_config(prepared, dropout=0.0), seed=0)
    return model, ScoringData(prepared.load("train"), batches=1, batch_size=4, seed=1)


@pytest.mark.parametrize("via", ["compute_masks", "gradual"])
def test_class_uniform_repruning_keeps_a_sparser_class_as_it_is(model_data, via):
    """A class already sparser than the new class-uniform target keeps its mask (nothing removed comes
    back, in prune and in gradual pruning alike); every other class lands exactly on the target."""
    from nmtprune.training.gradual import prune_step
    model0, data = model_data
    model = build_model(model0.cfg, seed=0)
    first = compute_masks(model, Pruning(0.9, only_classes=["softmax"], allocation="class_uniform"), data=data)
    apply_masks(model, first)
    target = Pruning(0.5, allocation="class_uniform")
    second = (compute_masks(model, target, data=data, start=first) if via == "compute_masks"
              else prune_step(model, first, target, data=data))
    assert all(not bool((second[n] & ~first[n]).any()) for n in first)
    for cls, names in prunable_classes(model).items():
        total = sum(second[n].numel() for n in names)
        before = sum(int((~first[n]).sum()) for n in names)
        assert sum(int((~second[n]).sum()) for n in names) == max(round(0.5 * total), before), cls
