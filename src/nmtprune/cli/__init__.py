"""``nmtprune`` command line: a thin layer over :mod:`nmtprune.api`."""
# One module per command group. Each command registers itself in options.COMMANDS
# on import, so the import order below is the order ``nmtprune --help`` lists them.
from __future__ import annotations

import argparse
import sys

from ..errors import NmtpruneError
from . import prepare, train, decode, prune, study, export  # noqa: F401,I001  (registration order)
from .console import log_to_console
from .options import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
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
    log_to_console()
    # The command line is an application and opts in to process-level settings; the library
    # (``import nmtprune``, API calls) leaves the process alone.
    from ..runtime import tune_allocator
    tune_allocator()
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
