"""``nmtprune`` command line: a thin layer over :mod:`nmtprune.api`."""
from __future__ import annotations

import argparse
import json
import sys

from .errors import NmtpruneError

COMMANDS: dict = {}


def command(name: str, help: str):
    def deco(fn):
        COMMANDS[name] = (fn, help)
        return fn
    return deco


def _num(kind):
    def parse(s):
        try:
            return kind(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
    return parse


def _kv(items: list[str] | None, opt: str) -> dict:
    """Parse ``key=value`` overrides (values as YAML scalars: 3, 0.1, true, general)."""
    import yaml
    out = {}
    for item in items or []:
        if "=" not in item:
            raise NmtpruneError(f"{opt} {item!r}: expected key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


@command("prepare", "tokenize a parallel corpus into a prepared directory")
def _prepare(sub):
    sub.add_argument("--data", help="directory of {split}.{lang}[.gz] files")
    sub.add_argument("--split-files", nargs=3, action="append", metavar=("SPLIT", "SRC", "TGT"),
                     help="explicit files for a split (repeatable)")
    sub.add_argument("--src", required=True)
    sub.add_argument("--tgt", required=True)
    sub.add_argument("--out", required=True)
    sub.add_argument("--tokenizer", default="bpe", help="bpe | unigram | word")
    sub.add_argument("--vocab-size", type=_num(int), default=8000)
    sub.add_argument("--joint", action="store_true",
                     help="one tokenizer for both sides (each side's vocabulary: the pieces it uses)")
    sub.add_argument("--shared-vocab", action="store_true",
                     help="with --joint: both sides keep the whole joint vocabulary")
    sub.add_argument("--min-freq", type=_num(int), default=1, help="word level frequency cutoff")
    sub.add_argument("--max-len", type=_num(int), default=100)
    sub.add_argument("--train-split", default="train")
    sub.add_argument("--valid-split", default="val")

    def run(a):
        from .api import prepare
        if a.data is None and not a.split_files:
            raise NmtpruneError("prepare: give --data DIR or --split-files")
        files = {s: (x, y) for s, x, y in (a.split_files or [])}
        prepare(a.out, a.data, a.src, a.tgt, files, tokenizer=a.tokenizer, vocab_size=a.vocab_size,
                joint=a.joint, side_vocab=not a.shared_vocab, min_freq=a.min_freq, max_len=a.max_len,
                train_split=a.train_split, valid_split=a.valid_split, log=lambda m: print(m, file=sys.stderr))
        print(a.out)
    return run


@command("download", "fetch a public corpus (needs network)")
def _download(sub):
    sub.add_argument("corpus", help="multi30k")
    sub.add_argument("--out", required=True)

    def run(a):
        from .download import download
        print(download(a.corpus, a.out))
    return run


def _train_args(sub):
    sub.add_argument("--epochs", type=_num(int))
    sub.add_argument("--lr", type=_num(float))
    sub.add_argument("--batch-tokens", type=_num(int))
    sub.add_argument("--max-minutes", type=_num(float), help="wall-clock budget (0 = none)")
    sub.add_argument("--optimizer", help="adam | sgd")
    sub.add_argument("--seed", type=_num(int))
    sub.add_argument("--save-every", type=_num(int), help="also checkpoint every N steps")
    sub.add_argument("--precision", help="fp32 | bf16 (bfloat16 autocast: faster on CPUs with AVX512-BF16)")
    sub.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="any train setting, e.g. --set label_smoothing=0.1 (repeatable)")
    sub.add_argument("--out", required=True)
    sub.add_argument("--resume", action="store_true")
    sub.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    sub.add_argument("--quiet", action="store_true", help="no progress bars")


def _train_overrides(a) -> dict:
    t = _kv(a.set, "--set")
    for k in ("epochs", "lr", "batch_tokens", "max_minutes", "optimizer", "seed", "save_every", "precision"):
        if getattr(a, k) is not None:
            t[k] = getattr(a, k)
    return t


@command("train", "train a model on a prepared directory")
def _train(sub):
    sub.add_argument("prep", help="prepared directory")
    sub.add_argument("--preset", default="small", help="tiny | small | paper")
    sub.add_argument("--model", action="append", metavar="KEY=VALUE",
                     help="model setting, e.g. --model attention=dot (repeatable)")
    sub.add_argument("--init", help="uniform | xavier_uniform | xavier_normal | kaiming_uniform | "
                                    "kaiming_normal | default")
    sub.add_argument("--mask", help="mask file: sparse training from scratch with this fixed mask")
    sub.add_argument("--snip-sparsity", type=_num(float), help="SNIP-prune at init to this sparsity")
    sub.add_argument("--snip-batches", type=_num(int), default=1)
    sub.add_argument("--snip-batch-size", type=_num(int), default=64)
    _train_args(sub)

    def run(a):
        from .api import train
        snip = None
        if a.snip_sparsity is not None:
            snip = {"sparsity": a.snip_sparsity, "batches": a.snip_batches, "batch_size": a.snip_batch_size}
        summary = train(a.prep, a.out, a.preset, _kv(a.model, "--model"), _train_overrides(a), a.resume,
                        a.device, a.mask, a.init, snip, progress=not a.quiet,
                        log=lambda m: print(m, file=sys.stderr))
        print(json.dumps(summary))
    return run


def _decoding_options(sub) -> None:
    """Options shared by translate and evaluate."""
    sub.add_argument("--beam", type=_num(int), default=5)
    sub.add_argument("--batch-size", type=_num(int), default=64)
    sub.add_argument("--alpha", type=_num(float), default=1.0, help="length normalisation exponent")
    sub.add_argument("--kernels", default="dense",
                     help="dense | sparse | auto (per matrix, measured) | bf16 (bfloat16 products)")
    sub.add_argument("--workers", type=_num(int), default=0,
                     help="decoding processes on CPU, each taking whole batches (default 0: one per core)")
    sub.add_argument("--device", default="cpu")


@command("translate", "translate text (stdin or --input) with a checkpoint")
def _translate(sub):
    sub.add_argument("checkpoint")
    sub.add_argument("--input", help="file of source sentences (default: stdin)")
    sub.add_argument("--output", help="write here instead of stdout")
    _decoding_options(sub)

    def run(a):
        from .api import translate
        from .fileio import atomic_write, read_lines
        lines = read_lines(a.input) if a.input else sys.stdin.read().splitlines()
        hyps = translate(a.checkpoint, lines, a.beam, a.batch_size, a.device, alpha=a.alpha, kernels=a.kernels,
                         workers=a.workers)
        text = "".join(h + "\n" for h in hyps)
        if a.output:
            atomic_write(a.output, text)
        else:
            sys.stdout.write(text)
    return run


@command("evaluate", "perplexity, BLEU and chrF on a split")
def _evaluate(sub):
    sub.add_argument("checkpoint")
    sub.add_argument("--split", default="test_2016_flickr")
    sub.add_argument("--data", help="raw data directory (default: the checkpoint's prepared data)")
    _decoding_options(sub)
    sub.add_argument("--out", help="directory for hypotheses and the JSON (default: beside the checkpoint)")
    sub.add_argument("--json", action="store_true", help="print the result as one JSON line")

    def run(a):
        from .api import evaluate
        r = evaluate(a.checkpoint, a.split, a.data, a.beam, a.batch_size, a.device, a.out,
                     progress=sys.stderr.isatty(), alpha=a.alpha, kernels=a.kernels, workers=a.workers)
        if a.json:
            print(json.dumps(r))
        else:
            print(f"{a.split}: ppl {r['ppl']:.2f}  BLEU {r['bleu']:.2f}  chrF {r['chrf']:.2f}  "
                  f"({r['sentences']} sentences, beam {a.beam})\n{r['signature']}")
    return run


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    # Commands defined in other modules register themselves on import.
    from . import cli_prune  # noqa: F401
    parser = argparse.ArgumentParser(prog="nmtprune", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nmtprune {__version__}")
    subs = parser.add_subparsers(dest="command", required=True)
    for name, (setup, help_) in COMMANDS.items():
        sub = subs.add_parser(name, help=help_)
        sub.set_defaults(run=setup(sub))
    return parser




def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except NmtpruneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
