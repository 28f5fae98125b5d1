"""The study's experiments: one entry each, with its grid, its defaults and its figure.

Adding an experiment is one planner (:mod:`.grids`), one figure function
(:mod:`.figures`) and one entry here; the config validation
(:func:`nmtprune.study.config.load_config`), the plan and the report pick it up.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import grids as G
from .attention import collect_attention
from .figures import classes, recovery, sentences, snip, sparsity, units


@dataclass(frozen=True)
class Experiment:
    """One experiment of the study.

    Attributes:
        planner: ``(settings[, classes]) -> [run spec]`` (the weight classes when ``needs_classes``).
        defaults: every setting with its default; a config may override only these keys. An
            experiment with retrained runs has ``retraining``: settings merged over the study's
            ``retrain`` for its retrained runs (e.g. a larger budget for the headline).
        figure: ``(runs, figdir, settings[, study dir]) -> (file, caption) | None``
            (the study directory when ``reads_files``: the figure plots files the study stored).
        collect: ``(study dir, runs, settings) -> None``, run after the runs: computes data the
            figure needs from the trained models (the figure itself never loads a model).
    """
    planner: Callable[..., list[dict]]
    defaults: dict
    figure: Callable[..., tuple[str, str] | None]
    needs_classes: bool = False
    reads_files: bool = False
    collect: Callable[[Path, list[dict], dict], None] | None = None

    def runs(self, settings: dict, classes: list[str]) -> list[dict]:
        """The run specs of this experiment for ``settings``; its retrained runs carry the
        experiment's own ``retraining`` settings where it has any (only then: the other runs'
        ids stay what they were)."""
        runs = self.planner(settings, classes) if self.needs_classes else self.planner(settings)
        own = settings.get("retraining")
        return [{**r, "retraining": dict(own)} if own and r["retrained"] else r for r in runs]

    @staticmethod
    def visible(runs: list[dict], settings: dict) -> list[dict]:
        """The runs this experiment's figure and data see: every run not retrained, and the
        retrained runs retrained as this experiment retrains (the study's settings, or its own
        ``retraining``), so runs of two budgets never average as if they were seeds."""
        own = settings.get("retraining") or None
        return [r for r in runs if not r["retrained"] or (r.get("retraining") or None) == own]

    def draw(self, runs: list[dict], figdir: Path, settings: dict, study: Path) -> tuple[str, str] | None:
        """Draw the figure into ``figdir`` from the runs it sees (:meth:`visible`); returns
        ``(file name, caption)`` or None."""
        runs = self.visible(runs, settings)
        if self.reads_files:
            return self.figure(runs, figdir, settings, study)
        return self.figure(runs, figdir, settings)


EXPERIMENTS: dict[str, Experiment] = {
    "headline": Experiment(G.plan_headline, {"sparsities": [0.8, 0.9], "retraining": {}}, sparsity.fig_headline),
    "no_retrain": Experiment(G.plan_no_retrain, {"sparsities": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
                             sparsity.fig_no_retrain),
    "retrain": Experiment(G.plan_retrain, {"sparsities": [0.5, 0.6, 0.7, 0.8, 0.9], "init": "uniform",
                                           "retraining": {}},
                          sparsity.fig_retrain),
    "class_share": Experiment(G.plan_class_share, {"compare_at": 0.9, "sparsities": [0.5, 0.8]},
                              classes.fig_class_share),
    "sensitivity": Experiment(G.plan_sensitivity, {"sparsity": 0.9}, classes.fig_sensitivity, needs_classes=True),
    "max_pruned": Experiment(G.plan_max_pruned, {"sparsities": [0.3, 0.5, 0.7, 0.9]}, classes.fig_max_pruned,
                             needs_classes=True),
    "mask_heatmaps": Experiment(G.plan_mask_heatmaps, {"sparsity": 0.8}, classes.fig_mask_heatmaps,
                                reads_files=True),
    "sentence_bleu": Experiment(G.plan_sentence_bleu, {"sparsity": 0.8}, sentences.fig_sentence_bleu,
                                reads_files=True),
    "extreme": Experiment(G.plan_extreme, {"sparsities": [0.9, 0.95, 0.98, 0.99, 0.995],
                                           "retrain_sparsities": [0.9, 0.95, 0.98, 0.99, 0.995], "retraining": {}},
                          sparsity.fig_extreme),
    "snip_init": Experiment(G.plan_snip_init, {"sparsity": 0.9, "batches": 1, "inits": [
        "uniform", "kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal"]}, snip.fig_snip_init),
    "snip_batches": Experiment(G.plan_snip_batches, {"sparsity": 0.9, "init": "kaiming_normal", "batches": [1, 4, 16]},
                               snip.fig_snip_batches),
    "recipes": Experiment(G.plan_recipes, {"sparsities": [0.8, 0.9, 0.95],
                                           "recipes": ["oneshot", "gradual", "gradual_kd", "iterative"],
                                           "retraining": {}},
                          recovery.fig_recipes),
    "units": Experiment(G.plan_units, {"sparsities": [0.25, 0.5, 0.75], "weight_sparsities": [0.5, 0.8, 0.9],
                                       "retraining": {}},
                        units.fig_units),
    "attention": Experiment(G.plan_attention, {"sparsity": 0.9, "sentence": 0, "retraining": {}}, sentences.fig_attention,
                            reads_files=True, collect=collect_attention),
}
