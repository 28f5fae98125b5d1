"""What the commands share: the command registry, the help layout, registry names as
``choices``, number parsing, ``key=value`` overrides, progress bars, and the option
groups of training and decoding."""
from __future__ import annotations

import argparse
import sys

from ..errors import NmtpruneError

COMMANDS: dict = {}
# --config of train and retrain ({keys}: training.rundir.RUN_KEYS of the command).
CONFIG_HELP = ("the run's settings: a YAML file with the keys of a run directory's config.json ({keys}), "
               "or that file (or its run directory) to replay the run; options given here override it")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each option's default after its help, where it has one to show
    (not ``None``: a setting taken from the preset or the checkpoint; not an unset flag)."""

    def _get_help_string(self, action) -> str:
        text = action.help or ""
        if (action.default is None or action.default is False or action.default is argparse.SUPPRESS
                or not action.option_strings or "%(default)" in text):
            return text
        return f"{text} (default: %(default)s)"


class Names(tuple):
    """A registry's names as argparse ``choices``: ``--help`` lists them, and a name outside
    them is the one-line ``unknown KIND 'x'; valid: ...`` error the library raises too
    (argparse's own message would come with two lines of usage).

    ``dashes``: shown with ``-`` for ``_`` (``class-blind``), and either spelling is accepted.
    """

    def __new__(cls, kind: str, names, dashes: bool = False) -> "Names":
        self = super().__new__(cls, [n.replace("_", "-") if dashes else n for n in names])
        self.kind, self.dashes = kind, dashes
        return self

    def __contains__(self, value) -> bool:
        key = value.replace("_", "-") if self.dashes and isinstance(value, str) else value
        if not tuple.__contains__(self, key):
            raise NmtpruneError(f"unknown {self.kind} {value!r}; valid: {', '.join(self)}")
        return True


def quiet(sub) -> None:
    """``--quiet``: no progress bars (see :func:`show_progress`)."""
    sub.add_argument("--quiet", action="store_true", help="no progress bars (none either when stderr is not a terminal)")


def show_progress(a) -> bool:
    """Progress bars: unless ``--quiet``, and only on a terminal (a captured or redirected
    stderr gets the log lines, never bar redraws)."""
    return not a.quiet and sys.stderr.isatty()


def command(name: str, help: str):
    """Register ``fn(subparser) -> run(args)`` as command ``name``."""
    def deco(fn):
        COMMANDS[name] = (fn, help)
        return fn
    return deco


def number(kind):
    """An argparse type: ``kind(s)``, with a clear message when ``s`` is not a number."""
    def parse(s):
        try:
            return kind(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
    return parse


def sparsity(option: str, *, above_zero: bool = False):
    """An argparse type for a sparsity option: the one range rule
    (:func:`nmtprune.prune.pruning.check_sparsity`), and its one-line error naming ``option``
    (raised past argparse, which would add its usage lines)."""
    def parse(s):
        from ..prune.pruning import check_sparsity
        return check_sparsity(s, option=option, above_zero=above_zero)
    return parse


def key_values(items: list[str] | None, opt: str) -> dict:
    """Parse ``key=value`` overrides (values as YAML scalars: 3, 0.1, 1e-4, true, general)."""
    from ..config import load_yaml
    out = {}
    for item in items or []:
        if "=" not in item:
            raise NmtpruneError(f"{opt} {item!r}: expected key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = load_yaml(v)
    return out


def train_args(sub, *, source: str = "the preset's", epochs: str | None = None):
    """Options shared by train, retrain and iterate; ``source`` says where an unset one comes from."""
    from ..training.config import OPTIMIZERS, PRECISIONS
    sub.add_argument("--epochs", type=number(int), help=f"epochs (default: {epochs or source})")
    sub.add_argument("--lr", type=number(float), help=f"learning rate (default: {source})")
    sub.add_argument("--batch-tokens", type=number(int), help=f"target tokens per batch (default: {source})")
    sub.add_argument("--max-minutes", type=number(float), help=f"wall-clock budget, 0 = none (default: {source})")
    sub.add_argument("--optimizer", choices=Names("optimizer", OPTIMIZERS), help=f"default: {source}")
    sub.add_argument("--seed", type=number(int), help=f"weights, batch order, dropout (default: {source})")
    sub.add_argument("--save-every", type=number(int), help="also checkpoint every N steps")
    sub.add_argument("--precision", choices=Names("precision", PRECISIONS),
                     help=f"bf16: bfloat16 autocast, faster on CPUs with AVX512-BF16 or AMX; auto: bf16 where the "
                          f"device runs it natively, else fp32 (the run records which) (default: {source})")
    sub.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="any train setting, e.g. --set label_smoothing=0.1 (repeatable)")
    sub.add_argument("--out", required=True, help="run directory")
    sub.add_argument("--resume", action="store_true", help="continue the run in --out (same settings)")
    sub.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    quiet(sub)
    sub.add_argument("--tensorboard", action="store_true",
                     help="also write TensorBoard curves (loss, perplexity, learning rate, sparsity per step; "
                          "validation perplexity per epoch) into <run dir>/tensorboard/ (needs the "
                          "tensorboard extra: pip install 'nmtprune[tensorboard]')")


def train_overrides(a) -> dict:
    t = key_values(a.set, "--set")
    for k in ("epochs", "lr", "batch_tokens", "max_minutes", "optimizer", "seed", "save_every", "precision"):
        if getattr(a, k) is not None:
            t[k] = getattr(a, k)
    return t


def decoding_options(sub) -> None:
    """Options shared by translate and evaluate."""
    from ..decode.kernels import KERNELS
    sub.add_argument("--beam", type=number(int), default=5, help="beam size (1 = greedy)")
    sub.add_argument("--batch-size", type=number(int), default=64, help="sentences per decoding batch")
    sub.add_argument("--alpha", type=number(float), default=1.0, help="length normalisation exponent")
    sub.add_argument("--kernels", default="dense", choices=Names("kernels", KERNELS),
                     help="dense (fp32, as trained), auto (the fastest of dense, sparse CSR and bf16 per "
                     "matrix, measured at load), or that kernel for every matrix: sparse, bf16, int8")
    sub.add_argument("--shortlist", action="store_true",
                     help="score only each batch's likely target words (learnt from the model's "
                     "prepared training data): faster, can change translations")
    sub.add_argument("--workers", type=number(int), default=0,
                     help="decoding processes on CPU, each taking whole batches (0: one per core)")
    sub.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    quiet(sub)
