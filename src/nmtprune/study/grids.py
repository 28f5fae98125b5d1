"""Each experiment's grid: a planner ``(settings[, classes]) -> [run spec]``.

A run spec names what to run (``kind``: see :data:`nmtprune.study.execute.RUN_KINDS`)
and how: criterion, allocation, sparsity, retraining, initialisation, the
weight classes pruned, whether BLEU is needed. Registered per experiment in
:data:`nmtprune.study.experiments.EXPERIMENTS`.
"""
from __future__ import annotations

from ..errors import choose
from ..training.recipes import RECIPES

METHODS = [("magnitude", "class_blind"), ("magnitude", "class_uniform"), ("magnitude", "class_distribution"),
           ("random", "class_blind")]


def spec(kind: str, criterion: str | None = None, allocation: str | None = None, sparsity: float = 0.0,
         retrained: bool = False, init: str | None = None, only_classes=None, bleu: bool = True,
         snip_batches: int | None = None, recipe: str | None = None) -> dict:
    """One run's spec (everything its result depends on besides the study's shared settings).

    ``recipe`` (a recovery recipe's name) is set only on ``recipe`` runs, so the ids of
    the other runs stay what they were before recipes existed.
    """
    out = {"kind": kind, "criterion": criterion, "allocation": allocation, "sparsity": float(sparsity),
           "retrained": retrained, "init": init, "only_classes": only_classes, "bleu": bleu,
           "snip_batches": snip_batches}
    if recipe is not None:
        out["recipe"] = recipe
    return out


def plan_headline(s):
    return [spec("prune", "magnitude", "class_blind", x, rt) for x in s["sparsities"] for rt in (False, True)]


def plan_no_retrain(s):
    return [spec("prune", c, a, x) for c, a in METHODS for x in s["sparsities"]]


def plan_retrain(s):
    runs = []
    for x in s["sparsities"]:
        runs += [spec("prune", "magnitude", "class_blind", x), spec("prune", "magnitude", "class_blind", x, True),
                 spec("prune", "random", "class_blind", x, True),
                 spec("scratch", "magnitude", "class_blind", x, init=s["init"]),   # re-initialised (See et al.)
                 spec("rewind", "magnitude", "class_blind", x)]                     # original init (lottery ticket)
    return runs


def plan_class_share(s):
    runs = [spec("prune", "magnitude", a, s["compare_at"]) for a in ("class_blind", "class_distribution")]
    for x in s["sparsities"]:
        runs += [spec("prune", c, "class_blind", x) for c in ("magnitude", "obd", "snip")]
    return runs


def plan_sensitivity(s, classes):
    runs = []
    for cls in classes:
        runs += [spec("prune", "magnitude", a, s["sparsity"], only_classes=[cls], bleu=False)
                 for a in ("class_uniform", "class_blind", "class_distribution")]
        runs.append(spec("prune", "obd", "class_blind", s["sparsity"], only_classes=[cls], bleu=False))
    return runs


def plan_max_pruned(s, classes):
    return [spec("prune", "magnitude", "class_uniform", x, only_classes=[c], bleu=False)
            for c in classes for x in s["sparsities"]]


def plan_mask_heatmaps(s):
    return [spec("prune", c, "class_blind", s["sparsity"]) for c in ("magnitude", "obd", "snip")]


def plan_sentence_bleu(s):
    return [spec("prune", c, a, s["sparsity"]) for c, a in METHODS + [("obd", "class_blind"),
                                                                    ("snip", "class_blind")]]


def plan_extreme(s):
    runs = []
    for c in ("magnitude", "random", "obd", "snip"):
        runs += [spec("prune", c, "class_blind", x) for x in s["sparsities"]]
        runs += [spec("prune", c, "class_blind", x, True) for x in s["retrain_sparsities"]]
    return runs


def plan_snip_init(s):
    return [spec("snip_train", "snip", "class_blind", s["sparsity"], init=i, snip_batches=s["batches"])
            for i in s["inits"]]


def plan_snip_batches(s):
    return [spec("snip_train", "snip", "class_blind", s["sparsity"], init=s["init"], snip_batches=b)
            for b in s["batches"]]


def plan_attention(s):
    return [spec("prune", "magnitude", "class_blind", s["sparsity"], True)]


def plan_recipes(s):
    """Each recovery recipe at each sparsity (class-blind magnitude, the same retraining budget)."""
    return [spec("recipe", "magnitude", "class_blind", x, True, recipe=choose("recipe", r, RECIPES))
            for r in s["recipes"] for x in s["sparsities"]]
