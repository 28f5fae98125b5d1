"""Commands of the decoding stage: translate, evaluate."""
from __future__ import annotations

import json
import sys

from .options import command, decoding_options, show_progress


@command("translate", "translate text (stdin or --input) with a checkpoint")
def _translate(sub):
    sub.add_argument("checkpoint", help="checkpoint, its run directory, or an .nmtz file")
    sub.add_argument("--input", help="file of source sentences (default: stdin)")
    sub.add_argument("--output", help="write here instead of stdout")
    decoding_options(sub)

    def run(a):
        from ..api import translate
        from ..fileio import atomic_write, read_lines
        lines = read_lines(a.input) if a.input else sys.stdin.read().splitlines()
        hyps = translate(a.checkpoint, lines, beam=a.beam, batch_size=a.batch_size, device=a.device, alpha=a.alpha,
                         kernels=a.kernels, workers=a.workers, shortlist=a.shortlist, progress=show_progress(a))
        text = "".join(h + "\n" for h in hyps)
        if a.output:
            atomic_write(a.output, text)
        else:
            sys.stdout.write(text)
    return run


@command("evaluate", "perplexity, BLEU and chrF on a split")
def _evaluate(sub):
    sub.add_argument("checkpoint", help="checkpoint, its run directory, or an .nmtz file")
    sub.add_argument("--split", default="test_2016_flickr", help="split to score")
    sub.add_argument("--data", help="raw data directory or corpus name "
                     "(default: the checkpoint's prepared data)")
    decoding_options(sub)
    sub.add_argument("--out", help="directory for hypotheses and the JSON (default: beside the checkpoint)")
    sub.add_argument("--json", action="store_true", help="print the result as one JSON line")

    def run(a):
        from ..api import evaluate
        r = evaluate(a.checkpoint, split=a.split, data=a.data, beam=a.beam, batch_size=a.batch_size, device=a.device,
                     out_dir=a.out, progress=show_progress(a), alpha=a.alpha, kernels=a.kernels, workers=a.workers,
                     shortlist=a.shortlist)
        if a.json:
            print(json.dumps(r))
        else:
            ppl = "ppl (fp32)" if a.kernels == "bf16" else "ppl"     # bf16 decodes; perplexity stays fp32
            print(f"{a.split}: {ppl} {r['ppl']:.2f}  BLEU {r['bleu']:.2f}  chrF {r['chrf']:.2f}  "
                  f"({r['sentences']} sentences, beam {a.beam})\n{r['signature']}")
    return run
