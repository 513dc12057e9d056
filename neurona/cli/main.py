"""The ``neurona`` command's entry point: the parser made of the commands' modules, and the one error path.

Each command is a module of this package with ``NAME``, ``add_parser(sub)``
(adds its sub-parser to argparse's sub-parsers and returns it) and
``run(args) -> int`` (the exit status). ``COMMANDS`` lists them in the order
``neurona --help`` shows; adding a command is one new module and one entry there.

Whatever the user can cause — a flag, a file, the data, the disk, a signal,
a closed pipe — ends here in one line on stderr,
``neurona <command>: error: <what, where, what to do>``, and a documented
exit status (see ``output.py``); anything else is a bug of ours and keeps
its traceback. ``NEURONA_DEBUG=1`` shows the traceback of user errors too.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings

from . import boundary, compare, distill, evaluate, export, info, lr_find, playground, predict, prune, quantize, train
from .errors import describe
from .output import EXIT_DIVERGED, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Interrupted, loud

__all__ = ["main", "build_parser", "COMMANDS"]

COMMANDS = (train, evaluate, predict, info, export, compare, boundary, lr_find, prune, quantize, distill, playground)


class Parser(argparse.ArgumentParser):
    """argparse, with a bad command line said in one line (and where to read more), by the command it concerns."""

    commands: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        args, extra = self.parse_known_args(args, namespace)
        if extra:  # argparse would blame the top-level parser: "neurona: error: unrecognized arguments"
            self.commands.get(getattr(args, "command", None), self).error(
                f"unrecognized arguments: {' '.join(extra)}")
        return args


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = Parser(prog="neurona", description="Train, evaluate and inspect neural networks built with neurona.",
               epilog="Exit status: 0 done, 1 an error the message explains, 2 a bad command line, 3 training "
                      "diverged (see metrics.json), 128+N stopped by signal N (130: Ctrl-C).")
    p.add_argument("--version", action="version", version=f"neurona {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    p.commands = {}
    for command in COMMANDS:
        parser = command.add_parser(sub)
        parser.set_defaults(run=command.run)
        p.commands[command.NAME] = parser
    return p


# --- signals, pipes, warnings --------------------------------------------------------------------------


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def _signals_as_interrupts():
    """SIGTERM and SIGHUP end the command as Ctrl-C does: files closed, temporary files removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kinds = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    old = {s: signal.signal(s, _raise_interrupted) for s in kinds}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _silence_stdout() -> None:
    """After a closed pipe: send what is left of stdout to /dev/null, so that exiting does not fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _flush_stdout() -> bool:
    """Flush stdout; False when its reader has gone (``neurona info ... | head -1``)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return False
    except (OSError, ValueError):
        pass
    return True


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # neurona's own notices (a substitute data set, ...) are for the user: framed, without a source line
    if category.__module__.startswith("neurona"):
        loud(f"WARNING: {message}")
    else:
        _default_show(message, category, filename, lineno, file, line)


_default_show = warnings.showwarning


def _error(command: str, message: str) -> None:
    where = _rank_label()
    with contextlib.suppress(OSError, ValueError):
        print(f"neurona {command}: error{where}: {message}", file=sys.stderr, flush=True)


def _distributed_world():
    """The process group of ``--distributed`` when it has more than one process, else None."""
    comm = sys.modules.get("neurona.distributed.comm")  # only a distributed run has imported it
    if comm is not None and comm.is_initialized() and comm.get_world_size() > 1:
        return comm
    return None


def _rank_label() -> str:
    comm = _distributed_world()
    return "" if comm is None else f" (rank {comm.get_rank()} of {comm.get_world_size()})"


def _end_other_ranks(status: int) -> None:
    """A rank of a distributed run that ends early takes the others with it, instead of leaving them waiting
    for it in their next collective (the launcher then ends the whole job)."""
    comm = _distributed_world()
    if comm is not None:
        comm.abort(status)


# --- the entry point ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurona`` command: run it with ``argv`` (default ``sys.argv[1:]``), return its status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a bad command line already explained on stderr
        _flush_stdout()
        return e.code if isinstance(e.code, int) else (EXIT_OK if e.code is None else EXIT_USAGE)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    args.argv = argv
    from .. import runtime

    runtime.tune()  # the command tunes its own process; a library user asks for it (neurona.runtime)
    with warnings.catch_warnings(), _signals_as_interrupts():
        warnings.showwarning = _show_warning
        try:
            status = int(args.run(args) or 0)
        except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, SIGHUP
            with contextlib.suppress(OSError, ValueError):
                print(f"\nneurona {args.command}: interrupted", file=sys.stderr, flush=True)
            status = e.exit_status if isinstance(e, Interrupted) else EXIT_INTERRUPTED
            _end_other_ranks(status)
            return status
        except BrokenPipeError:  # the reader of our output has gone: stop quietly, as `head` users expect
            _silence_stdout()
            return EXIT_OK
        except Exception as e:
            message = describe(e)
            if message is None or os.environ.get("NEURONA_DEBUG"):
                raise
            _error(args.command, message)
            _end_other_ranks(EXIT_ERROR)
            return EXIT_ERROR
    _flush_stdout()
    if status not in (EXIT_OK, EXIT_DIVERGED):  # every rank reaches a divergence together; other ends are one's
        _end_other_ranks(status)
    return status
