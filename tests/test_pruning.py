"""The Pruning value: validated once when built, spelled one way, passed whole."""
import dataclasses

import pytest

from nmtprune.errors import NmtpruneError
from nmtprune.prune.pruning import GRANULARITIES, Pruning, check_sparsity


def test_cli_spellings_map_to_registry_keys_and_the_value_is_frozen():
    p = Pruning(0.8, criterion="obd", allocation="class-distribution", only_classes=["softmax"])
    assert (p.allocation, p.only_classes, p.granularity) == ("class_distribution", ("softmax",), "weight")
    assert p.needs_data and not Pruning(0.5).needs_data
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.sparsity = 0.9
    assert p == Pruning(0.8, criterion="obd", allocation="class_distribution", only_classes=("softmax",))


def test_at_keeps_everything_but_the_sparsity():
    p = Pruning(0.9, criterion="random", allocation="class-uniform", seed=3, batches=2)
    q = p.at(0.5)
    assert q.sparsity == 0.5 and dataclasses.replace(q, sparsity=0.9) == p
    with pytest.raises(NmtpruneError, match=r"\[0, 1\)"):
        p.at(1.0)


def test_settings_are_what_prune_json_records():
    s = Pruning(0.7, allocation="class-blind").settings()
    assert s == {"criterion": "magnitude", "allocation": "class_blind", "sparsity": 0.7, "batches": 1,
                 "batch_size": 64, "hessian": "fisher", "seed": 0, "include_biases": False, "only_classes": None}
    assert "granularity" not in s and GRANULARITIES[0] == "weight"


@pytest.mark.parametrize("kw,message", [
    ({"sparsity": 1.5}, r"--sparsity must be in \[0, 1\) \(the fraction removed\), got 1.5"),
    ({"sparsity": float("nan")}, r"--sparsity must be in \[0, 1\)"),
    ({"sparsity": "abc"}, "--sparsity must be a number in"),
    ({"criterion": "taylor"}, "unknown criterion 'taylor'"),
    ({"allocation": "global"}, "unknown allocation 'global'"),
    ({"granularity": "block"}, "unknown granularity 'block'"),
    ({"hessian": "exact"}, "unknown hessian 'exact'"),
    ({"batches": 0}, "--batches and --batch-size must be >= 1"),
    ({"seed": 1.5}, "seed must be an integer"),
])
def test_bad_values_are_refused_when_built(kw, message):
    args = {"sparsity": 0.5, **kw}
    with pytest.raises(NmtpruneError, match=message):
        Pruning(**args)


def test_one_range_rule_with_targets_above_zero():
    assert check_sparsity("0.25") == 0.25 and check_sparsity(0) == 0.0
    with pytest.raises(NmtpruneError, match=r"--prune-to must be in \(0, 1\)"):
        check_sparsity(0, option="--prune-to", above_zero=True)
    assert check_sparsity(0.9, option="--prune-to", above_zero=True) == 0.9
