"""``nmtprune`` command line: a thin layer over :mod:`nmtprune.api`."""
# One module per command group. Each command registers itself in options.COMMANDS
# on import, so the import order below is the order ``nmtprune --help`` lists them.
from __future__ import annotations

import argparse
import sys

from ..errors import NmtpruneError
from . import prepare, train, decode, prune, study, export  # noqa: F401,I001  (registration order)
from .console import log_to_console
from .options import COMMANDS, HelpFormatter


def build_parser(*, only: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``nmtprune`` parser; with ``only``, just those commands get their options.

    A command's options take their ``choices`` from the registries, and most registries
    import torch: building only the command being run keeps ``nmtprune --help`` (and
    a command's errors) fast.
    """
    from .. import __version__
    parser = argparse.ArgumentParser(prog="nmtprune", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"nmtprune {__version__}")
    subs = parser.add_subparsers(dest="command", required=True)
    for name, (setup, help_) in COMMANDS.items():
        sub = subs.add_parser(name, help=help_, description=help_, formatter_class=HelpFormatter)
        if only is None or name in only:
            sub.set_defaults(run=setup(sub))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The top level has no option taking a value: the first other word names the command.
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        args = build_parser(only=[command] if command else []).parse_args(argv)
        log_to_console()
        # The command line is an application and opts in to process-level settings; the library
        # (``import nmtprune``, API calls) leaves the process alone.
        from ..runtime import tune_allocator
        tune_allocator()
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
