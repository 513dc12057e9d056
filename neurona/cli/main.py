"""The ``neurona`` command's entry point: the parser made of the commands' modules, and the one error path.

Each command is a module of this package with ``NAME``, ``add_parser(sub)``
(adds its sub-parser to argparse's sub-parsers and returns it) and
``run(args) -> int`` (the exit status). ``COMMANDS`` lists them in the order
``neurona --help`` shows; adding a command is one new module and one entry there.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from . import boundary, compare, distill, evaluate, info, lr_find, playground, predict, prune, quantize, train
from .output import EXIT_ERROR, EXIT_INTERRUPTED, CLIError, loud

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS = (train, evaluate, predict, info, compare, boundary, lr_find, prune, quantize, distill, playground)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = argparse.ArgumentParser(prog="neurona", description="Train, evaluate and inspect neural networks "
                                                            "built with neurona.")
    p.add_argument("--version", action="version", version=f"neurona {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub).set_defaults(run=command.run)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # neurona's own notices (a substitute data set, ...) are for the user: framed, without a source line
    if category.__module__.startswith("neurona"):
        loud(f"WARNING: {message}")
    else:
        _default_show(message, category, filename, lineno, file, line)


_default_show = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurona`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from ..data import DataError, DatasetNotFoundError
    from ..io import ModelFileError
    from ..models.registry import UnknownModelError

    expected = (CLIError, ModelFileError, DataError, DatasetNotFoundError, UnknownModelError, FileNotFoundError,
                ValueError, KeyError, ImportError)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return int(args.run(args) or 0)
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except expected as e:
            if os.environ.get("NEURONA_DEBUG"):
                raise
            msg = e.args[0] if isinstance(e, KeyError) and e.args else e
            print(f"neurona {args.command}: error: {msg}", file=sys.stderr)
            return EXIT_ERROR
