"""The vocabulary and tables of ``recovery.py``: an arm is a recipe of
``nmtprune.training.recipes.RECIPES``, the learning-rate schedule of its retraining, and
where it starts (the dense model, or scratch); docs/recovery.md's tables come from the rows.
"""
from __future__ import annotations

import argparse

from results_io import relative

from nmtprune.training.recipes import RECIPES
from nmtprune.training.schedules import SCHEDULES

# The dashed arm names of earlier versions of this benchmark (and of recovery.json's rows).
LEGACY = {"gradual": ("gradual", "restart", "dense"), "gradual-rewind": ("gradual", "rewind", "dense"),
          "gradual-replay": ("gradual", "replay", "dense"), "gradual-kd": ("gradual_kd", "restart", "dense"),
          "gradual-replay-kd": ("gradual_kd", "replay", "dense"), "oneshot-rewind": ("oneshot", "rewind", "dense"),
          "oneshot-replay": ("oneshot", "replay", "dense"), "oneshot-finetune": ("oneshot", "finetune", "dense"),
          "oneshot-restart": ("oneshot", "restart", "dense"), "gradual-scratch": ("gradual", "restart", "scratch"),
          "iterative": ("iterative", "restart", "dense")}
ARMS = ["gradual", "gradual:rewind", "gradual:replay", "gradual_kd", "gradual_kd:replay", "oneshot:rewind",
        "oneshot:replay", "oneshot:finetune", "gradual@scratch"]


# The equal-compute dense control: the dense model retrained with a recipe's budget and
# schedule, nothing pruned (`nmtprune retrain DENSE` without --prune-to); its rows have sparsity 0.
CONTROL = "continued"


def parse_arm(text: str) -> tuple[str, str, str]:
    """``RECIPE[:SCHEDULE][@scratch]`` (or a legacy dashed name, or ``continued[:SCHEDULE]``, the
    dense control) -> (recipe, schedule, start)."""
    if text in LEGACY:
        return LEGACY[text]
    rest, _, start = text.partition("@")
    recipe, _, schedule = rest.partition(":")
    start, schedule = start or "dense", schedule or "restart"
    if recipe == CONTROL and schedule in SCHEDULES and start == "dense":
        return recipe, schedule, start
    if recipe not in RECIPES or schedule not in SCHEDULES or start not in ("dense", "scratch") or (
            start == "scratch" and (recipe, schedule) != ("gradual", "restart")):
        raise argparse.ArgumentTypeError(f"unknown arm {text!r}: RECIPE[:SCHEDULE][@scratch] with RECIPE in "
                                         f"{', '.join(RECIPES)} or {CONTROL}, SCHEDULE in {', '.join(SCHEDULES)} "
                                         "(@scratch: gradual only)")
    return recipe, schedule, start


def arm_name(recipe: str, schedule: str, start: str) -> str:
    """The arm's name as ``--recipes`` takes it (and the work directory's)."""
    return recipe + ("" if schedule == "restart" else f":{schedule}") + ("@scratch" if start == "scratch" else "")


def arm_of(row: dict) -> tuple[str, str, str]:
    """A row's arm; rows written before arms were named by RECIPES carry a legacy name only."""
    if "schedule" in row:
        return row["recipe"], row["schedule"], row.get("start", "dense")
    return LEGACY[row["recipe"]]


def dense_entries(old: dict) -> dict[str, dict]:
    """The dense runs the file's rows were measured against, by run path: the file's ``dense`` (the
    docs/recovery.md table's) and ``other_dense`` (rows measured on another dense run, e.g. another machine)."""
    out = {relative(x["run"]): x for x in old.get("other_dense", [])}
    if old.get("dense"):
        out[relative(old["dense"]["run"])] = old["dense"]
    return out


def mine(rows: list[dict], dense_id: str) -> list[dict]:
    """The rows measured against the dense run ``dense_id``."""
    return [r for r in rows if relative(r.get("dense_run")) == dense_id]


def named(row: dict) -> dict:
    """A row with its arm spelled by RECIPES (``recipe``, ``schedule``, ``start``)."""
    recipe, schedule, start = arm_of(row)
    return {**row, "recipe": recipe, "schedule": schedule, "start": start}


WORDS = {"oneshot": "one cut", "gradual": "gradual", "gradual_kd": "gradual", "iterative": "iterative (3 rounds)",
         CONTROL: "dense control (trained on, unpruned)"}


def label(arm: tuple[str, str, str]) -> str:
    """An arm in the recovery table's words (``gradual, replay + KD``, ``one cut, fine-tune``)."""
    recipe, schedule, start = arm
    if start == "scratch":
        return "gradual from scratch"
    sched = "fine-tune" if schedule == "finetune" else schedule
    return f"{WORDS[recipe]}, {sched}" + (" + KD" if recipe == "gradual_kd" else "")


def markdown(res: dict) -> None:
    """docs/recovery.md's tables: one line per recipe x budget x sparsity, mean ± std over the seeds run;
    a table per dense run the rows were measured against (the file's ``dense`` first), weights and
    hidden units apart."""
    primary = relative(res["dense"]["run"])
    for key, d in sorted(dense_entries(res).items(), key=lambda kv: kv[0] != primary):
        for gran in ("weight", "unit"):
            rows = [r for r in mine(res["rows"], key) if r.get("granularity", "weight") == gran]
            if rows:
                if (key, gran) != (primary, "weight"):
                    print(f"\n{'Hidden units' if gran == 'unit' else 'Weights'}, against the dense run {key} "
                          f"(test BLEU {d['bleu']:.2f}, valid {d['valid_bleu']:.2f}):\n")
                _markdown_table(d, rows, units=gran == "unit")


def _markdown_table(d: dict, rows: list[dict], *, units: bool) -> None:
    import statistics as st
    groups: dict = {}
    for r in rows:
        groups.setdefault((arm_of(r), r.get("retrain_epochs", 10), r["sparsity"]), []).append(r)

    def ms(rs, k):
        xs = [r[k] for r in rs]
        return f"{st.mean(xs):.2f}" + (f" ± {st.stdev(xs):.2f}" if len(xs) > 1 else "")
    extra = " weights removed | parameters kept |" if units else ""
    print(f"| recipe | epochs (steps) | {'units removed' if units else 'sparsity'} | runs | valid BLEU | test BLEU "
          f"| vs dense | test ppl | minutes |{extra}")
    print("|---|---|---|---|---|---|---|---|---|" + ("---|---|" if units else ""))
    for (arm, e, s), rs in sorted(groups.items(), key=lambda kv: (kv[0][2], -sum(r["valid_bleu"] for r in kv[1])
                                                                    / len(kv[1]))):
        gap = sum(r["bleu"] for r in rs) / len(rs) - d["bleu"]
        name = label(arm) + (" (study)" if all(r.get("source") for r in rs) else "")
        lo, hi = min(r["steps"] for r in rs), max(r["steps"] for r in rs)   # early stopping may end one sooner
        steps = f"{lo}" if lo == hi else f"{lo}–{hi}"
        more = f" {rs[0]['weights_removed']:.0%} | {rs[0]['params_ratio']:.3f} |" if units else ""
        print(f"| {name} | {e or 'whole run'} ({steps}) | {s:.0%} | {len(rs)} | "
              f"{ms(rs, 'valid_bleu')} | {ms(rs, 'bleu')} | {gap:+.2f} | {ms(rs, 'ppl')} | {ms(rs, 'minutes')} |{more}")
