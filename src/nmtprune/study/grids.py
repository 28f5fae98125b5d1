"""Each experiment's grid: a planner ``(settings[, classes]) -> [run spec]``.

A run spec names what to run (``kind``: see :data:`nmtprune.study.execute.RUN_KINDS`)
and how: criterion, allocation, sparsity, retraining, initialisation, the
weight classes pruned, whether BLEU is needed. Registered per experiment in
:data:`nmtprune.study.experiments.EXPERIMENTS`.
"""
from __future__ import annotations

from ..errors import choose
from ..prune.pruning import Pruning
from ..training.recipes import RECIPES

METHODS = [("magnitude", "class_blind"), ("magnitude", "class_uniform"), ("magnitude", "class_distribution"),
           ("random", "class_blind")]


def spec(kind: str, pruning: Pruning | None, *, retrained: bool = False, init: str | None = None,
         bleu: bool = True, snip_batches: int | None = None, recipe: str | None = None) -> dict:
    """One run's spec (everything its result depends on besides the study's shared settings):
    the run's :class:`Pruning` (criterion, allocation, sparsity, weight classes; None for the
    dense baseline) spelled out as the columns the store keys runs by.

    ``recipe`` (a recovery recipe's name) is set only on ``recipe`` runs, so the ids of
    the other runs stay what they were before recipes existed.
    """
    p = pruning
    out = {"kind": kind, "criterion": p.criterion if p else None, "allocation": p.allocation if p else None,
           "sparsity": float(p.sparsity) if p else 0.0, "retrained": retrained, "init": init,
           "only_classes": list(p.only_classes) if p and p.only_classes else None, "bleu": bleu,
           "snip_batches": snip_batches}
    if recipe is not None:
        out["recipe"] = recipe
    if p is not None and p.granularity != "weight":      # only then: weight runs keep their ids
        out["granularity"] = p.granularity
    return out


def P(criterion: str, allocation: str, sparsity: float, *, only: str | None = None,
      granularity: str = "weight") -> Pruning:
    """A grid point's pruning (``only``: the one weight class it prunes)."""
    return Pruning(sparsity, criterion=criterion, allocation=allocation, only_classes=[only] if only else None,
                   granularity=granularity)


def plan_headline(s):
    return [spec("prune", P("magnitude", "class_blind", x), retrained=rt) for x in s["sparsities"] for rt in (False, True)]


def plan_no_retrain(s):
    return [spec("prune", P(c, a, x)) for c, a in METHODS for x in s["sparsities"]]


def plan_retrain(s):
    runs = []
    for x in s["sparsities"]:
        cb, rnd = P("magnitude", "class_blind", x), P("random", "class_blind", x)
        runs += [spec("prune", cb), spec("prune", cb, retrained=True), spec("prune", rnd, retrained=True),
                 spec("scratch", cb, init=s["init"]),   # re-initialised (See et al.)
                 spec("rewind", cb)]                     # original init (lottery ticket)
    return runs


def plan_class_share(s):
    runs = [spec("prune", P("magnitude", a, s["compare_at"])) for a in ("class_blind", "class_distribution")]
    for x in s["sparsities"]:
        runs += [spec("prune", P(c, "class_blind", x)) for c in ("magnitude", "obd", "snip")]
    return runs


def plan_sensitivity(s, classes):
    runs = []
    for cls in classes:
        runs += [spec("prune", P("magnitude", a, s["sparsity"], only=cls), bleu=False)
                 for a in ("class_uniform", "class_blind", "class_distribution")]
        runs.append(spec("prune", P("obd", "class_blind", s["sparsity"], only=cls), bleu=False))
    return runs


def plan_max_pruned(s, classes):
    return [spec("prune", P("magnitude", "class_uniform", x, only=c), bleu=False)
            for c in classes for x in s["sparsities"]]


def plan_mask_heatmaps(s):
    return [spec("prune", P(c, "class_blind", s["sparsity"])) for c in ("magnitude", "obd", "snip")]


def plan_sentence_bleu(s):
    return [spec("prune", P(c, a, s["sparsity"])) for c, a in METHODS + [("obd", "class_blind"), ("snip", "class_blind")]]


def plan_extreme(s):
    runs = []
    for c in ("magnitude", "random", "obd", "snip"):
        runs += [spec("prune", P(c, "class_blind", x)) for x in s["sparsities"]]
        runs += [spec("prune", P(c, "class_blind", x), retrained=True) for x in s["retrain_sparsities"]]
    return runs


def plan_snip_init(s):
    return [spec("snip_train", P("snip", "class_blind", s["sparsity"]), init=i, snip_batches=s["batches"])
            for i in s["inits"]]


def plan_snip_batches(s):
    return [spec("snip_train", P("snip", "class_blind", s["sparsity"]), init=s["init"], snip_batches=b)
            for b in s["batches"]]


def plan_attention(s):
    return [spec("prune", P("magnitude", "class_blind", s["sparsity"]), retrained=True)]


def plan_recipes(s):
    """Each recovery recipe at each sparsity (class-blind magnitude, the same retraining budget)."""
    return [spec("recipe", P("magnitude", "class_blind", x), retrained=True, recipe=choose("recipe", r, RECIPES))
            for r in s["recipes"] for x in s["sparsities"]]


def plan_units(s):
    """Hidden-unit pruning (class-uniform magnitude, a share of the units) against weight pruning
    (class-blind magnitude), each as one cut and with the study's retraining recipe."""
    runs = []
    for x in s["sparsities"]:
        unit = P("magnitude", "class_uniform", x, granularity="unit")
        runs += [spec("prune", unit), spec("prune", unit, retrained=True)]
    for x in s["weight_sparsities"]:
        runs += [spec("prune", P("magnitude", "class_blind", x)),
                 spec("prune", P("magnitude", "class_blind", x), retrained=True)]
    return runs
