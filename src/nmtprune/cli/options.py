"""What the commands share: the command registry, number parsing, ``key=value``
overrides, and the option groups of training and decoding."""
from __future__ import annotations

import argparse

from ..errors import NmtpruneError

COMMANDS: dict = {}


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


def key_values(items: list[str] | None, opt: str) -> dict:
    """Parse ``key=value`` overrides (values as YAML scalars: 3, 0.1, true, general)."""
    import yaml
    out = {}
    for item in items or []:
        if "=" not in item:
            raise NmtpruneError(f"{opt} {item!r}: expected key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def train_args(sub):
    """Options shared by train and retrain."""
    sub.add_argument("--epochs", type=number(int))
    sub.add_argument("--lr", type=number(float))
    sub.add_argument("--batch-tokens", type=number(int))
    sub.add_argument("--max-minutes", type=number(float), help="wall-clock budget (0 = none)")
    sub.add_argument("--optimizer", help="adam | sgd")
    sub.add_argument("--seed", type=number(int))
    sub.add_argument("--save-every", type=number(int), help="also checkpoint every N steps")
    sub.add_argument("--precision", help="fp32 | bf16 (bfloat16 autocast: faster on CPUs with AVX512-BF16)")
    sub.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="any train setting, e.g. --set label_smoothing=0.1 (repeatable)")
    sub.add_argument("--out", required=True)
    sub.add_argument("--resume", action="store_true")
    sub.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    sub.add_argument("--quiet", action="store_true", help="no progress bars")


def train_overrides(a) -> dict:
    t = key_values(a.set, "--set")
    for k in ("epochs", "lr", "batch_tokens", "max_minutes", "optimizer", "seed", "save_every", "precision"):
        if getattr(a, k) is not None:
            t[k] = getattr(a, k)
    return t


def decoding_options(sub) -> None:
    """Options shared by translate and evaluate."""
    sub.add_argument("--beam", type=number(int), default=5)
    sub.add_argument("--batch-size", type=number(int), default=64)
    sub.add_argument("--alpha", type=number(float), default=1.0, help="length normalisation exponent")
    sub.add_argument("--kernels", default="dense",
                     help="dense | sparse | auto (per matrix, measured) | bf16 (bfloat16 products)")
    sub.add_argument("--workers", type=number(int), default=0,
                     help="decoding processes on CPU, each taking whole batches (default 0: one per core)")
    sub.add_argument("--device", default="cpu")
