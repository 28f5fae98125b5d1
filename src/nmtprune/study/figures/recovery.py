"""Recovery recipes: quality against sparsity for each way of reaching it."""
from __future__ import annotations

from ...training.recipes import RECIPES
from . import findings
from .common import curve, line, plt, save, sparsity_panels


def fig_recipes(runs, out, s):
    """BLEU and perplexity vs sparsity per recovery recipe, at the same retraining budget."""
    done = [r for r in runs if r["kind"] == "recipe"]
    if not done:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for name in s["recipes"]:
        line(a, *curve(runs, "bleu", kind="recipe", recipe=name), name)
        line(b, *curve(runs, "ppl", kind="recipe", recipe=name), name)
    sparsity_panels(runs, ((a, "bleu", "BLEU"), (b, "ppl", "perplexity per subword piece (log scale)")))
    b.set_yscale("log")                      # one cut and gradual differ by decades at 90-95%
    fig.suptitle(findings.recipes(runs, s), fontsize=10)
    budget = done[0]["metrics"].get("budget", "the study's retraining budget")
    what = "; ".join(f"{n}: {RECIPES[n].description if n in RECIPES else n}" for n in s["recipes"])
    split = (" iterative splits it evenly over its rounds, rounded down to whole epochs (so it may train "
             "slightly fewer steps)." if "iterative" in s["recipes"] else "")
    return save(fig, out, "fig12_recipes.png"), (
        f"Recovery recipes from the dense baseline, class-blind magnitude pruning, each spending the same "
        f"retraining budget ({budget}; gradual_kd also runs the teacher's forward pass): {what}.{split}")
