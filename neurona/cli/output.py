"""What the command says: results on stdout, notices and errors on stderr, and its exit statuses."""
from __future__ import annotations

import sys

__all__ = ["CLIError", "Interrupted", "say", "loud", "plots_skipped", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE",
           "EXIT_DIVERGED", "EXIT_INTERRUPTED"]

EXIT_OK = 0             # done
EXIT_ERROR = 1          # something the user can fix: a file, a flag, the data, the disk
EXIT_USAGE = 2          # the command line itself could not be parsed
EXIT_DIVERGED = 3       # training diverged (NaN, or a loss 1000x its start); metrics.json says "diverged": true
EXIT_INTERRUPTED = 130  # Ctrl-C; another signal N gives 128 + N


class CLIError(Exception):
    """A problem the user can fix, printed as ``neurona <command>: error: <message>`` with exit status 1."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the command is so that it stops as cleanly as after Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + int(self.signum)


def say(message: str, quiet: bool = False, err: bool = False) -> None:
    """Print a line: to stderr with ``err`` (always), else to stdout unless ``quiet``."""
    if err:
        print(message, file=sys.stderr, flush=True)
    elif not quiet:
        print(message, flush=True)


def loud(message: str) -> None:
    """A warning nobody should miss (e.g. training on a small substitute data set), framed, on stderr."""
    bar = "!" * 78
    print(f"{bar}\n{message}\n{bar}", file=sys.stderr, flush=True)


def plots_skipped(why: str, quiet: bool = False) -> None:
    say(f"plots skipped: {why}", quiet, err=True)
