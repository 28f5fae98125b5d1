"""``nmtprune report STUDYDIR``: figures, tables and the report, from the store and the files the study kept."""
from __future__ import annotations

import base64
import html
import json
import logging
import platform
import shlex
from pathlib import Path

import numpy as np

from ..fileio import atomic_write
from .experiments import EXPERIMENTS


def study_dir_words(command: str | None, study: Path) -> str:
    """The study directory as its command named it (``--out studies/small``), else its name: a
    published report must not carry the absolute path of the machine it ran on."""
    try:
        words = shlex.split(command or "")
    except ValueError:
        words = []
    for i, w in enumerate(words[:-1]):
        if w == "--out":
            return words[i + 1]
    return next((w.split("=", 1)[1] for w in words if w.startswith("--out=")), Path(study).name)
from .figures.common import LABELS
from .results_csv import results_csv
from .store import Store

logger = logging.getLogger(__name__)


def _fmt(vals: list[float], digits: int = 2) -> str:
    if not vals:
        return "–"
    return f"{np.mean(vals):.{digits}f}" + (f" ± {np.std(vals):.{digits}f}" if len(vals) > 1 else "")


def _method(r) -> str:
    if r["kind"] == "scratch":
        return f"sparse from scratch ({r['init']}, re-initialised)"
    if r["kind"] == "rewind":
        return "rewind to original init (lottery ticket)"
    if r["kind"] == "snip_train":
        return f"SNIP training ({r['init']}, {r['snip_batches']} batches)"
    label = LABELS.get((r["criterion"], r["allocation"]), f"{r['criterion']}/{r['allocation']}")
    if r.get("granularity") == "unit":
        label = f"hidden units, {label} (sparsity: share of units)"
    if not r["retrained"]:
        return label
    recipe = r.get("recipe") or r["metrics"].get("recipe")     # the study's retraining is a recipe too
    label += f" + {recipe}" if recipe else " + retrain"
    # an experiment's own retraining (e.g. a larger budget) is a row of its own, not another seed
    return label + (f" ({r['metrics'].get('budget') or r['retraining']})" if r.get("retraining") else "")


def results_table(runs) -> list[list[str]]:
    """Rows: method, sparsity, BLEU, chrF, ppl (mean ± std over seeds), whole-model runs with BLEU.

    One value per seed: the study's retraining and the ``recipes`` run of the same recipe, method
    and sparsity are the same computation (same seed, same settings), so they count once."""
    groups: dict[tuple, dict] = {}
    for r in runs:
        if r["kind"] != "dense" and not r["only_classes"] and "bleu" in r["metrics"]:
            groups.setdefault((_method(r), r["sparsity"]), {})[r["seed"]] = r["metrics"]
    rows = []
    for (m, x), by_seed in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        ms = list(by_seed.values())
        rows.append([m, f"{x:.1%}", _fmt([v["bleu"] for v in ms]), _fmt([v["chrf"] for v in ms]),
                     _fmt([v["ppl"] for v in ms])])
    return rows


def scoring_table(runs) -> tuple[list[str], list[list[str]]]:
    """Per data-driven criterion (whole-model, class-blind runs): the share of weights scored
    exactly 0 in each class (no gradient from the scoring sentences) and the vocabulary coverage."""
    classes: list[str] = []
    groups: dict[str, list[dict]] = {}
    for r in runs:
        if r["kind"] == "prune" and r["criterion"] in ("obd", "snip") and not r["only_classes"]:
            groups.setdefault(r["criterion"], []).append(r["metrics"])
            classes += [c for c in r["metrics"]["classes"] if c not in classes]
    rows = []
    for crit, ms in sorted(groups.items()):
        zero = [_fmt([100 * m["classes"][c]["zero_score_share"] for m in ms
                      if m["classes"].get(c, {}).get("zero_score_share") is not None], 1) for c in classes]
        cov = [m["vocab_coverage"] for m in ms if "vocab_coverage" in m]
        rows.append([crit.upper()] + zero + [_fmt([100 * c["src"] for c in cov], 1),
                                             _fmt([100 * c["tgt"] for c in cov], 1)])
    return ["criterion"] + [f"{c} zero %" for c in classes] + ["src vocab seen %", "tgt vocab seen %"], rows


def _md_table(head, rows) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] +
                     ["| " + " | ".join(r) + " |" for r in rows])


def write_report(study: str | Path) -> Path:
    """Draw every figure of the study's experiments and write report.md and report.html."""
    import sacrebleu
    import torch

    from .. import __version__
    study = Path(study)
    store = Store(study / "study.db", create=False)
    cfg = json.loads(store.get_meta("config") or "{}")
    runs = store.runs(status="done")
    figdir = study / "figures"
    figdir.mkdir(exist_ok=True)
    figs = []
    for name, settings in cfg.get("experiments", {}).items():
        try:
            made = EXPERIMENTS[name].draw(runs, figdir, settings, study)
        except (KeyError, IndexError, ValueError, TypeError) as e:   # missing runs: say so, keep going
            made = None
            logger.warning(f"figure for {name} skipped: {type(e).__name__}: {e}")
        if made:
            figs.append((name, *made))
    dense = [r for r in runs if r["kind"] == "dense"]
    sig = next((r["metrics"].get("signature") for r in runs if r["metrics"].get("signature")), "–")
    stages = json.loads(store.get_meta("stages") or "{}")
    counts = store.counts()
    ev = cfg.get("evaluation", {})
    md = ["# nmtprune pruning study\n",
          f"Reproduce: `{store.get_meta('command') or 'nmtprune study ...'}` "
          f"(rebuild this report: `nmtprune report {study_dir_words(store.get_meta('command'), study)}`)\n",
          f"Data: {cfg.get('src')}→{cfg.get('tgt')}; evaluation on `{ev.get('split')}`, beam {ev.get('beam')}; "
          f"seeds: {store.get_meta('seeds')}; runs done: {counts.get('done', 0)}, failed: {counts.get('failed', 0)}.\n",
          f"Dense baseline: BLEU {_fmt([r['metrics']['bleu'] for r in dense if 'bleu' in r['metrics']])}, "
          f"chrF {_fmt([r['metrics']['chrf'] for r in dense if 'chrf' in r['metrics']])}, "
          f"perplexity {_fmt([r['metrics']['ppl'] for r in dense])}.\n",
          "Perplexity throughout is per target subword piece (EOS included), so it is not comparable with "
          "See et al.'s per-word perplexities.\n",
          f"sacreBLEU signature: `{sig}`\n",
          f"Versions: nmtprune {__version__}, torch {torch.__version__}, sacrebleu {sacrebleu.__version__}, "
          f"Python {platform.python_version()}; device: {platform.processor() or platform.machine()} "
          f"({torch.get_num_threads()} threads).\n",
          "Wall time per stage: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in stages.items()) + "\n",
          "Every finished run, one row each: `results.csv` (beside this report).\n"]
    for name, file, caption in figs:
        md.append(f"## {name.replace('_', ' ').capitalize()}\n\n![{name}](figures/{file})\n\n{caption}\n")
    md.append("## BLEU, chrF and perplexity per method and sparsity\n")
    md.append(f"BLEU: sacreBLEU `{sig}`; perplexity per target subword piece.\n")
    md.append(_md_table(["method", "sparsity", "BLEU", "chrF", "ppl"], results_table(runs)) + "\n")
    head, rows = scoring_table(runs)
    if rows:
        sc = cfg.get("scoring", {})
        md.append("## Scoring data of OBD and SNIP\n\n"
                  f"{sc.get('batches')} batches x {sc.get('batch_size')} training sentences. A weight that gets "
                  "no gradient from them (the embedding row of a token they lack, the PAD row) scores exactly "
                  "0; those go first, smallest |w| first among them (never by position). Share of weights "
                  "scored 0 per class, and share of each vocabulary the sentences contain:\n")
        md.append(_md_table(head, rows) + "\n")
    failed = store.runs(status="failed")
    if failed:
        md.append("## Failed runs\n\n" + "\n".join(f"- `{r['id']}` ({r['experiment']}): "
                                                   f"{(r['error'] or '').splitlines()[0]}" for r in failed) + "\n")
    text = "\n".join(md)
    atomic_write(study / "results.csv", results_csv(runs))
    atomic_write(study / "report.md", text)
    atomic_write(study / "report.html", _html(text, figdir))
    return study / "report.md"


def _html(md: str, figdir: Path) -> str:
    """A self-contained HTML rendering of the markdown (figures embedded as data URIs)."""
    body = []
    table: list[str] = []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
                tag = "th" if not table else "td"
                table.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if table:
            body.append("<table>" + "".join(table) + "</table>")
            table = []
        if line.startswith("!["):
            f = figdir / Path(line.split("(", 1)[1].rstrip(")")).name
            data = base64.b64encode(f.read_bytes()).decode() if f.is_file() else ""
            body.append(f'<img src="data:image/png;base64,{data}" style="max-width:100%">')
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.strip():
            body.append(f"<p>{html.escape(line).replace('`', '')}</p>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>nmtprune study</title><style>{style}</style>" \
           f"</head><body>{''.join(body)}</body></html>\n"
